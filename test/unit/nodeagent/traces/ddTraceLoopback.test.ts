/**
 * The real `dd-trace` npm tracer, in a child process started with exactly the environment Tether's
 * webhooks inject into a pod (from `tether inject` of a labelled pod manifest, the downward API's
 * fields resolved as the kubelet would: `status.hostIP` → 127.0.0.1, `metadata.uid` → the pod's UID),
 * sends its spans to the trace receiver over TCP (hostip mode) and over the Unix socket (socket mode).
 *
 * What reaches the receiver as origin is what dd-trace sends: its container id or cgroup inode, read
 * from /proc/self/cgroup (dd-trace 5 no longer reads DD_ENTITY_ID); with DD_EXTERNAL_ENV set (as the
 * stack's newer admission controller injects it), the pod UID as well.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { injectDocuments } from '../../../../src/inject/documents.js';
import type { TracePayload } from '../../../../src/nodeagent/intake/types.js';
import { testConfig } from '../../../helpers/config.js';
import { startTestReceiver, type TestReceiver } from '../../../helpers/traceReceiver.js';

const require = createRequire(import.meta.url);
const POD_UID = '5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: billing
  namespace: shop
  labels:
    admission.datadoghq.com/enabled: "true"
    tags.datadoghq.com/env: prod
    tags.datadoghq.com/service: billing
    tags.datadoghq.com/version: "1.4.2"
spec:
  containers:
    - name: app
      image: node:20
`;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

/** The app container's environment after injection, with the downward API resolved as the kubelet does. */
function injectedEnv(mode: 'hostip' | 'socket', traceSocket?: string): Record<string, string> {
  const config = testConfig({
    'admission_controller.inject_config.mode': mode,
    ...(traceSocket ? { 'admission_controller.inject_config.trace_agent_socket': `unix://${traceSocket}` } : {}),
  });
  const out = injectDocuments(POD, { config, namespace: 'shop', tetherNamespace: 'datadog' });
  const pod = parseAllDocuments(out.output)[0]!.toJS() as { spec: { containers: { env: EnvVar[] }[] } };
  const fields: Record<string, string> = { 'status.hostIP': '127.0.0.1', 'metadata.uid': POD_UID };
  const env: Record<string, string> = {};
  for (const v of pod.spec.containers[0]!.env) {
    const path = v.valueFrom?.fieldRef?.fieldPath;
    const value = v.value ?? (path ? fields[path] : undefined);
    assert.ok(value !== undefined, `cannot resolve injected variable ${v.name}`);
    env[v.name] = value;
  }
  return env;
}

const CHILD = `
const tracer = require(process.argv[2]).init();
const docker = require(process.argv[3]);
process.stdout.write(JSON.stringify({ containerId: docker.containerId || null, entityId: docker.entityId || null }) + '\\n');
setInterval(() => tracer.trace('loopback.op', { resource: 'GET /loopback' }, () => {}), 100);
`;

interface Sender {
  child: ChildProcess;
  /** What dd-trace found in its cgroup (what it sends as Datadog-Container-ID / Datadog-Entity-ID). */
  cgroup: { containerId: string | null; entityId: string | null };
}

async function startApp(dir: string, env: Record<string, string>): Promise<Sender> {
  const script = join(dir, 'app.cjs');
  await writeFile(script, CHILD);
  const ddTrace = require.resolve('dd-trace');
  const docker = require.resolve('dd-trace/packages/dd-trace/src/exporters/common/docker.js');
  const child = spawn(process.execPath, [script, ddTrace, docker], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, cgroup: JSON.parse(line.toString('utf8').split('\n')[0]!) as Sender['cgroup'] };
}

async function stopApp(s: Sender | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGKILL');
  await once(s.child, 'exit');
}

const fromApp = (p: TracePayload) => p.traces.some((t) => t.some((s) => s.name === 'loopback.op'));

function expectedOrigin(c: Sender['cgroup']): object {
  if (c.containerId) return { containerId: c.containerId };
  if (c.entityId?.startsWith('in-')) return { cgroupInode: c.entityId.slice(3) };
  return {};
}

