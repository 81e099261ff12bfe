/**
 * `tether dev` (what `npm start` runs), as a newcomer uses it: the example pod comes back mutated, the
 * cluster agent API answers with the token the dev cluster made, and `tether diagnose` finds the dev
 * cluster healthy (it runs the cluster agent as its own service account with deploy/'s RBAC). Ctrl-C
 * stops everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually } from '../helpers/eventually.js';
import { cleanEnv, spawnTether, TETHER_MAIN, type TetherProcess } from '../helpers/tether.js';

const EXAMPLE_POD = fileURLToPath(new URL('../../../examples/pod.yaml', import.meta.url));
const run = promisify(execFile);

let dev: TetherProcess;
let kubeconfig: string;
let apiUrl: string;

function get(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

before(
  async () => {
    dev = spawnTether(['dev']);
    const up = await dev.waitForLog((l) => l['msg'] === 'Tether dev cluster is up', 10 * 60_000);
    kubeconfig = up['kubeconfig'] as string;
    apiUrl = up['apiUrl'] as string;
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  await dev?.stop(20_000);
});

describe('tether dev', () => {
  test('the example pod is created mutated', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const body = parse(await readFile(EXAMPLE_POD, 'utf8')) as k8s.V1Pod;
    const pod = await eventually('the webhook to mutate the example', async () => {
      const p = await core.createNamespacedPod({ namespace: 'default', body, dryRun: 'All' });
      assert.ok(p.spec?.containers[0]?.env?.some((e) => e.name === 'DD_AGENT_HOST'));
      return p;
    });
    const env = Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env['DD_SERVICE'], 'billing');
    assert.match(env['JAVA_TOOL_OPTIONS'] ?? '', /-Xmx512m -javaagent:/);
    assert.deepEqual(pod.spec!.initContainers?.map((c) => c.name), ['datadog-lib-java-init']);
  });

  test('the cluster agent API answers with the token the dev cluster made', async () => {
    assert.ok(apiUrl, 'the API runs in the dev cluster');
    const token = (await readFile(join(dirname(kubeconfig), 'cluster-agent.token'), 'utf8')).trim();
    assert.ok(token.length >= 32);
    assert.ok(!dev.stderr().includes(token), 'the token is never logged');
    const id = await eventually('the API to be synced', async () => {
      const r = await get(`${apiUrl}/api/v1/cluster/id`, token);
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body) as string;
    });
    assert.match(id, /^[0-9a-f-]{36}$/);
  });

  test('a healthy dev cluster diagnoses clean', async () => {
    const { stdout } = await run(process.execPath, [TETHER_MAIN, 'diagnose', '-n', 'datadog', '-o', 'json'], { env: cleanEnv({ KUBECONFIG: kubeconfig }), timeout: 120_000 });
    const results = JSON.parse(stdout) as { name: string; status: string; summary: string }[];
    assert.deepEqual(results.filter((r) => r.status === 'error' || r.status === 'warning'), [], JSON.stringify(results, null, 2));
  });

  test('Ctrl-C stops everything', async () => {
    dev.child.kill('SIGINT');
    assert.equal(await dev.exited, 0, dev.stderr().slice(-2000));
  });
});
