import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram, parseNumber } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';

const one = (line: string) => {
  const r = parseDatagram(line);
  assert.deepEqual(r.errors, [], `errors for ${line}`);
  assert.equal(r.samples.length, 1, `one sample for ${line}`);
  return r.samples[0]!;
};
const error = (line: string) => {
  const r = parseDatagram(line);
  assert.equal(r.samples.length, 0, `no sample for ${line}`);
  assert.equal(r.errors.length, 1, `one error for ${line}`);
  return r.errors[0]!;
};

describe('DogStatsD parser: metrics', () => {
  test('every type', () => {
    assert.deepEqual(one('page.views:1|c'), { name: 'page.views', type: 'count', value: 1, sampleRate: 1, tags: [], origin: {}, contextKey: '|c' });
    assert.equal(one('fuel.level:0.5|g').type, 'gauge');
    assert.equal(one('fuel.level:0.5|g').value, 0.5);
    assert.equal(one('song.length:240|h').type, 'histogram');
    assert.equal(one('latency:-3.5e2|d').type, 'distribution');
    assert.equal(one('latency:-3.5e2|d').value, -350);
    assert.equal(one('req.time:150|ms').type, 'timing');
    const set = one('users.uniques:user-1234|s');
    assert.equal(set.type, 'set');
    assert.equal(set.setValue, 'user-1234');
    assert.equal(set.value, 0);
  });

  test('sample rate and tags', () => {
    const s = one('users.online:1|c|@0.5|#country:china,env:prod');
    assert.equal(s.sampleRate, 0.5);
    assert.deepEqual(s.tags, ['country:china', 'env:prod']);
    // Any order of the optional fields; empty tags dropped.
    const t = one('x:2|h|#a:b,,c|@1');
    assert.deepEqual(t.tags, ['a:b', 'c']);
    assert.equal(t.sampleRate, 1);
  });

  test('several values per line (protocol 1.1) share type, rate and tags', () => {
    const r = parseDatagram('lat:1:2.5:3|h|@0.5|#route:/a');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.samples.map((s) => s.value),
      [1, 2.5, 3],
    );
    assert.ok(r.samples.every((s) => s.sampleRate === 0.5 && s.tags[0] === 'route:/a' && s.type === 'histogram'));
    // A set's value is its member, colons and all.
    assert.equal(one('s:a:b|s').setValue, 'a:b');
  });

  test('several lines per datagram, \\r\\n and a trailing newline', () => {
    const r = parseDatagram('a:1|c\nb:2|g\r\n\nc:3|h\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.samples.map((s) => [s.name, s.value]),
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
    );
  });

  test('origin: the entity id tag is taken out of the tags; c: is the container id, also as ci-', () => {
    const s = one('x:1|c|#env:prod,dd.internal.entity_id:0f4c-uid|c:abc123');
    assert.deepEqual(s.tags, ['env:prod']);
    assert.deepEqual(s.origin, { entityId: '0f4c-uid', containerId: 'abc123' });
    assert.deepEqual(one('x:1|c|c:ci-abc123').origin, { containerId: 'abc123' });
    // A cgroup inode is no container id: left out (and the line still taken).
    assert.deepEqual(one('x:1|c|c:in-12345').origin, {});
    // Lines of one datagram from one client share one origin object.
    const r = parseDatagram('a:1|c|#dd.internal.entity_id:u1\nb:1|c|#dd.internal.entity_id:u1');
    assert.equal(r.samples[0]!.origin, r.samples[1]!.origin);
  });

  test('timestamp |T (protocol 1.3) in milliseconds; unknown fields of newer versions skipped', () => {
    assert.equal(one('x:1|g|T1700000000').timestampMs, 1_700_000_000_000);
    const s = one('x:1|c|e:it-false,cn-app|card:high|#a|T1700000001|c:ci-9');
    assert.equal(s.timestampMs, 1_700_000_001_000);
    assert.deepEqual(s.tags, ['a']);
    assert.deepEqual(s.origin, { containerId: '9' });
  });

  test('service checks and events are recognised and counted (their fields: logRecords.test.ts)', () => {
    const r = parseDatagram('_sc|Redis connection|2|#env:dev|m:Redis connection timed out after 10s\n_e{21,36}:An exception occurred|Cannot parse CSV file from 10.0.0.17|#a:b\nx:1|c');
    assert.deepEqual(r.errors, []);
    assert.equal(r.serviceChecks, 1);
    assert.equal(r.events, 1);
    assert.equal(r.samples.length, 1);
  });
});

describe('DogStatsD parser: malformed lines, each named', () => {
  const cases: [string, string, RegExp][] = [
    ['page.views', 'no-value', /no ":"/],
    ['page.views|c:1', 'no-value', /no ":"/],
    [':1|c', 'empty-name', /name is empty/],
    ['page.views:1', 'no-type', /"page\.views" has no "\|<type>"/],
    ['page.views:1|x', 'unknown-type', /type "x": expected c, g, h, d, s or ms/],
    ['page.views:1|', 'unknown-type', /type ""/],
    ['page.views:abc|c', 'bad-value', /value "abc"/],
    ['page.views:|c', 'bad-value', /value ""/],
    ['page.views:0x10|c', 'bad-value', /value "0x10"/],
    ['page.views:Infinity|g', 'bad-value', /value "Infinity"/],
    ['page.views:1e999|g', 'bad-value', /value "1e999"/],
    ['page.views:1:zz:3|h', 'bad-value', /value "zz"/],
    ['page.views:1|c|@0', 'bad-sample-rate', /sample rate "0"/],
    ['page.views:1|c|@1.5', 'bad-sample-rate', /sample rate "1\.5"/],
    ['page.views:1|c|@x', 'bad-sample-rate', /sample rate "x"/],
    ['page.views:1|c|Tsoon', 'bad-timestamp', /timestamp "soon"/],
    ['page.views:1|c|T-5', 'bad-timestamp', /timestamp "-5"/],
    ['u:|s', 'bad-value', /empty member/],
    ['_sc|name', 'bad-service-check', /without/],
    ['_sc|name|', 'bad-service-check', /status ""/],
    ['_sc|', 'bad-service-check', /without/],
    ['_sc|db|7', 'bad-service-check', /status "7"/],
    ['_e{5}:title', 'bad-event', /without/],
    ['_e{a,b}:x|y', 'bad-event', /lengths/],
    ['_e{500,500}:short|text', 'bad-event', /500 and 500 bytes: the line does not have them/],
  ];
  for (const [line, reason, message] of cases) {
    test(`${JSON.stringify(line)} → ${reason}`, () => {
      const e = error(line);
      assert.equal(e.reason, reason);
      assert.match(e.message, message);
      assert.equal(e.line, line);
    });
  }

  test('a bad line does not spoil its neighbours, and a bad value drops its whole line', () => {
    const r = parseDatagram('a:1|c\nbroken\nb:1:x:2|h\nc:2|g');
    assert.deepEqual(
      r.samples.map((s) => s.name),
      ['a', 'c'],
    );
    assert.deepEqual(
      r.errors.map((e) => e.reason),
      ['no-value', 'bad-value'],
    );
  });

  test('numbers: decimal only', () => {
    assert.equal(parseNumber('12.5', 0, 4), 12.5);
    assert.equal(parseNumber('-1e3', 0, 4), -1000);
    assert.ok(Number.isNaN(parseNumber(' 1', 0, 2)));
    assert.ok(Number.isNaN(parseNumber('', 0, 0)));
    assert.ok(Number.isNaN(parseNumber('1_0', 0, 3)));
  });
});