function assertUnifiedTags(p: TracePayload): void {
  const span = p.traces.flat().find((s) => s.name === 'loopback.op')!;
  assert.equal(span.service, 'billing');
  assert.equal(span.resource, 'GET /loopback');
  assert.equal(span.meta['env'], 'prod');
  assert.equal(span.meta['version'], '1.4.2');
  assert.ok(span.traceId > 0n && span.spanId > 0n);
  assert.ok(span.start > 1_600_000_000_000_000_000n, 'start is epoch nanoseconds');
  assert.equal(p.lang, 'nodejs');
}

describe('the real dd-trace tracer with the env the webhook injects', () => {
  let r: TestReceiver;
  let app: Sender | undefined;
  before(async () => {
    r = await startTestReceiver();
  });
  after(async () => {
    await stopApp(app);
    await r.stop();
  });

  test('hostip mode: DD_AGENT_HOST=<host IP>, over TCP', async () => {
    const env = injectedEnv('hostip');
    assert.equal(env['DD_AGENT_HOST'], '127.0.0.1');
    assert.equal(env['DD_ENTITY_ID'], POD_UID);
    assert.equal(env['DD_SERVICE'], 'billing');
    const got = r.next(fromApp);
    // The webhook does not set a port (the agent's is 8126); the test's receiver listens on a free one.
    app = await startApp(r.dir.path, { ...env, DD_TRACE_AGENT_PORT: String(r.port) });
    const p = await got;
    assertUnifiedTags(p);
    assert.deepEqual(p.origin, expectedOrigin(app.cgroup));
    await stopApp(app);
  });

  test('socket mode: DD_TRACE_AGENT_URL=unix://…/apm.socket', async () => {
    const env = injectedEnv('socket', r.socket);
    assert.equal(env['DD_TRACE_AGENT_URL'], `unix://${r.socket}`);
    assert.equal(env['DD_AGENT_HOST'], undefined);
    const got = r.next(fromApp);
    app = await startApp(r.dir.path, env);
    const p = await got;
    assertUnifiedTags(p);
    assert.deepEqual(p.origin, expectedOrigin(app.cgroup));
    await stopApp(app);
  });

  test('with DD_EXTERNAL_ENV carrying the pod UID, the payload names its pod', async () => {
    const env = injectedEnv('hostip');
    const got = r.next(fromApp);
    app = await startApp(r.dir.path, { ...env, DD_TRACE_AGENT_PORT: String(r.port), DD_EXTERNAL_ENV: `it-false,cn-app,pu-${POD_UID}` });
    const p = await got;
    assert.equal(p.origin.entityId, POD_UID);
    await stopApp(app);
  });
});

describe('priority sampling with the real dd-trace: the rates the receiver answers are applied', () => {
  let r: TestReceiver;
  let app: Sender | undefined;
  before(async () => {
    // What the sampler answers for a service far over its target (prioritySampler.test covers the computation).
    r = await startTestReceiver({ rates: () => JSON.stringify({ rate_by_service: { 'service:,env:': 1, 'service:billing,env:prod': 0.000001 } }) });
  });
  after(async () => {
    await stopApp(app);
    await r.stop();
  });

  test('after the first answer, its new traces carry the agent rate and are mostly dropped (priority 0) at the source', { timeout: 30_000 }, async () => {
    const env = injectedEnv('hostip');
    const first = r.next(fromApp);
    app = await startApp(r.dir.path, { ...env, DD_TRACE_AGENT_PORT: String(r.port), DD_TRACE_FLUSH_INTERVAL: '200' });
    await first;
    const rejected = await r.next((p) =>
      p.traces.some((t) => t.some((s) => s.name === 'loopback.op' && s.metrics['_sampling_priority_v1'] === 0 && s.metrics['_dd.agent_psr'] === 0.000001)),
    );
    assert.ok(rejected.traces.length > 0);
    await stopApp(app);
  });
});
