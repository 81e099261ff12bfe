/**
 * Attested origins over the real Unix sockets, with real processes (issue 19, item 3): a child process
 * put in a cgroup named like a pod's container (`…/pod<uid>/<container id>`, cgroup v1 `pids` or v2)
 * sends with hot-shots over the DogStatsD datagram socket and PUTs a trace payload over the APM socket,
 * both claiming ANOTHER pod (DD_ENTITY_ID, Datadog-Entity-ID). The kernel's credentials (SCM_CREDENTIALS,
 * SO_PEERCRED) name its pid, its cgroup names its pod: that pod wins, and the attempt is counted. A child
 * in no container (a process of the node) keeps its claim. Root only (cgroups), Linux only (the addon).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { unixCredentials } from '../../../../src/nodeagent/intake/attest/credentials.js';
import { createNodeIntake, type NodeIntake } from '../../../../src/nodeagent/intake/intake.js';
import type { PodWithTags } from '../../../../src/nodeagent/podTags.js';
import { tempDir, type TempDir } from '../../../helpers/certs.js';
import { testConfig } from '../../../helpers/config.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';
import { eventually } from '../../../helpers/eventually.js';
import { recordingLogger } from '../../../helpers/logs.js';

const UID_A = '0a0a0a0a-1111-4222-8333-444455556666';
const UID_B = '0b0b0b0b-1111-4222-8333-444455556666';
const ID_A = 'a1'.repeat(32);
const pod = (name: string, uid: string, containerIds: string[]): PodWithTags => ({ namespace: 'shop', name, uid, phase: 'Running', containerIds, tags: [`pod_name:${name}`], tagsFrom: 'cluster-agent' });
const PODS = [pod('a', UID_A, [`containerd://${ID_A}`]), pod('b', UID_B, [])];

/** A cgroup named like pod a's container, or why there is none. */
function makeCgroup(): { procs: string; remove: () => void } | string {
  if (process.getuid?.() !== 0) return 'not root: cannot make cgroups';
  for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const top = join(root, `tether-attest-${process.pid}`);
    const dirs = [top, join(top, `pod${UID_A}`), join(top, `pod${UID_A}`, ID_A)];
    try {
      for (const d of dirs) mkdirSync(d);
      return {
        procs: join(dirs[2]!, 'cgroup.procs'),
        remove: () => {
          for (const d of [...dirs].reverse()) {
            try {
              rmdirSync(d);
            } catch {
              // still busy or gone
            }
          }
        },
      };
    } catch {
      for (const d of [...dirs].reverse()) {
        try {
          rmdirSync(d);
        } catch {
          // not made
        }
      }
    }
  }
  return 'no writable cgroup hierarchy';
}

/** The child: into the cgroup (when given), then one metric with hot-shots and one trace payload, claiming pod b. */
const CHILD = `
const fs = require('node:fs'); const http = require('node:http');
if (process.env.CG_PROCS) fs.writeFileSync(process.env.CG_PROCS, String(process.pid));
const { StatsD } = require(process.env.HOT_SHOTS);
const client = new StatsD({});
client.increment(process.env.METRIC, 1, () => client.close(() => {
  const body = fs.readFileSync(process.env.TRACE_BODY);
  const req = http.request({ socketPath: process.env.APM_SOCKET, path: '/v0.4/traces', method: 'PUT', headers: { 'Content-Type': 'application/msgpack', 'Datadog-Entity-ID': process.env.CLAIM, 'X-Datadog-Trace-Count': '1' } }, (res) => { res.resume(); res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 3)); });
  req.end(body);
}));
`;

function runChild(env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', CHILD], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`))));
  });
}

describe('attested origins over the Unix sockets, two real processes', () => {
  let dir: TempDir;
  let intake: NodeIntake | undefined;
  let skip: string | undefined;
  let cgroup: { procs: string; remove: () => void } | undefined;

  before(async () => {
    const addon = unixCredentials();
    if ('problem' in addon) skip = addon.problem;
    const cg = makeCgroup();
    if (typeof cg === 'string') skip ??= cg;
    else cgroup = cg;
    dir = await tempDir('tether-attest-');
    if (skip) return;
    intake = createNodeIntake({
      config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: join(dir.path, 'dsd.socket'), 'apm_config.receiver_port': 0, 'apm_config.receiver_socket': join(dir.path, 'apm.socket') }),
      pods: () => PODS,
      logger: recordingLogger('info').logger,
      registry: new Registry(),
      traceListenPort: 0,
      traceHost: '127.0.0.1',
      windowMs: 3_600_000,
    });
    await intake.start();
    writeFileSync(join(dir.path, 'trace.msgpack'), ddTraceEncode('0.4', [[sampleSpan(0)]]));
  });
  after(async () => {
    await intake?.stop(0);
    cgroup?.remove();
    await dir.remove();
  });

  const childEnv = (metric: string, procs?: string): Record<string, string> => ({
    HOT_SHOTS: createRequire(import.meta.url).resolve('hot-shots'),
    DD_DOGSTATSD_URL: `unix://${join(dir.path, 'dsd.socket')}`,
    DD_ENTITY_ID: UID_B,
    CLAIM: UID_B,
    METRIC: metric,
    APM_SOCKET: join(dir.path, 'apm.socket'),
    TRACE_BODY: join(dir.path, 'trace.msgpack'),
    ...(procs ? { CG_PROCS: procs } : {}),
  });

  test("in pod a's container, claiming pod b: pod a's, over both sockets, counted as mis-attributions", async (t) => {
    if (skip) return t.skip(skip);
    assert.equal(intake!.dogstatsd.status().socketCredentials, true);
    await runChild(childEnv('attest.container', cgroup!.procs));
    await eventually('the metric', async () => assert.ok(intake!.dogstatsd.status().counts.samples >= 1), 10_000, 20);
    const series = intake!.dogstatsd.flush().find((s) => s.name === 'attest.container');
    assert.equal(series?.origin?.uid, UID_A, JSON.stringify(series));
    assert.ok(series?.tags.includes('pod_name:a'));
    const a = intake!.status().attestation;
    assert.ok(a.verdicts['dogstatsd-unix'].overridden >= 1);
    assert.equal(a.verdicts['traces-unix'].overridden, 1);
    assert.equal(a.lastMisattribution?.claimed, 'shop/b');
    assert.equal(a.lastMisattribution?.attributedTo, 'shop/a');
    assert.match(a.lastMisattribution?.sender ?? '', /^pid \d+$/);
  });

  test('a process of the node (no container) claiming pod b: its claim is taken', async (t) => {
    if (skip) return t.skip(skip);
    await runChild(childEnv('attest.host'));
    await eventually('the metric', async () => assert.ok(intake!.dogstatsd.status().counts.samples >= 2), 10_000, 20);
    const series = intake!.dogstatsd.flush().find((s) => s.name === 'attest.host');
    assert.equal(series?.origin?.uid, UID_B, JSON.stringify(series));
    const v = intake!.status().attestation.verdicts;
    // Verdicts are per datagram and claim: hot-shots may send more than one datagram.
    assert.ok(v['dogstatsd-unix'].host >= 1);
    assert.equal(v['traces-unix'].host, 1);
  });
});
