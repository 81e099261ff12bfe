import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { decodeV04 } from '../../../../src/nodeagent/intake/traces/decode04.js';
import { decodeV05 } from '../../../../src/nodeagent/intake/traces/decode05.js';
import type { DecodeResult } from '../../../../src/nodeagent/intake/traces/decodeCommon.js';
import type { DdSpan } from '../../../../src/nodeagent/intake/types.js';
import { ddTraceEncode, sampleSpan, type FormattedSpan } from '../../../helpers/ddTraceEncode.js';

function ok(r: DecodeResult): DdSpan[][] {
  if (!r.ok) assert.fail(`decode failed: ${r.message}`);
  return r.traces;
}

function failure(r: DecodeResult): { reason: string; message: string } {
  if (r.ok) assert.fail('decode should have failed');
  return r;
}

function assertSame(got: DdSpan, want: FormattedSpan): void {
  assert.equal(got.traceId, want.traceId);
  assert.equal(got.spanId, want.spanId);
  assert.equal(got.parentId, want.parentId);
  assert.equal(got.name, want.name);
  assert.equal(got.resource, want.resource);
  assert.equal(got.service, want.service);
  assert.equal(got.type, want.type ?? '');
  assert.equal(got.error, want.error);
  assert.equal(got.start, BigInt(want.start));
  assert.equal(got.duration, BigInt(want.duration));
  assert.deepEqual({ ...got.meta }, want.meta);
  assert.deepEqual({ ...got.metrics }, want.metrics);
}

const DECODERS = { '0.4': decodeV04, '0.5': decodeV05 } as const;

describe('trace payloads as dd-trace encodes them', () => {
  for (const version of ['0.4', '0.5'] as const) {
    test(`v${version}: every field, exact 64-bit ids, several traces`, () => {
      const traces = [
        [sampleSpan(0), sampleSpan(1, { error: 1, meta: { 'error.message': 'boom', 'émoji': '✓ 🎉' } })],
        [sampleSpan(2, { traceId: 0xffffffffffffffffn, spanId: 0x8000000000000000n, parentId: 1n, type: undefined })],
      ];
      const got = ok(DECODERS[version](ddTraceEncode(version, traces)));
      assert.equal(got.length, 2);
      assert.equal(got[0]!.length, 2);
      assertSame(got[0]![0]!, traces[0]![0]!);
      assertSame(got[0]![1]!, traces[0]![1]!);
      assertSame(got[1]![0]!, traces[1]![0]!);
    });

    test(`v${version}: a tag named __proto__ is a tag, not a prototype`, () => {
      const span = sampleSpan(0, { meta: JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string> });
      const got = ok(DECODERS[version](ddTraceEncode(version, [[span]])))[0]![0]!;
      assert.equal(Object.getPrototypeOf(got.meta), null);
      assert.deepEqual(Object.keys(got.meta).sort(), ['__proto__', 'constructor']);
      assert.equal(got.meta['__proto__'], 'x');
    });
  }

  test('an empty payload of traces decodes to no traces', () => {
    assert.deepEqual(ok(decodeV04(Buffer.from(encode([])))), []);
    assert.deepEqual(ok(decodeV05(Buffer.from(encode([[], []])))), []);
  });
});

describe('v0.4 documented shapes (other tracers)', () => {
  test('fields a tracer adds that v0.4 does not carry are skipped; integers of every width and nil are taken', () => {
    const payload = encode(
      [
        [
          {
            service: 'api',
            name: 'op',
            resource: 'r',
            trace_id: 7,
            span_id: 300,
            parent_id: 70000,
            start: 1_700_000_000_000_000_000n,
            duration: 5,
            error: 0,
            meta: { a: 'b', nothing: null },
            metrics: { f: 0.5, i: -3, big: 2n ** 40n },
            meta_struct: { blob: new Uint8Array([1, 2, 3]) },
            span_links: [{ trace_id: 1, attributes: { x: [1, [2, [3]]] } }],
            span_events: [{ name: 'e', time_unix_nano: 1, attributes: {} }],
            type: null,
          },
        ],
      ],
      { useBigInt64: true },
    );
    const span = ok(decodeV04(Buffer.from(payload)))[0]![0]!;
    assert.equal(span.traceId, 7n);
    assert.equal(span.spanId, 300n);
    assert.equal(span.parentId, 70000n);
    assert.equal(span.start, 1_700_000_000_000_000_000n);
    assert.equal(span.type, '');
    assert.deepEqual({ ...span.meta }, { a: 'b' });
    assert.deepEqual({ ...span.metrics }, { f: 0.5, i: -3, big: 2 ** 40 });
  });

  test('a negative id is read as its unsigned 64-bit pattern, as the agent casts it', () => {
    const span = ok(decodeV04(Buffer.from(encode([[{ trace_id: -1n, span_id: 1 }]], { useBigInt64: true }))))[0]![0]!;
    assert.equal(span.traceId, 0xffffffffffffffffn);
  });

  test('a field of the wrong type fails the payload, naming trace, span and field', () => {
    const payload = encode([[{ name: 'ok' }], [{ name: 'ok' }, { name: 'ok', service: 42 }]]);
    const f = failure(decodeV04(Buffer.from(payload)));
    assert.equal(f.reason, 'malformed');
    assert.match(f.message, /trace 1, span 1, field service: expected a string, got an integer/);
  });

  test('a meta value of the wrong type names its key', () => {
    const f = failure(decodeV04(Buffer.from(encode([[{ meta: { 'http.url': 'x', 'http.status_code': 200 } }]]))));
    assert.match(f.message, /trace 0, span 0, field meta\["http.status_code"\]: expected a string, got an integer/);
  });

  test('a float id is refused', () => {
    const f = failure(decodeV04(Buffer.from(encode([[{ span_id: 1.5 }]]))));
    assert.match(f.message, /field span_id: expected an unsigned 64-bit integer, got a float/);
  });

  test('not a list of traces', () => {
    assert.match(failure(decodeV04(Buffer.from(encode({ traces: [] })))).message, /expected an array, got a map/);
    assert.match(failure(decodeV04(Buffer.from(encode([['span']])))).message, /trace 0, span 0: expected a map, got a string/);
    assert.match(failure(decodeV04(Buffer.alloc(0))).message, /ends early/);
    assert.match(failure(decodeV04(Buffer.from([0x90, 0x90]))).message, /1 bytes follow the list of traces/);
  });
});

