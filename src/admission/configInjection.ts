/** The config webhook (`/injectconfig`): how the pod's tracers and DogStatsD clients reach the node agent (SPEC §5). */
import {
  CONFIG_MODE_LABEL,
  DOGSTATSD_SOCKET_VOLUME,
  ENV_AGENT_HOST,
  ENV_DOGSTATSD_URL,
  ENV_ENTITY_ID,
  ENV_EXTERNAL_ENV,
  ENV_INTERNAL_POD_UID,
  ENV_TRACE_AGENT_URL,
  INJECTION_MODES,
  SOCKET_DIR_VOLUME,
  TRACE_SOCKET_VOLUME,
  type InjectionMode,
  type TetherConfig,
} from '../config/index.js';
import { injectEnvEverywhere } from './envInjection.js';
import { isLibInitContainer } from './libInjection.js';
import type { EnvVar, Pod } from './pod.js';
import { PodPatchBuilder } from './podPatch.js';
import type { Decision, MutationContext, MutationResult } from './types.js';

const fieldRef = (fieldPath: string) => ({ fieldRef: { apiVersion: 'v1', fieldPath } });

/** The mode for this pod: its label when valid, else the configured one. */
export function configMode(pod: Pod, config: TetherConfig): { mode: InjectionMode; warning?: string } {
  const label = pod.metadata?.labels?.[CONFIG_MODE_LABEL];
  const configured = config['admission_controller.inject_config.mode'];
  if (label === undefined) return { mode: configured };
  const mode = INJECTION_MODES.find((m) => m === label);
  if (mode) return { mode };
  return {
    mode: configured,
    warning: `label ${CONFIG_MODE_LABEL}=${JSON.stringify(label)} is not one of ${INJECTION_MODES.join(', ')}; using ${configured}`,
  };
}

/** `unix:///var/run/datadog/apm.socket` → `/var/run/datadog/apm.socket`. */
export function socketPath(url: string): string {
  return url.replace(/^unix:\/\//, '');
}

function modeVars(mode: InjectionMode, ctx: MutationContext): EnvVar[] {
  const c = ctx.config;
  switch (mode) {
    case 'hostip':
      return [{ name: ENV_AGENT_HOST, valueFrom: fieldRef('status.hostIP') }];
    case 'service':
      return [{ name: ENV_AGENT_HOST, value: `${c['admission_controller.inject_config.local_service_name']}.${ctx.tetherNamespace}.svc.cluster.local` }];
    case 'socket':
      return [
        { name: ENV_TRACE_AGENT_URL, value: c['admission_controller.inject_config.trace_agent_socket'] },
        { name: ENV_DOGSTATSD_URL, value: c['admission_controller.inject_config.dogstatsd_socket'] },
      ];
  }
}

/** Socket mode's hostPath volumes: one directory, or (type_socket_volumes) one Socket per socket file. */
function socketVolumes(config: TetherConfig): { name: string; path: string; type: 'DirectoryOrCreate' | 'Socket' }[] {
  if (!config['admission_controller.inject_config.type_socket_volumes']) {
    return [{ name: SOCKET_DIR_VOLUME, path: config['admission_controller.inject_config.socket_path'], type: 'DirectoryOrCreate' }];
  }
  return [
    { name: TRACE_SOCKET_VOLUME, path: socketPath(config['admission_controller.inject_config.trace_agent_socket']), type: 'Socket' },
    { name: DOGSTATSD_SOCKET_VOLUME, path: socketPath(config['admission_controller.inject_config.dogstatsd_socket']), type: 'Socket' },
  ];
}

/** `DD_EXTERNAL_ENV` of one container, as the stack writes it (it references the pod UID variable before it). */
export function externalEnvValue(containerName: string, init: boolean): string {
  return `it-${init},cn-${containerName},pu-$(${ENV_INTERNAL_POD_UID})`;
}

/**
 * Each container's `DD_EXTERNAL_ENV`, after the `DD_INTERNAL_POD_UID` it references. Not added where the
 * container sets `DD_INTERNAL_POD_UID` itself: its variable comes after the front of `env`, so the
 * reference would not resolve and the header would carry a literal `$(DD_INTERNAL_POD_UID)`.
 */
function injectExternalEnv(b: PodPatchBuilder, decisions: Decision[]): void {
  for (const list of ['containers', 'initContainers'] as const) {
    b.containers(list).forEach((c, i) => {
      if (isLibInitContainer(c)) return;
      const what = `env var ${ENV_EXTERNAL_ENV}`;
      if (b.env(list, i, ENV_EXTERNAL_ENV)) {
        decisions.push({ webhook: 'config', outcome: 'skipped', what, container: c.name, detail: 'already set by the pod' });
      } else if ((b.env(list, i, ENV_INTERNAL_POD_UID)?.index ?? -1) >= 0) {
        decisions.push({ webhook: 'config', outcome: 'skipped', what, container: c.name, detail: `the pod sets ${ENV_INTERNAL_POD_UID} itself, after the variables Tether adds` });
      } else {
        b.prependEnv(list, i, { name: ENV_EXTERNAL_ENV, value: externalEnvValue(c.name, list === 'initContainers') });
        decisions.push({ webhook: 'config', outcome: 'injected', what, container: c.name });
      }
    });
  }
}

export function injectConfig(pod: Pod, ctx: MutationContext): MutationResult {
  const decisions: Decision[] = [];
  const b = new PodPatchBuilder(pod);
  const { mode, warning } = configMode(pod, ctx.config);
  if (warning) decisions.push({ webhook: 'config', outcome: 'skipped', what: `label ${CONFIG_MODE_LABEL}`, detail: warning, warning: true });

  const podUid = fieldRef('metadata.uid');
  injectEnvEverywhere(b, [...modeVars(mode, ctx), { name: ENV_ENTITY_ID, valueFrom: podUid }, { name: ENV_INTERNAL_POD_UID, valueFrom: podUid }], 'config', decisions);
  injectExternalEnv(b, decisions);

  if (mode === 'socket') {
    for (const v of socketVolumes(ctx.config)) {
      if (b.hasVolume(v.name)) {
        decisions.push({ webhook: 'config', outcome: 'skipped', what: `volume ${v.name}`, detail: 'the pod already has a volume of that name' });
      } else {
        b.addVolume({ name: v.name, hostPath: { path: v.path, type: v.type } });
        decisions.push({ webhook: 'config', outcome: 'injected', what: `volume ${v.name}`, detail: `hostPath ${v.path} (${v.type})` });
      }
      for (const list of ['containers', 'initContainers'] as const) {
        b.containers(list).forEach((c, i) => {
          if (isLibInitContainer(c) || b.mounts(list, i, v.name, v.path)) return;
          b.addMount(list, i, { name: v.name, mountPath: v.path, readOnly: true });
          decisions.push({ webhook: 'config', outcome: 'injected', what: `volume mount ${v.name} at ${v.path}`, container: c.name });
        });
      }
    }
  }
  return { patch: b.ops(), decisions };
}
