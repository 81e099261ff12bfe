import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { factsBudgetMs, resolveFacts, type FactResolver } from '../../../src/server/facts.js';
import { FACTS_BUDGET_MARGIN_MS, FACTS_BUDGET_MAX_MS } from '../../../src/config/limits.js';

const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs' };
const never = <T>(): Promise<T> => new Promise(() => {});

describe('factsBudgetMs', () => {
  test('the webhook timeout minus a margin, capped', () => {
    assert.equal(factsBudgetMs(1), 1000 - FACTS_BUDGET_MARGIN_MS);
    assert.equal(factsBudgetMs(3), 3000 - FACTS_BUDGET_MARGIN_MS);
    assert.equal(factsBudgetMs(10), FACTS_BUDGET_MAX_MS);
    assert.equal(factsBudgetMs(30), FACTS_BUDGET_MAX_MS);
  });
});

describe('resolveFacts', () => {
  test('asks only for what is needed, in parallel', async () => {
    const calls: string[] = [];
    const r: FactResolver = {
      owner: async (ns, o) => (calls.push(`owner ${ns} ${o.name}`), { found: true, kind: 'Deployment', name: 'd', labels: { a: 'b' } }),
      namespaceLabels: async (ns) => (calls.push(`ns ${ns}`), { team: 'x' }),
    };
    assert.deepEqual(await resolveFacts({}, 'apps', r, 100), { problems: [] });
    assert.deepEqual(calls, []);
    const both = await resolveFacts({ owner: ref, namespaceLabels: true }, 'apps', r, 100);
    assert.deepEqual(both, { owner: { found: true, kind: 'Deployment', name: 'd', labels: { a: 'b' } }, namespaceLabels: { team: 'x' }, problems: [] });
    assert.deepEqual(calls.sort(), ['ns apps', 'owner apps rs']);
  });

  test('without a resolver, facts are unknown', async () => {
    assert.deepEqual(await resolveFacts({ owner: ref, namespaceLabels: true }, 'apps', undefined, 100), { problems: [] });
  });

  test('failures and timeouts become "not found" / unknown, with the reason', async () => {
    const r: FactResolver = { owner: () => never(), namespaceLabels: () => Promise.reject(new Error('forbidden')) };
    const started = Date.now();
    const got = await resolveFacts({ owner: ref, namespaceLabels: true }, 'apps', r, 50);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(got.owner, { found: false, reason: 'no answer within 50 ms' });
    assert.equal(got.namespaceLabels, undefined);
    assert.deepEqual(
      [...got.problems].sort((a, b) => a.fact.localeCompare(b.fact)),
      [
        { fact: 'namespaceLabels', message: 'labels of namespace apps: forbidden' },
        { fact: 'owner', message: 'owner ReplicaSet/rs: no answer within 50 ms' },
      ],
    );
  });

  test('each problem names its fact, whatever the resolver says: callers never parse the message', async () => {
    // Reasons worded to mislead a caller that matched text: the namespace read's reason talks of an
    // owner, the owner's of namespace labels.
    const r: FactResolver = {
      owner: () => Promise.reject(new Error('labels of namespace apps: forbidden')),
      namespaceLabels: () => Promise.reject(new Error('owner lookup failed')),
    };
    const onlyNamespace = await resolveFacts({ namespaceLabels: true }, 'apps', r, 50);
    assert.deepEqual(onlyNamespace.problems.map((p) => p.fact), ['namespaceLabels']);
    const onlyOwner = await resolveFacts({ owner: ref }, 'apps', r, 50);
    assert.deepEqual(onlyOwner.problems.map((p) => p.fact), ['owner']);
    assert.match(onlyOwner.problems[0]?.message ?? '', /^owner ReplicaSet\/rs: labels of namespace apps: forbidden$/);
  });

  test('a synchronous throw is a failure like any other', async () => {
    const r: FactResolver = {
      owner: () => {
        throw new TypeError('bug');
      },
      namespaceLabels: async () => undefined,
    };
    assert.deepEqual((await resolveFacts({ owner: ref }, 'apps', r, 50)).owner, { found: false, reason: 'bug' });
  });

  test('the caller going away stops the wait at once, and the resolver is told', async () => {
    let seen: AbortSignal | undefined;
    const r: FactResolver = { owner: (_n, _o, s) => ((seen = s), never()), namespaceLabels: async () => undefined };
    const parent = new AbortController();
    setTimeout(() => parent.abort(), 20);
    const started = Date.now();
    const got = await resolveFacts({ owner: ref }, 'apps', r, 10_000, parent.signal);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(got.owner, { found: false, reason: 'the request was cancelled' });
    assert.equal(seen?.aborted, true);
  });
});
