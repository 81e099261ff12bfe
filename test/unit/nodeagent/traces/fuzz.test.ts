/**
 * Fuzz of the trace decoders (fast-check): random bytes, random MessagePack values, and real dd-trace
 * payloads corrupted (bytes flipped, cut short, spliced). Nothing may throw; every result is a decoded
 * payload or a failure with a message; and what a payload makes the decoder allocate is bounded by its
 * size: every span, tag and string-table entry takes at least one byte of input, so the decoded items
 * never outnumber the payload's bytes (no amplification, whatever the input claims).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { decodeV04 } from '../../../../src/nodeagent/intake/traces/decode04.js';
import { decodeV05 } from '../../../../src/nodeagent/intake/traces/decode05.js';
import type { DecodeResult } from '../../../../src/nodeagent/intake/traces/decodeCommon.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';

const RUNS = Number(process.env['TETHER_FUZZ_RUNS'] ?? 2000);

function checkBounded(payload: Uint8Array, decode: (b: Buffer) => DecodeResult): void {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let r: DecodeResult;
  try {
    r = decode(buf);
  } catch (e) {
    assert.fail(`the decoder threw on ${buf.toString('hex').slice(0, 200)}: ${String(e)}`);
  }
  if (!r.ok) {
    assert.equal(typeof r.message, 'string');
    assert.ok(r.message.length > 0 && r.message.length < 2000, 'a bounded message');
    return;
  }
  let items = 0;
  for (const t of r.traces) {
    for (const s of t) items += 1 + Object.keys(s.meta).length + Object.keys(s.metrics).length;
  }
  assert.ok(items <= buf.length, `${items} items decoded from ${buf.length} bytes`);
}

const decoders = [
  ['v0.4', decodeV04],
  ['v0.5', decodeV05],
] as const;

/** MessagePack values of every kind, nested, including 64-bit integers. */
const msgpackValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string(),
    fc.uint8Array({ maxLength: 16 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.constantFrom('trace_id', 'span_id', 'name', 'meta', 'metrics', 'start', 'service', 'error', 'type'), fc.string()), tie('value'), { maxKeys: 6 }),
  ),
})).value;

function safeEncode(v: unknown): Uint8Array {
  // Values beyond int64/uint64 (a bigint above 2^64-1 is not generated) always encode.
  return encode(v, { useBigInt64: true });
}

describe('trace decoders under fuzz', () => {
  for (const [name, decode] of decoders) {
    test(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (b) => checkBounded(b, decode)),
        { numRuns: RUNS },
      );
    });

    test(`${name}: random MessagePack values, in the payload's outer shapes too`, () => {
      fc.assert(
        fc.property(msgpackValue, fc.constantFrom('bare', 'traces', 'v05'), (v, shape) => {
          const wrapped = shape === 'bare' ? v : shape === 'traces' ? [[v]] : [['a', 'b'], [[v]]];
          checkBounded(safeEncode(wrapped), decode);
        }),
        { numRuns: RUNS },
      );
    });

    const version = name === 'v0.4' ? '0.4' : '0.5';
    const real = ddTraceEncode(version, [[sampleSpan(0), sampleSpan(1)], [sampleSpan(2)]]);
    test(`${name}: dd-trace payloads with bytes changed, cut short or spliced`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: real.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
          fc.nat({ max: real.length }),
          fc.uint8Array({ maxLength: 32 }),
          (flips, cut, splice) => {
            const b = Buffer.from(real);
            for (const [at, byte] of flips) b[at] = byte;
            checkBounded(Buffer.concat([b.subarray(0, cut), splice, b.subarray(cut)]), decode);
            checkBounded(b.subarray(0, cut), decode);
          },
        ),
        { numRuns: RUNS },
      );
    });
  }
});