describe('v0.5 string table', () => {
  const enc = (v: unknown) => Buffer.from(encode(v, { useBigInt64: true }));
  /** A v0.5 span, built by hand: its meta and metrics maps have integer keys, which JS objects cannot express. */
  const span = (over: Record<number, unknown> = {}, fields = 12): Buffer => {
    const s: unknown[] = [0, 1, 2, 1n, 2n, 0n, 10n, 5n, 0, 'META', 'METRICS', 0];
    for (const [i, v] of Object.entries(over)) s[Number(i)] = v;
    const parts = s.slice(0, fields).map((v) =>
      v === 'META' ? Buffer.concat([Buffer.from([0x81]), enc(3), enc(4)]) : v === 'METRICS' ? Buffer.concat([Buffer.from([0x81]), enc(3), enc(1.5)]) : enc(v),
    );
    return Buffer.concat([Buffer.from([0x90 + fields]), ...parts]);
  };
  const strings = ['svc', 'op', 'res', 'k', 'v'];
  const payload = (...spans: Buffer[]) => Buffer.concat([Buffer.from([0x92]), enc(strings), Buffer.from([0x91, 0x90 + spans.length]), ...spans]);

  test('indices resolve to the table', () => {
    const got = ok(decodeV05(payload(span())))[0]![0]!;
    assert.equal(got.service, 'svc');
    assert.equal(got.name, 'op');
    assert.equal(got.resource, 'res');
    assert.equal(got.type, 'svc');
    assert.equal(got.traceId, 1n);
    assert.deepEqual({ ...got.meta }, { k: 'v' });
    assert.deepEqual({ ...got.metrics }, { k: 1.5 });
  });

  test('an index outside the table names the field', () => {
    const f = failure(decodeV05(payload(span({ 1: 99 }))));
    assert.match(f.message, /trace 0, span 0, field name: string index 99 is outside the string table \(5 strings\)/);
  });

  test('a span that is not 12 fields', () => {
    const f = failure(decodeV05(payload(span(), span({}, 3))));
    assert.match(f.message, /trace 0, span 1: a v0.5 span is an array of 12 fields, got 3/);
  });

  test('not [strings, traces]', () => {
    assert.match(failure(decodeV05(enc([[[{}]]]))).message, /expected \[strings, traces\]/);
    assert.match(failure(decodeV05(enc([[1], []]))).message, /string table.*expected a string, got an integer/);
  });
});

describe('hostile payloads', () => {
  test('an array claiming 4 billion elements fails at once, without allocating', () => {
    const f = failure(decodeV04(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x90])));
    assert.match(f.message, /declares 4294967295 elements but only 1 bytes are left/);
    const g = failure(decodeV05(Buffer.from([0x92, 0xdd, 0xff, 0xff, 0xff, 0xff])));
    assert.match(g.message, /string table/);
  });

  test('deep nesting in a skipped field stops at the depth limit, without recursion', () => {
    const depth = 200_000;
    // [[{ span_links: [[[[ ... ]]]] }]]
    const prefix = Buffer.concat([Buffer.from([0x91, 0x91, 0x81]), Buffer.from(encode('span_links'))]);
    const nested = Buffer.alloc(depth, 0x91);
    const f = failure(decodeV04(Buffer.concat([prefix, nested, Buffer.from([0x90])])));
    assert.match(f.message, /field span_links: values nested more than 32 deep/);
  });

  test('more spans than the limit is too large, not malformed', () => {
    const payload = Buffer.from(encode([Array.from({ length: 11 }, () => ({}))]));
    const f = failure(decodeV04(payload, { maxSpans: 10, maxItems: 1000 }));
    assert.equal(f.reason, 'too_large');
    assert.match(f.message, /more than 10 spans/);
    const g = failure(decodeV04(Buffer.from(encode([[{ meta: { a: 'b', c: 'd' } }]])), { maxSpans: 10, maxItems: 2 }));
    assert.equal(g.reason, 'too_large');
  });

  test('the byte 0xc1 (never used) and truncated values fail cleanly', () => {
    assert.match(failure(decodeV04(Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x78, 0xc1]))).message, /0xc1 is not MessagePack/);
    assert.match(failure(decodeV04(Buffer.from([0x91, 0x91, 0x81, 0xa8, ...Buffer.from('trace_id'), 0xcf, 1, 2]))).message, /field trace_id: the payload ends early/);
  });
});
