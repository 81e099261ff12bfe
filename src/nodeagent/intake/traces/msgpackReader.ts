/**
 * A schema-directed MessagePack reader for trace payloads (pure). The decoders (`decode04.ts`,
 * `decode05.ts`) ask for exactly the type each field must have and build `DdSpan`s directly: no
 * generic object tree is ever built, so a hostile payload cannot make the node agent allocate more
 * than the spans it describes. What a generic decoder would expose:
 * - declared lengths are checked against the bytes left before anything is allocated (an array header
 *   claiming 2^32 elements in a 20-byte payload fails at once, with no `new Array(2^32)`);
 * - nesting is only followed where the schema has it; unknown fields are skipped iteratively, with a
 *   depth limit, so deep nesting costs neither stack nor memory;
 * - uint64 values are read exactly, as bigint (span and trace ids use the whole 64 bits).
 * Every failure is a `MsgpackError` carrying the byte offset; the decoders add which trace, span and
 * field it was, and never let one escape.
 */

export class MsgpackError extends Error {
  override name = 'MsgpackError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** What a byte says a value is, for messages ("expected a string, got a map"). */
export function typeName(byte: number): string {
  if (byte <= 0x7f || byte >= 0xe0 || (byte >= 0xcc && byte <= 0xd3)) return 'an integer';
  if (byte <= 0x8f || byte === 0xde || byte === 0xdf) return 'a map';
  if (byte <= 0x9f || byte === 0xdc || byte === 0xdd) return 'an array';
  if (byte <= 0xbf || (byte >= 0xd9 && byte <= 0xdb)) return 'a string';
  switch (byte) {
    case 0xc0:
      return 'nil';
    case 0xc2:
    case 0xc3:
      return 'a boolean';
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return 'binary data';
    case 0xca:
    case 0xcb:
      return 'a float';
    case 0xc1:
      return 'the never-used byte 0xc1';
    default:
      return 'an extension value';
  }
}

/** Strings up to this many bytes are decoded in JS when ASCII (crossing into C++ costs more for them). */
const SHORT_STRING = 24;
/** Short strings seen before are looked up instead of decoded again (keys, services, names repeat). */
const CACHE_MAX_BYTES = 16;
const CACHE_SLOTS = 4096;

/** Skipping unknown fields follows at most this much nesting (the spec's span fields are 3 deep at most). */
export const MAX_SKIP_DEPTH = 32;

export class MsgpackReader {
  pos = 0;
  private readonly view: DataView;
  /** Direct-mapped cache of short strings: slot → [bytes, string]. Per reader: a payload's strings repeat. */
  private readonly cacheKeys: (Uint8Array | undefined)[] = new Array(CACHE_SLOTS);
  private readonly cacheValues: (string | undefined)[] = new Array(CACHE_SLOTS);

