/**
 * Bounds-checked reader of Kafka protocol primitives over one frame.
 *
 * Every read checks the remaining length first and throws on malformed input (a `ProtocolError`, or what
 * the reader's `MalformedError` makes), so no length field (even 2^31) can make it allocate or loop beyond
 * the bytes actually present, and nothing surfaces as a bare RangeError. Bytes values are `subarray`s of the
 * frame (no copy): they stay valid only as long as the caller keeps the frame's memory untouched.
 */
import { ProtocolError } from './errors.js';

/**
 * Makes the error a reader throws for malformed bytes at `offset`. Bytes that are not a request are a
 * ProtocolError; other users of Kafka layouts (e.g. `__consumer_offsets` records) name their own fault.
 */
export type MalformedError = (message: string, offset: number) => Error;

const protocolError: MalformedError = (message, offset) => new ProtocolError(message, offset);

/** The all-zero UUID, Kafka's default for uuid fields. UUIDs are 36-char lowercase strings. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
/** Shared empty buffer used as the default of non-nullable bytes fields (length 0, so nothing can mutate it). */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

const MAX_INT16_STRING = 0x7fff;

export class Reader {
  readonly buf: Buffer;
  /** Created on first 64-bit read: DataView's 64-bit accessors are several times faster than Buffer's. */
  private view: DataView | undefined;
  offset: number;
  readonly end: number;
  /** Only called on the failure path, so every reader keeps one shape and the reads stay monomorphic. */
  private readonly malformed: MalformedError;

  constructor(buf: Buffer, offset = 0, end = buf.length, malformed: MalformedError = protocolError) {
    if (!Number.isInteger(offset) || !Number.isInteger(end) || offset < 0 || end > buf.length || offset > end) {
      throw malformed(`invalid reader window [${offset}, ${end}) over ${buf.length} bytes`, -1);
    }
    this.buf = buf;
    this.offset = offset;
    this.end = end;
    this.malformed = malformed;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(message: string): never {
    throw this.malformed(message, this.offset);
  }

  /** A null where the schema forbids it at this version. */
  nullError(field: string): never {
    throw this.malformed(`null value for non-nullable field ${field}`, this.offset);
  }

  private need(n: number): void {
    if (n > this.end - this.offset) {
      throw this.malformed(`frame too short: need ${n} bytes, ${this.end - this.offset} left`, this.offset);
    }
  }

  int8(): number {
    this.need(1);
    return (this.buf[this.offset++]! << 24) >> 24;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.offset++] !== 0;
  }

  int16(): number {
    this.need(2);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return ((b[o]! << 24) | (b[o + 1]! << 16)) >> 16;
  }

  uint16(): number {
    this.need(2);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  int32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 4;
    return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  int64(): bigint {
    this.need(8);
    const v = (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)).getBigInt64(this.offset);
    this.offset += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)).getFloat64(this.offset);
    this.offset += 8;
    return v;
  }

  /** Unsigned LEB128 varint of at most 32 bits (5 bytes), as Kafka's ByteUtils.readUnsignedVarint. */
  uvarint(): number {
    const b = this.buf;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) this.fail('frame too short inside a varint');
      const byte = b[this.offset++]!;
      if (i === 4 && byte > 0x0f) this.fail('varint exceeds 32 bits');
      value += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return value;
      mul *= 128;
    }
    return this.fail('varint longer than 5 bytes');
  }

  /** Zig-zag signed 32-bit varint. */
  varint(): number {
    const u = this.uvarint();
    return ((u >>> 1) ^ -(u & 1)) | 0;
  }

  /** Zig-zag signed 64-bit varint (at most 10 bytes). */
  varlong(): bigint {
    const b = this.buf;
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) this.fail('frame too short inside a varlong');
      const byte = b[this.offset++]!;
      if (i === 9 && byte > 0x01) this.fail('varlong exceeds 64 bits');
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asIntN(64, (value >> 1n) ^ -(value & 1n));
      shift += 7n;
    }
    return this.fail('varlong longer than 10 bytes');
  }

  uuid(): string {
    this.need(16);
    const h = this.buf.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  private utf8(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }

  private slice(len: number): Buffer {
    this.need(len);
    const s = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return s;
  }

  /** int16-length string; -1 (null) is an error here. */
  string(): string {
    const len = this.int16();
    if (len < 0) this.fail(len === -1 ? 'null string where a value is required' : `negative string length ${len}`);
    return this.utf8(len);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) this.fail(`negative string length ${len}`);
    return this.utf8(len);
  }

  /** Uvarint (length + 1) string; 0 (null) is an error here. */
  compactString(): string {
    const n = this.uvarint();
    if (n === 0) this.fail('null compact string where a value is required');
    if (n - 1 > MAX_INT16_STRING) this.fail(`compact string length ${n - 1} exceeds ${MAX_INT16_STRING}`);
    return this.utf8(n - 1);
  }

  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    if (n - 1 > MAX_INT16_STRING) this.fail(`compact string length ${n - 1} exceeds ${MAX_INT16_STRING}`);
    return this.utf8(n - 1);
  }

  /** int32-length bytes, as a zero-copy view of the frame. */
  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) this.fail(len === -1 ? 'null bytes where a value is required' : `negative bytes length ${len}`);
    return this.slice(len);
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) this.fail(`negative bytes length ${len}`);
    return this.slice(len);
  }

  compactBytes(): Buffer {
    const n = this.uvarint();
    if (n === 0) this.fail('null compact bytes where a value is required');
    return this.slice(n - 1);
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.slice(n - 1);
  }

  /**
   * int32 array count: -1 means null. Every element takes at least one byte, so a count larger than
   * the bytes left is rejected before anything is allocated.
   */
  arrayLen(): number {
    const n = this.int32();
    if (n < -1) this.fail(`negative array length ${n}`);
    if (n > this.end - this.offset) this.fail(`array length ${n} exceeds the ${this.end - this.offset} bytes left`);
    return n;
  }

  /** Uvarint (count + 1) array length: returns -1 for null. */
  compactArrayLen(): number {
    const n = this.uvarint() - 1;
    if (n > this.end - this.offset) this.fail(`array length ${n} exceeds the ${this.end - this.offset} bytes left`);
    return n;
  }

  /** Skips a tagged-field section whose tags are all unknown to the schema at this version. */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size);
      this.offset += size;
    }
  }

  /** Reads a tagged field's size and returns the offset where its value must end. */
  taggedEnd(): number {
    const size = this.uvarint();
    this.need(size);
    return this.offset + size;
  }

  /** After reading a known tagged field: its value must have used exactly the declared size. */
  checkTaggedEnd(end: number, field: string): void {
    if (this.offset !== end) this.fail(`tagged field ${field} does not match its declared size`);
  }

  /** Skips an unknown tagged field (`end` came from `taggedEnd`, so it is in bounds). */
  skipTo(end: number): void {
    this.offset = end;
  }
}
