/**
 * Bounds-checked big-endian reading and writing of Kafka's classic record layouts (int16-length strings, -1 for
 * null, int32-length bytes; compact forms for flexible versions), as the `__consumer_offsets` keys and values
 * of committed offsets and group metadata use them. Malformed input is a CorruptRecordError with its position.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';

const INT16_STRING_MAX = 0x7fff;

export class RecordReader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
  ) {}

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new CorruptRecordError(`record truncated: need ${n} bytes, ${this.buf.length - this.pos} left`, this.pos);
    }
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  private utf8(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  private slice(len: number): Buffer {
    this.need(len);
    // A copy, so a decoded record does not pin the (possibly large) buffer it was read from.
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return b;
  }
  string(): string {
    const at = this.pos;
    const s = this.nullableString();
    if (s === null) throw new CorruptRecordError('null in a non-nullable string', at);
    return s;
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) throw new CorruptRecordError(`bad string length ${len}`, this.pos - 2);
    return this.utf8(len);
  }
  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) throw new CorruptRecordError(`bad bytes length ${len}`, this.pos - 4);
    return this.slice(len);
  }
  uvarint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new CorruptRecordError('varint too long', this.pos);
  }
  compactNullableString(): string | null {
    const n = this.uvarint();
    return n === 0 ? null : this.utf8(n - 1);
  }
  compactString(): string {
    const at = this.pos;
    const s = this.compactNullableString();
    if (s === null) throw new CorruptRecordError('null in a non-nullable compact string', at);
    return s;
  }
  compactBytes(): Buffer {
    const at = this.pos;
    const n = this.uvarint();
    if (n === 0) throw new CorruptRecordError('null in non-nullable compact bytes', at);
    return this.slice(n - 1);
  }
  compactArrayLength(): number {
    return this.uvarint() - 1;
  }
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size);
      this.pos += size;
    }
  }
}

export class RecordWriter {
  private readonly parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v, 0);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    this.parts.push(b);
    return this;
  }
  int64(v: bigint | number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)), 0);
    this.parts.push(b);
    return this;
  }
  /** `what` names the field in the error when the string is too long for an int16 length. */
  string(s: string, what = 'string'): this {
    const data = Buffer.from(s, 'utf8');
    if (data.length > INT16_STRING_MAX) throw new SluiceError('INVALID_ARGUMENT', `${what} is ${data.length} bytes; Kafka strings hold at most 32767`);
    this.int16(data.length);
    this.parts.push(data);
    return this;
  }
  nullableString(s: string | null, what = 'string'): this {
    return s === null ? this.int16(-1) : this.string(s, what);
  }
  bytes(b: Buffer): this {
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