  constructor(readonly buf: Buffer) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  peek(): number {
    if (this.pos >= this.buf.length) throw new MsgpackError('the payload ends early', this.pos);
    return this.buf[this.pos]!;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new MsgpackError(`the payload ends early (${n} more bytes needed)`, this.pos);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A declared element count must fit in the bytes left (every element takes at least `minBytes`). */
  private count(n: number, minBytes: number, what: string, at: number): number {
    if (n * minBytes > this.remaining) {
      throw new MsgpackError(`${what} declares ${n} elements but only ${this.remaining} bytes are left`, at);
    }
    return n;
  }

  /** Array header → its length; `nil` → -1 (some tracers send nil for an empty list). */
  readArrayHeader(): number {
    const at = this.pos;
    const b = this.u8();
    if (b >= 0x90 && b <= 0x9f) return this.count(b & 0x0f, 1, 'an array', at);
    if (b === 0xdc) return this.count(this.u16(), 1, 'an array', at);
    if (b === 0xdd) return this.count(this.u32(), 1, 'an array', at);
    if (b === 0xc0) return -1;
    this.pos = at;
    throw new MsgpackError(`expected an array, got ${typeName(b)}`, at);
  }

  /** Map header → its number of entries; `nil` → -1. */
  readMapHeader(): number {
    const at = this.pos;
    const b = this.u8();
    if (b >= 0x80 && b <= 0x8f) return this.count(b & 0x0f, 2, 'a map', at);
    if (b === 0xde) return this.count(this.u16(), 2, 'a map', at);
    if (b === 0xdf) return this.count(this.u32(), 2, 'a map', at);
    if (b === 0xc0) return -1;
    this.pos = at;
    throw new MsgpackError(`expected a map, got ${typeName(b)}`, at);
  }

  /** Length of a str or bin value at the cursor (header consumed), or undefined (cursor unmoved) if it is neither. */
  private stringLength(): number | undefined {
    const b = this.buf[this.pos];
    if (b === undefined) return undefined;
    if (b >= 0xa0 && b <= 0xbf) {
      this.pos++;
      return b & 0x1f;
    }
    switch (b) {
      case 0xd9:
      case 0xc4:
        this.pos++;
        return this.u8();
      case 0xda:
      case 0xc5:
        this.pos++;
        return this.u16();
      case 0xdb:
      case 0xc6:
        this.pos++;
        return this.u32();
      default:
        return undefined;
    }
  }

  /**
   * A string (str or bin, as the agent accepts both); `nil` → ''. Invalid UTF-8 becomes U+FFFD, as the
   * agent repairs it.
   */
  readString(): string {
    const at = this.pos;
    const b = this.peek();
    if (b === 0xc0) {
      this.pos++;
      return '';
    }
    const len = this.stringLength();
    if (len === undefined) throw new MsgpackError(`expected a string, got ${typeName(b)}`, at);
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return this.decodeUtf8(start, len);
  }

  private decodeUtf8(start: number, len: number): string {
    const buf = this.buf;
    if (len === 0) return '';
    if (len <= CACHE_MAX_BYTES) {
      // FNV-1a over the bytes picks the slot; a hit must match byte for byte.
      let h = 0x811c9dc5;
      for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[start + i]!, 0x01000193);
      const slot = (h >>> 0) & (CACHE_SLOTS - 1);
      const key = this.cacheKeys[slot];
      if (key !== undefined && key.length === len) {
        let same = true;
        for (let i = 0; i < len; i++) {
          if (key[i] !== buf[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return this.cacheValues[slot]!;
      }
      const s = this.decodeFresh(start, len);
      this.cacheKeys[slot] = buf.subarray(start, start + len);
      this.cacheValues[slot] = s;
      return s;
    }
    return this.decodeFresh(start, len);
  }

  private decodeFresh(start: number, len: number): string {
    const buf = this.buf;
    if (len <= SHORT_STRING) {
      let ascii = true;
      for (let i = 0; i < len; i++) {
        if (buf[start + i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        let s = '';
        for (let i = 0; i < len; i++) s += String.fromCharCode(buf[start + i]!);
        return s;
      }
    }
    return buf.toString('utf8', start, start + len);
  }

  /** Any integer as a bigint, exactly; `nil` → 0n. `unsigned`: int64 values are taken as their uint64 bits (as the agent casts them). */
  readBigInt(unsigned: boolean): bigint {
    const at = this.pos;
    const b = this.u8();
    if (b <= 0x7f) return BigInt(b);
    if (b >= 0xe0) return unsigned ? BigInt.asUintN(64, BigInt(b - 0x100)) : BigInt(b - 0x100);
    let v: bigint;
    switch (b) {
      case 0xc0:
        return 0n;
      case 0xcc:
        return BigInt(this.u8());
      case 0xcd:
        return BigInt(this.u16());
      case 0xce:
        return BigInt(this.u32());
      case 0xcf:
        this.need(8);
        v = this.view.getBigUint64(this.pos);
        this.pos += 8;
        return unsigned ? v : BigInt.asIntN(64, v);
      case 0xd0:
        this.need(1);
        v = BigInt(this.view.getInt8(this.pos++));
        break;
      case 0xd1:
        this.need(2);
        v = BigInt(this.view.getInt16(this.pos));
        this.pos += 2;
        break;
      case 0xd2:
        this.need(4);
        v = BigInt(this.view.getInt32(this.pos));
        this.pos += 4;
        break;
      case 0xd3:
        this.need(8);
        v = this.view.getBigInt64(this.pos);
        this.pos += 8;
        break;
      case 0xca:
      case 0xcb: {
        // Some tracers write times as doubles; a whole, finite one is taken, truncated.
        this.pos = at;
        const f = this.readNumber();
        if (!Number.isFinite(f)) throw new MsgpackError(`expected an integer, got the float ${f}`, at);
        v = BigInt(Math.trunc(f));
        return unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v);
      }
      default:
        this.pos = at;
        throw new MsgpackError(`expected an integer, got ${typeName(b)}`, at);
    }
    return unsigned ? BigInt.asUintN(64, v) : v;
  }

  /** Integer only (no float), as the agent reads ids: a float id is a broken tracer, not a rounding to guess. */
  readUint64(): bigint {
    const b = this.peek();
    if (b === 0xca || b === 0xcb) throw new MsgpackError('expected an unsigned 64-bit integer, got a float', this.pos);
    return this.readBigInt(true);
  }

  /** Any number (int, uint, float) or boolean as a JS number (64-bit integers beyond 2^53 are rounded); `nil` → 0. */
  readNumber(): number {
    const at = this.pos;
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    let v: number;
    switch (b) {
      case 0xc0:
      case 0xc2:
        return 0;
      case 0xc3:
        return 1;
      case 0xca:
        this.need(4);
        v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      case 0xcb:
        this.need(8);
        v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        this.need(8);
        v = Number(this.view.getBigUint64(this.pos));
        this.pos += 8;
        return v;
      case 0xd0:
        this.need(1);
        return this.view.getInt8(this.pos++);
      case 0xd1:
        this.need(2);
        v = this.view.getInt16(this.pos);
        this.pos += 2;
        return v;
      case 0xd2:
        this.need(4);
        v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      case 0xd3:
        this.need(8);
        v = Number(this.view.getBigInt64(this.pos));
        this.pos += 8;
        return v;
      default:
        this.pos = at;
        throw new MsgpackError(`expected a number, got ${typeName(b)}`, at);
    }
  }

  /** A non-negative integer that fits in a JS number (string-table indices, counts). */
  readIndex(): number {
    const at = this.pos;
    const b = this.peek();
    if (b === 0xca || b === 0xcb) throw new MsgpackError('expected an unsigned integer, got a float', at);
    const v = this.readBigInt(false);
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MsgpackError(`expected an unsigned integer, got ${v}`, at);
    return Number(v);
  }

  /** Whether the value at the cursor is nil; consumes it if so. */
  readNil(): boolean {
    if (this.buf[this.pos] === 0xc0) {
      this.pos++;
      return true;
    }
    return false;
  }

  /**
   * Skips one value of any type (a field this version does not know: `meta_struct`, `span_links`,
   * `span_events`...). Iterative: a count of values still to skip per open container, so nesting uses
   * neither the call stack nor memory beyond `MAX_SKIP_DEPTH` numbers.
   */
  skip(): void {
    const pending: number[] = [1];
    while (pending.length > 0) {
      const top = pending.length - 1;
      if (pending[top] === 0) {
        pending.pop();
        continue;
      }
      pending[top]!--;
      const at = this.pos;
      const b = this.u8();
      let children = 0;
      let bytes = 0;
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) bytes = 0;
      else if (b <= 0x8f) children = 2 * (b & 0x0f);
      else if (b <= 0x9f) children = b & 0x0f;
      else if (b <= 0xbf) bytes = b & 0x1f;
      else {
        switch (b) {
          case 0xc4:
          case 0xd9:
            bytes = this.u8();
            break;
          case 0xc5:
          case 0xda:
            bytes = this.u16();
            break;
          case 0xc6:
          case 0xdb:
            bytes = this.u32();
            break;
          case 0xc7:
            bytes = this.u8() + 1;
            break;
          case 0xc8:
            bytes = this.u16() + 1;
            break;
          case 0xc9:
            bytes = this.u32() + 1;
            break;
          case 0xca:
            bytes = 4;
            break;
          case 0xcb:
            bytes = 8;
            break;
          case 0xcc:
          case 0xd0:
            bytes = 1;
            break;
          case 0xcd:
          case 0xd1:
            bytes = 2;
            break;
          case 0xce:
          case 0xd2:
            bytes = 4;
            break;
          case 0xcf:
          case 0xd3:
            bytes = 8;
            break;
          case 0xd4:
            bytes = 2;
            break;
          case 0xd5:
            bytes = 3;
            break;
          case 0xd6:
            bytes = 5;
            break;
          case 0xd7:
            bytes = 9;
            break;
          case 0xd8:
            bytes = 17;
            break;
          case 0xdc:
            children = this.u16();
            break;
          case 0xdd:
            children = this.u32();
            break;
          case 0xde:
            children = 2 * this.u16();
            break;
          case 0xdf:
            children = 2 * this.u32();
            break;
          default: // 0xc1
            throw new MsgpackError(`${typeName(b)} is not MessagePack`, at);
        }
      }
      if (bytes > 0) {
        this.need(bytes);
        this.pos += bytes;
      }
      if (children > 0) {
        if (children > this.remaining) throw new MsgpackError(`a container declares ${children} values but only ${this.remaining} bytes are left`, at);
        if (pending.length >= MAX_SKIP_DEPTH) throw new MsgpackError(`values nested more than ${MAX_SKIP_DEPTH} deep`, at);
        pending.push(children);
      }
    }
  }
}
