/** Live changes applied to a page of a sorted, filtered, paged list (console/src/live.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeRow, PodRow, PodsPage, NodesPage } from '../../src/console/types.js';
import { applyNodesEvent, applyPodsEvent, podMatches } from '../src/live.js';

const pod = (namespace: string, name: string, node = 'n1', extra: Partial<PodRow> = {}): PodRow => ({
  namespace,
  name,
  uid: `${namespace}/${name}`,
  node,
  phase: 'Running',
  injected: false,
  reason: 'no-label',
  ...extra,
});
const names = (p: PodsPage) => p.rows.map((r) => `${r.namespace}/${r.name}`);
const page = (rows: PodRow[], total: number, offset = 0, limit = 3): PodsPage => ({ rows, total, offset, limit });
const n1 = { node: 'n1' };

describe('applyPodsEvent', () => {
  test('a changed row on the page is replaced in place; the total stays', () => {
    const p = applyPodsEvent(page([pod('a', 'x'), pod('a', 'y')], 2), { upserted: [pod('a', 'y', 'n1', { injected: true, reason: 'injected' })], deleted: [] }, n1);
    assert.deepEqual(names(p), ['a/x', 'a/y']);
    assert.equal(p.rows[1]!.injected, true);
    assert.equal(p.total, 2);
  });

  test('a new row that sorts inside the page is inserted in order; a full page drops its last row', () => {
    const p = applyPodsEvent(page([pod('a', 'a'), pod('a', 'c'), pod('b', 'a')], 10), { upserted: [pod('a', 'b')], deleted: [] }, n1);
    assert.deepEqual(names(p), ['a/a', 'a/b', 'a/c']);
    assert.equal(p.total, 11);
  });

  test('a row after the last of a full page, or before the first of a later page, may be on another page: left alone', () => {
    const full = page([pod('a', 'a'), pod('a', 'b'), pod('a', 'c')], 10);
    assert.deepEqual(applyPodsEvent(full, { upserted: [pod('z', 'z')], deleted: [] }, n1), full);
    const later = page([pod('b', 'a'), pod('b', 'b'), pod('b', 'c')], 10, 3);
    assert.deepEqual(applyPodsEvent(later, { upserted: [pod('a', 'a')], deleted: [] }, n1), later);
  });

  test('on the last page, a new row after the last one is appended', () => {
    const p = applyPodsEvent(page([pod('a', 'a')], 4, 3), { upserted: [pod('z', 'z')], deleted: [] }, n1);
    assert.deepEqual(names(p), ['a/a', 'z/z']);
    assert.equal(p.total, 5);
  });

  test("another node's pod never enters this node's list", () => {
    const before = page([pod('a', 'a')], 1);
    assert.deepEqual(applyPodsEvent(before, { upserted: [pod('a', 'b', 'n2')], deleted: [{ namespace: 'a', name: 'c', node: 'n2' }] }, n1), before);
  });

  test('a row that stops matching the filters leaves the page', () => {
    const p = applyPodsEvent(page([pod('a', 'a'), pod('a', 'b')], 2), { upserted: [pod('a', 'b', 'n2')], deleted: [] }, n1);
    assert.deepEqual(names(p), ['a/a']);
    assert.equal(p.total, 1);
  });

  test('deleted: removed from the page; one of this list on another page still counts down', () => {
    const p = applyPodsEvent(page([pod('a', 'a'), pod('a', 'b'), pod('a', 'c')], 5), { upserted: [], deleted: [{ namespace: 'a', name: 'b', node: 'n1' }, { namespace: 'z', name: 'z', node: 'n1' }] }, n1);
    assert.deepEqual(names(p), ['a/a', 'a/c']);
    assert.equal(p.total, 3);
  });

  test('the total never falls below what the page shows', () => {
    const p = applyPodsEvent(page([pod('a', 'a')], 1), { upserted: [], deleted: [{ namespace: 'q', name: 'q', node: 'n1' }] }, n1);
    assert.equal(p.total, 1);
  });
});

describe('podMatches', () => {
  test('node and namespace are exact; the search is a case-insensitive substring of namespace/name', () => {
    const p = { namespace: 'shop', name: 'checkout-1', node: 'n1' };
    assert.ok(podMatches(p, { node: 'n1', namespace: 'shop', q: 'CHECK' }));
    assert.ok(podMatches(p, { q: 'shop/check' }));
    assert.ok(!podMatches(p, { node: 'n2' }));
    assert.ok(!podMatches(p, { node: '' }), 'node "" is the unscheduled pods');
    assert.ok(!podMatches(p, { namespace: 'sho' }));
    assert.ok(!podMatches(p, { q: 'billing' }));
  });
});

describe('applyNodesEvent', () => {
  const node = (name: string, pods = 1): NodeRow => ({ name, known: true, pods, injected: 0, missed: 0 });
  test('rows update in place, new matching nodes inside the page are inserted, gone nodes leave', () => {
    const before: NodesPage = { rows: [node('a'), node('c'), node('d')], total: 3, offset: 0, limit: 100 };
    const p = applyNodesEvent(before, { rows: [node('a', 7), node('b'), node('x-other')], deleted: ['d'] }, '');
    assert.deepEqual(p.rows.map((r) => [r.name, r.pods]), [['a', 7], ['b', 1], ['c', 1], ['x-other', 1]]);
    assert.equal(p.total, 4);
  });
  test('the node search applies to new rows', () => {
    const before: NodesPage = { rows: [node('web-1')], total: 1, offset: 0, limit: 100 };
    assert.deepEqual(applyNodesEvent(before, { rows: [node('db-1')], deleted: [] }, 'WEB').rows.map((r) => r.name), ['web-1']);
  });
});
