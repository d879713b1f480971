/**
 * Chunked writer of Kafka protocol primitives.
 *
 * Small fields go into a scratch buffer; `records` values are appended to the chunk list BY REFERENCE
 * (never copied), so slices of memory-mapped segment files go straight to the socket. `finish()` returns
 * the chunks in order plus their total length, ready for
 * `socket.cork(); for (const c of chunks) socket.write(c); socket.uncork()` or a writev.
 */
import { ProtocolError } from './errors.js';

/** What a `records` field accepts on encode: one buffer or a list of buffers (all sent by reference). */
export type RecordsInput = Buffer | readonly Buffer[] | null;

export interface EncodedFrame {
  /** Buffers to send in order. Records buffers appear here as the caller's own objects. */
  readonly chunks: Buffer[];
  /** Sum of the chunk lengths (including the 4-byte size prefix when the writer was created with one). */
  readonly byteLength: number;
}

export interface WriterOptions {
  /** Initial scratch capacity in bytes (default 512). The scratch doubles when full; old bytes are not moved. */
  initialCapacity?: number;
  /** Reserve a 4-byte big-endian size prefix, filled in by `finish()` with the length of what follows. */
  sizePrefix?: boolean;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class Writer {
  private buf: Buffer;
  /** View over `buf`: DataView's 64-bit accessors are several times faster than Buffer's. */
  private view: DataView;
  private pos = 0;
  /** Start in `buf` of the bytes not yet moved to `chunks`. */
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];
  /** Bytes already in `chunks`. */
  private flushed = 0;
  private readonly first: Buffer;
  private readonly sizePrefix: boolean;
  private finished = false;
  /** Bytes of records data appended by reference (never copied). */
  recordsBytesReferenced = 0;

  constructor(options: WriterOptions = {}) {
    this.buf = Buffer.allocUnsafe(Math.max(16, options.initialCapacity ?? 512));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.first = this.buf;
    this.sizePrefix = options.sizePrefix === true;
    if (this.sizePrefix) this.pos = 4;
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.flushed + this.pos - this.chunkStart;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.finished) throw new ProtocolError('writer already finished');
    this.flushScratch();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.pos = 0;
    this.chunkStart = 0;
  }

  private flushScratch(): void {
    if (this.pos > this.chunkStart) {
      this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
      this.flushed += this.pos - this.chunkStart;
      this.chunkStart = this.pos;
    }
  }

  /** A null where the schema forbids it at the version being encoded. */
  nullError(field: string): never {
    throw new ProtocolError(`null value for non-nullable field ${field}`);
  }

  nonNull<T>(value: T | null, field: string): T {
    if (value === null) this.nullError(field);
    return value;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ProtocolError(`uvarint out of range: ${v}`);
    this.ensure(5);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }

  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: bigint): void {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    const b = this.buf;
    while (u >= 0x80n) {
      b[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    b[this.pos++] = Number(u);
  }

  uuid(v: string): void {
    if (!UUID_RE.test(v)) throw new ProtocolError(`invalid uuid ${JSON.stringify(v)}`);
    this.ensure(16);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++;
      b[p++] = parseInt(v.slice(i, i + 2), 16);
    }
    this.pos = p;
  }

  private utf8(s: string, len: number): void {
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  string(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new ProtocolError(`string of ${len} bytes exceeds 32767`);
    this.int16(len);
    this.utf8(s, len);
  }

  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }

  compactString(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new ProtocolError(`string of ${len} bytes exceeds 32767`);
    this.uvarint(len + 1);
    this.utf8(s, len);
  }

  compactNullableString(s: string | null): void {
    if (s === null) this.uvarint(0);
    else this.compactString(s);
  }

  /** Copies `b` into the scratch buffer (for small values; records use `records()`). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytes(b: Buffer): void {
    this.int32(b.length);
    this.raw(b);
  }

  nullableBytes(b: Buffer | null): void {
    if (b === null) this.int32(-1);
    else this.bytes(b);
  }

  compactBytes(b: Buffer): void {
    this.uvarint(b.length + 1);
    this.raw(b);
  }

  compactNullableBytes(b: Buffer | null): void {
    if (b === null) this.uvarint(0);
    else this.compactBytes(b);
  }

  /**
   * A `records` field: length prefix (int32, or uvarint length+1 when `compact`), then the buffers
   * appended to the chunk list by reference. Null writes the null marker.
   */
  records(r: RecordsInput, compact: boolean): void {
    if (r === null) {
      if (compact) this.uvarint(0);
      else this.int32(-1);
      return;
    }
    const list: readonly Buffer[] = Buffer.isBuffer(r) ? [r] : r;
    let total = 0;
    for (let i = 0; i < list.length; i++) total += list[i]!.length;
    if (total > 0x7fffffff) throw new ProtocolError(`records of ${total} bytes exceed a frame`);
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    if (this.finished) throw new ProtocolError('writer already finished');
    this.flushScratch();
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.length > 0) this.chunks.push(c);
    }
    this.flushed += total;
    this.recordsBytesReferenced += total;
  }

  /** Appends a tagged field whose value was encoded into `value` (a separate writer without records). */
  taggedField(tag: number, value: Writer): void {
    const { chunks, byteLength } = value.finish();
    this.uvarint(tag);
    this.uvarint(byteLength);
    for (const c of chunks) this.raw(c);
  }

  /** Ends writing: the chunks in order and their total length (with the size prefix filled in, if any). */
  finish(): EncodedFrame {
    if (this.finished) throw new ProtocolError('writer already finished');
    this.flushScratch();
    this.finished = true;
    // An empty scratch makes any later write reach ensure(), which rejects it.
    this.buf = Buffer.alloc(0);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, 0);
    this.pos = 0;
    this.chunkStart = 0;
    if (this.sizePrefix) this.first.writeInt32BE(this.flushed - 4, 0);
    return { chunks: this.chunks, byteLength: this.flushed };
  }

  /** Ends writing and concatenates into one buffer (copies: for tests and small messages). */
  toBuffer(): Buffer {
    const { chunks, byteLength } = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, byteLength);
  }
}
