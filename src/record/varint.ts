/**
 * Kafka's variable-length integers (protobuf style, 7 bits per byte, least significant group first):
 * - varint: zig-zag encoded int32, at most 5 bytes;
 * - varlong: zig-zag encoded int64, at most 10 bytes;
 * - unsigned varint: plain uint32 (used by the flexible wire protocol versions), at most 5 bytes.
 *
 * Writers take `(buf, pos, value)` and return the position after the written bytes; callers size the buffer
 * first with the `sizeOf*` functions, so writers do no bounds checks. Readers go through `ByteReader`,
 * which checks bounds and throws CorruptRecordError instead of reading past its end.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';

/** Largest value an unsigned varint can hold. */
export const MAX_UNSIGNED_VARINT = 0xffff_ffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// ---------------------------------------------------------------------------------------------------------
// sizes

/** Bytes needed by an unsigned varint holding `value` (0..2^32-1). */
export function sizeOfUnsignedVarint(value: number): number {
  const v = value >>> 0;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x20_0000) return 3;
  if (v < 0x1000_0000) return 4;
  return 5;
}

/** Bytes needed by the zig-zag varint of the int32 `value`. */
export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint((value << 1) ^ (value >> 31));
}

/** Bytes needed by the zig-zag varlong of `value` (an int64, as a safe-integer number or a bigint). */
export function sizeOfVarlong(value: number | bigint): number {
  if (typeof value === 'number') {
    if ((value | 0) === value) return sizeOfUnsignedVarint((value << 1) ^ (value >> 31));
    if (value >= -(2 ** 52) && value <= 2 ** 52) {
      let z = value >= 0 ? value * 2 : -value * 2 - 1;
      let n = 1;
      while (z >= 128) {
        z = Math.floor(z / 128);
        n++;
      }
      return n;
    }
    value = BigInt(value);
  }
  let z = zigZagBig(value);
  let n = 1;
  while (z >= 128n) {
    z >>= 7n;
    n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// writers

/** Writes `value` (0..2^32-1) as an unsigned varint; returns the position after it. */
export function writeUnsignedVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Writes the int32 `value` as a zig-zag varint; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  // Most varints in a record (lengths, small deltas) fit one byte.
  if (v < 0x80) {
    buf[pos] = v;
    return pos + 1;
  }
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/**
 * Writes the int64 `value` as a zig-zag varlong; returns the position after it. Numbers must be safe
 * integers; anything wider goes through bigint.
 */
export function writeVarlong(buf: Uint8Array, pos: number, value: number | bigint): number {
  if (typeof value === 'number') {
    if ((value | 0) === value) return writeVarint(buf, pos, value);
    if (value >= -(2 ** 52) && value <= 2 ** 52) {
      // Doubles are exact here, so plain arithmetic replaces 64-bit shifts.
      let z = value >= 0 ? value * 2 : -value * 2 - 1;
      while (z >= 128) {
        buf[pos++] = (z % 128) | 0x80;
        z = Math.floor(z / 128);
      }
      buf[pos++] = z;
      return pos;
    }
    value = BigInt(value);
  }
  let z = zigZagBig(value);
  while (z >= 128n) {
    buf[pos++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  buf[pos++] = Number(z);
  return pos;
}

function zigZagBig(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new SluiceError('INVALID_ARGUMENT', `varlong value ${value} is outside int64`);
  }
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

// ---------------------------------------------------------------------------------------------------------
// reader

/**
 * A bounds-checked cursor over `buf[pos..end)`. Every read that would cross `end` (or an over-long varint)
 * throws CorruptRecordError carrying the absolute position, so callers never slice or allocate from
 * unchecked lengths.
 */
export class ByteReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, at = this.pos): never {
    throw new CorruptRecordError(message, at);
  }

  readInt8(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data reading int8');
    const b = this.buf[this.pos++]!;
    return (b << 24) >> 24;
  }

  readUnsignedVarint(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    if (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    const start = pos;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) this.fail('unexpected end of data inside a varint', start);
      const b = buf[pos++]!;
      if (shift === 28) {
        if (b > 0x0f) this.fail('varint is longer than 32 bits', start);
        this.pos = pos;
        return (result + b * 0x1000_0000) >>> 0;
      }
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    /* c8 ignore next */
    return this.fail('unreachable varint state', start);
  }

  /** A zig-zag int32. */
  readVarint(): number {
    const z = this.readUnsignedVarint();
    return (z >>> 1) ^ -(z & 1);
  }

  /**
   * A zig-zag int64 as a number when it has at most 7 groups (|value| < 2^48, which covers every realistic
   * timestamp delta); otherwise NaN with the position unchanged, and the caller falls back to
   * `readVarlongBig`.
   */
  readVarlongNumber(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    const start = pos;
    let z = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= end) this.fail('unexpected end of data inside a varlong', start);
      const b = buf[pos++]!;
      z += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      }
      mul *= 128;
    }
    return NaN;
  }

  /** A zig-zag int64 as a bigint (up to 10 bytes, as Kafka's ByteUtils.readVarlong). */
  readVarlongBig(): bigint {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    const start = pos;
    let z = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= end) this.fail('unexpected end of data inside a varlong', start);
      const b = buf[pos++]!;
      z |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        z = BigInt.asUintN(64, z);
        return (z >> 1n) ^ -(z & 1n);
      }
    }
    return this.fail('varlong is longer than 10 bytes', start);
  }

  /** A zig-zag int64, as a number when exact and a bigint otherwise. */
  readVarlong(): number | bigint {
    const n = this.readVarlongNumber();
    return Number.isNaN(n) ? this.readVarlongBig() : n;
  }

  /** Advances past `n` bytes and returns their start, after checking they exist. */
  skip(n: number, what: string): number {
    const at = this.pos;
    if (n < 0 || n > this.end - at) this.fail(`${what} length ${n} exceeds the ${this.end - at} bytes left`, at);
    this.pos = at + n;
    return at;
  }
}

// ---------------------------------------------------------------------------------------------------------
// one-off helpers (not for hot loops)

/** Result of a standalone varint read. */
export interface VarintRead<T> {
  value: T;
  /** Bytes the encoding took. */
  size: number;
}

export function readVarint(buf: Buffer, pos = 0): VarintRead<number> {
  const r = new ByteReader(buf, pos);
  const value = r.readVarint();
  return { value, size: r.pos - pos };
}

export function readUnsignedVarint(buf: Buffer, pos = 0): VarintRead<number> {
  const r = new ByteReader(buf, pos);
  const value = r.readUnsignedVarint();
  return { value, size: r.pos - pos };
}

export function readVarlong(buf: Buffer, pos = 0): VarintRead<bigint> {
  const r = new ByteReader(buf, pos);
  const value = r.readVarlongBig();
  return { value, size: r.pos - pos };
}

/** Encodes one varint/varlong into a fresh Buffer (convenience for tests and cold paths). */
export function encodeVarint(value: number): Buffer {
  const b = Buffer.allocUnsafe(sizeOfVarint(value));
  writeVarint(b, 0, value);
  return b;
}

export function encodeVarlong(value: number | bigint): Buffer {
  const b = Buffer.allocUnsafe(sizeOfVarlong(value));
  writeVarlong(b, 0, value);
  return b;
}

export function encodeUnsignedVarint(value: number): Buffer {
  const b = Buffer.allocUnsafe(sizeOfUnsignedVarint(value));
  writeUnsignedVarint(b, 0, value);
  return b;
}

