/**
 * The images Tether builds without a Docker daemon: their references, layers (layers.ts) and config.
 * `tether` is the image the chart installs (the Dockerfile's, made here from the host's Node);
 * `pause` is a node's pod sandbox; `intake-app` is the instrumented app of the intake tests, for
 * injected pods on a real node; `node-app`, `python-app` and `java-app` are HTTP servers on their
 * runtime alone, with no tracer, which only library injection traces. The library init images are made
 * by libInit.ts, one per library version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER_IMAGE_REPOSITORY } from '../../config/index.js';
import { JAVA_PATH, javaAppLayer, javaRuntimeLayer } from './javaApp.js';
import type { LayerPlan } from './layerPlan.js';
import { APP_DIR, baseLayer, intakeAppLayer, nodeAppLayer, NODE_PATH, NONROOT_UID, nodeRuntimeLayer, packagesLayer, pauseLayer, PYTHON_PATH, pythonAppLayer, pythonRuntimeLayer, tetherAppLayer } from './layers.js';

export const IMAGE_NAMES = ['tether', 'pause', 'intake-app', 'node-app', 'python-app', 'java-app'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export function isImageName(s: string): s is ImageName {
  return (IMAGE_NAMES as readonly string[]).includes(s);
}

/** The runtime config of an image, as `crane mutate` sets it. */
export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  /** `UID:GID`, numeric: the kubelet can check runAsNonRoot only against a numeric user. */
  readonly user: string;
  readonly workdir?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly exposedPorts?: readonly string[];
}

export interface ImageSpec {
  /** The catalogue's name, or another image's (`dd-lib-js-init-5.132.0`): its directory in the cache. */
  readonly name: string;
  /** The reference the archive names the image by (what the chart, the kubelet and `ctr` use). */
  readonly ref: string;
  readonly config: ImageConfig;
  /** Bottom first. `workDir` is for intermediate files (the compiled pause program). */
  layers(workDir: string): Promise<LayerPlan[]>;
}

/** distroless's PATH: where `agent` and `tether` are found by `kubectl exec`. */
export const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NONROOT_USER = `${NONROOT_UID}:${NONROOT_UID}`;
/** The kubelet runs its pause image as 65535 (registry.k8s.io/pause's user). */
const PAUSE_USER = '65535:65535';
/** The port the intake app serves HTTP on. */
export const INTAKE_APP_PORT = 8080;

/** Tether's package version: the tag of its image, and the chart's appVersion (a test checks that). */
export function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** `ghcr.io/tether/tether:<version>`: the image the chart installs by default. */
export function tetherImageRef(root: string): string {
  return `${TETHER_IMAGE_REPOSITORY}:${packageVersion(root)}`;
}

export const PAUSE_IMAGE_REF = 'tether.local/pause:1';
export const INTAKE_APP_IMAGE_REF = 'tether.local/intake-app:1';
export const NODE_APP_IMAGE_REF = 'tether.local/node-app:1';
export const PYTHON_APP_IMAGE_REF = 'tether.local/python-app:1';
export const JAVA_APP_IMAGE_REF = 'tether.local/java-app:1';
/** The port the uninstrumented apps of the library injection tests (node-app, python-app, java-app) serve HTTP on. */
export const LIB_APP_PORT = 8080;

/** An app of the library injection tests: an HTTP server on LIB_APP_PORT, run as nonroot, with no tracer. */
function untracedApp(name: ImageName, ref: string, entrypoint: readonly string[], layers: ImageSpec['layers']): ImageSpec {
  return {
    name,
    ref,
    config: {
      entrypoint,
      user: NONROOT_USER,
      workdir: APP_DIR,
      env: { PATH: PATH_ENV, APP_HTTP_PORT: String(LIB_APP_PORT) },
      labels: { 'org.opencontainers.image.title': name },
      exposedPorts: [`${LIB_APP_PORT}/tcp`],
    },
    layers,
  };
}

/** The catalogue, for the package at `root` (its build, lockfile and node_modules). */
export function imageSpec(name: ImageName, root: string): ImageSpec {
  switch (name) {
    case 'tether': {
      const version = packageVersion(root);
      return {
        name,
        ref: tetherImageRef(root),
        config: {
          entrypoint: [NODE_PATH, `${APP_DIR}/dist/src/cli/main.js`],
          user: NONROOT_USER,
          workdir: APP_DIR,
          env: { PATH: PATH_ENV, NODE_ENV: 'production' },
          labels: {
            'org.opencontainers.image.title': 'tether',
            'org.opencontainers.image.version': version,
            'org.opencontainers.image.licenses': 'Apache-2.0',
          },
        },
        layers: async () => [
          baseLayer(),
          await nodeRuntimeLayer(),
          packagesLayer('node-modules', { root, roots: [{ name: '', optional: true }], into: APP_DIR }),
          tetherAppLayer(root),
        ],
      };
    }
    case 'pause':
      return {
        name,
        ref: PAUSE_IMAGE_REF,
        config: { entrypoint: ['/pause'], user: PAUSE_USER, env: {}, labels: { 'org.opencontainers.image.title': 'pause' } },
        layers: async (workDir) => [await pauseLayer(root, workDir)],
      };
    case 'intake-app':
      return {
        name,
        ref: INTAKE_APP_IMAGE_REF,
        config: {
          entrypoint: [NODE_PATH, `${APP_DIR}/app.cjs`],
          user: NONROOT_USER,
          workdir: APP_DIR,
          env: { PATH: PATH_ENV, APP_HTTP_PORT: String(INTAKE_APP_PORT) },
          labels: { 'org.opencontainers.image.title': 'intake-app' },
          exposedPorts: [`${INTAKE_APP_PORT}/tcp`],
        },
        layers: async () => [
          baseLayer(),
          await nodeRuntimeLayer(),
          // hot-shots with its optional unix-dgram (DogStatsD over a Unix socket); dd-trace without its
          // optional native extras (profiler, AppSec...), which the app does not use.
          packagesLayer('node-modules', {
            root,
            roots: [
              { name: 'dd-trace', optional: false },
              { name: 'hot-shots', optional: true },
            ],
            into: APP_DIR,
          }),
          intakeAppLayer(root),
        ],
      };
    // The runtime and the app: no node_modules, no packages, no tracer.
    case 'node-app':
      return untracedApp(name, NODE_APP_IMAGE_REF, [NODE_PATH, `${APP_DIR}/server.cjs`], async () => [baseLayer(), await nodeRuntimeLayer(), nodeAppLayer(root)]);
    case 'python-app':
      // -u: its startup line reaches the log at once.
      return untracedApp(name, PYTHON_APP_IMAGE_REF, [PYTHON_PATH, '-u', `${APP_DIR}/server.py`], async () => [baseLayer(), await pythonRuntimeLayer(), pythonAppLayer(root)]);
    case 'java-app':
      return untracedApp(name, JAVA_APP_IMAGE_REF, [JAVA_PATH, '-cp', APP_DIR, 'Server'], async (workDir) => [baseLayer(), await javaRuntimeLayer(), await javaAppLayer(root, workDir)]);
  }
}
