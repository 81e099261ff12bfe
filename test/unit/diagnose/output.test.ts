/** `tether diagnose` output (text and JSON), check selection, exit codes, the context's service account. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Check, CheckResult } from '../../../src/diagnose/check.js';
import { ok, problem, skipped } from '../../../src/diagnose/check.js';
import { CHECKS } from '../../../src/diagnose/checks/index.js';
import { createDiagnoseContext, once, resolveServiceAccount } from '../../../src/diagnose/context.js';
import { checksMarkdown, DOCS_END, DOCS_START, README_PATH, withChecksTable } from '../../../src/diagnose/docs.js';
import { isProblem, renderCheckListJson, renderCheckListText, renderResultsJson, renderResultsText, selectChecks } from '../../../src/diagnose/render.js';
import { exitCodeOf, runChecks } from '../../../src/diagnose/run.js';
import { loadConfig } from '../../../src/config/index.js';
import { ApiError, type KubeReader } from '../../../src/kube/reader.js';

const results: CheckResult[] = [
  { name: 'auth-token', ...ok('the token is 64 characters') },
  {
    name: 'webhook-ca-bundle',
    ...problem('error', "datadog.webhook.config's caBundle does not match the Secret", ['Secret datadog/webhook-certificate ca.pem digest 1111', 'entry datadog.webhook.config caBundle digest 2222'], 'kubectl delete mutatingwebhookconfiguration datadog-webhook\n(the leader recreates it from the Secret)'),
  },
  { name: 'aks', ...skipped('not AKS') },
  { name: 'labelled-pods', ...problem('warning', '2 labelled pods carry no injection', ['apps/web-1 (ReplicaSet web-abc)'], 'kubectl rollout restart -n apps deployment/web') },
];

describe('diagnose text output', () => {
  test('one aligned line per check, then each problem with its evidence and fix', () => {
    assert.equal(
      renderResultsText(results),
      [
        'ok       auth-token         the token is 64 characters',
        "error    webhook-ca-bundle  datadog.webhook.config's caBundle does not match the Secret",
        'skipped  aks                not AKS',
        'warning  labelled-pods      2 labelled pods carry no injection',
        '',
        "error: webhook-ca-bundle: datadog.webhook.config's caBundle does not match the Secret",
        '  Secret datadog/webhook-certificate ca.pem digest 1111',
        '  entry datadog.webhook.config caBundle digest 2222',
        '  fix: kubectl delete mutatingwebhookconfiguration datadog-webhook',
        '       (the leader recreates it from the Secret)',
        '',
        'warning: labelled-pods: 2 labelled pods carry no injection',
        '  apps/web-1 (ReplicaSet web-abc)',
        '  fix: kubectl rollout restart -n apps deployment/web',
        '',
      ].join('\n'),
    );
  });
  test('colour only when asked: the status words, nothing else', () => {
    const plain = renderResultsText(results);
    const coloured = renderResultsText(results, { color: true });
    assert.ok(!plain.includes('\u001b['));
    assert.ok(coloured.startsWith('\u001b[32mok     \u001b[0m  auth-token'));
    assert.equal(coloured.replace(/\u001b\[\d+m/g, ''), plain);
  });
  test('no checks: says so', () => {
    assert.equal(renderResultsText([]), 'no checks to run\n');
  });
});

describe('diagnose JSON output and exit code', () => {
  test('a list of {name, status, summary, evidence, fix}', () => {
    const parsed = JSON.parse(renderResultsJson(results)) as Record<string, unknown>[];
    assert.deepEqual(parsed, results);
    for (const r of parsed) assert.deepEqual(Object.keys(r), ['name', 'status', 'summary', 'evidence', 'fix']);
  });
  test('exit 1 only when a check is an error', () => {
    assert.equal(exitCodeOf(results), 1);
    assert.equal(exitCodeOf(results.filter((r) => r.status !== 'error')), 0);
    assert.equal(exitCodeOf([]), 0);
    assert.deepEqual(results.filter(isProblem).map((r) => r.name), ['webhook-ca-bundle', 'labelled-pods']);
  });
});

const fakeCheck = (name: string): Check => ({ name, finds: `what ${name} finds`, fixes: `how to fix ${name}`, run: async () => ok(`${name} fine`) });

describe('--check and --list', () => {
  const all = [fakeCheck('alpha'), fakeCheck('beta'), fakeCheck('gamma-long')];
  test('--check keeps registry order; an unknown name lists the known ones', () => {
    const sel = selectChecks(all, ['gamma-long', 'alpha']);
    assert.ok('checks' in sel);
    assert.deepEqual(sel.checks.map((c) => c.name), ['alpha', 'gamma-long']);
    assert.deepEqual(selectChecks(all, ['nosuch', 'alpha']), { error: 'unknown check nosuch; the checks are: alpha, beta, gamma-long' });
    assert.deepEqual(selectChecks([], ['x', 'y']), { error: 'unknown checks x, y; the checks are: (none)' });
    assert.ok('checks' in selectChecks(all, []) && selectChecks(all, []));
  });
  test('--list: name and what it finds', () => {
    assert.equal(renderCheckListText(all), 'alpha       what alpha finds\nbeta        what beta finds\ngamma-long  what gamma-long finds\n');
    assert.deepEqual(JSON.parse(renderCheckListJson(all.slice(0, 1))), [{ name: 'alpha', finds: 'what alpha finds', fixes: 'how to fix alpha' }]);
  });
});

function reader(get: (path: string) => unknown): KubeReader {
  return {
    get: async <T>(path: string) => get(path) as T | undefined,
    getMetadata: async () => undefined,
    list: async <T>() => [] as T[],
    watch: async () => {},
    create: async <T>(): Promise<T> => {
      throw new Error('no writes');
    },
  };
}

describe('diagnose context', () => {
  const signal = AbortSignal.timeout(5_000);
  const DEPLOYMENT = '/apis/apps/v1/namespaces/datadog/deployments/datadog-cluster-agent';
  test("the service account: the flag, else the Deployment's pod template's, else datadog-cluster-agent", async () => {
    const withDeployment = reader((p) => (p === DEPLOYMENT ? { spec: { template: { spec: { serviceAccountName: 'custom-sa' } } } } : undefined));
    assert.deepEqual(await resolveServiceAccount('flag-sa', withDeployment, 'datadog', signal), { name: 'flag-sa', source: '--service-account' });
    assert.deepEqual(await resolveServiceAccount(undefined, withDeployment, 'datadog', signal), { name: 'custom-sa', source: 'Deployment datadog/datadog-cluster-agent' });
    assert.equal((await resolveServiceAccount(undefined, reader(() => undefined), 'datadog', signal)).name, 'datadog-cluster-agent');
    const template = reader((p) => (p === DEPLOYMENT ? { spec: { template: { spec: {} } } } : undefined));
    assert.equal((await resolveServiceAccount(undefined, template, 'datadog', signal)).name, 'default');
    const forbidden = reader(() => {
      throw new ApiError(403, 'GET deployments: HTTP 403: forbidden');
    });
    const r = await resolveServiceAccount(undefined, forbidden, 'datadog', signal);
    assert.equal(r.name, 'datadog-cluster-agent');
    assert.match(r.source, /could not read Deployment datadog\/datadog-cluster-agent: .*403/);
  });
  test('the platform is detected once per run, shared by every check', async () => {
    let detections = 0;
    const ctx = createDiagnoseContext({
      config: loadConfig({ env: {} }),
      namespace: 'datadog',
      serviceAccount: 'sa',
      kube: reader(() => undefined),
      detectPlatform: async () => {
        detections++;
        return { gkeAutopilot: false, gke: true, eks: false, aks: false, openshift: false, rancher: false, evidence: ['node provider gce://'] };
      },
      signal,
    });
    const seen: boolean[] = [];
    const check = (name: string): Check => ({ name, finds: '', fixes: '', run: async (c) => (seen.push((await c.platform()).gke), ok('fine')) });
    await runChecks([check('a'), check('b'), check('c')], ctx);
    assert.deepEqual(seen, [true, true, true]);
    assert.equal(detections, 1);
    let n = 0;
    const f = once(async () => ++n);
    assert.deepEqual(await Promise.all([f(), f()]), [1, 1]);
  });
});

describe('README troubleshooting table', () => {
  test('is generated from CHECKS and up to date (npm run docs)', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(readme, withChecksTable(readme, CHECKS), 'the README is out of date with the checks: run `npm run docs`');
  });
  test('one row per check, cells on one line with pipes escaped', () => {
    const md = checksMarkdown([{ ...fakeCheck('a'), finds: 'x | y\nz' }]);
    assert.equal(md, '| check | what it finds | the fix |\n|---|---|---|\n| `a` | x \\| y z | how to fix a |');
    assert.throws(() => withChecksTable('no markers', []), /markers/);
    assert.equal(withChecksTable(`a\n${DOCS_START}\nold\n${DOCS_END}\nb`, []), `a\n${DOCS_START}\n| check | what it finds | the fix |\n|---|---|---|\n${DOCS_END}\nb`);
  });
});
