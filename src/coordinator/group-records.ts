/**
 * Group metadata records of the `__consumer_offsets` topic, in Kafka's binary layout, so a topic written
 * by Sluice reads like Kafka's (and tools that dump it, e.g. kafka-dump-log's offsets decoder, work).
 *
 * Key (GroupMetadataKey; its version prefix 2 tells it apart from offset-commit keys 0/1):
 *   version int16 = 2 | group string
 * Value (GroupMetadataValue, version-prefixed; Sluice writes version 3, reads 0-4):
 *   version int16 | protocolType string | generation int32 | protocol nullable string
 *   | leader nullable string | currentStateTimestamp int64 (v2+)
 *   | members int32 count, each:
 *       memberId string | groupInstanceId nullable string (v3+) | clientId string | clientHost string
 *       | rebalanceTimeout int32 (v1+) | sessionTimeout int32 | subscription bytes | assignment bytes
 * Strings are int16 length + UTF-8 (-1 = null), bytes are int32 length + data, all big-endian.
 * Version 4 is the flexible form (compact lengths as unsigned varints of length+1, tagged fields); it is
 * only decoded, as Kafka itself still writes version 3.
 * A null value (tombstone) deletes the group.
 */
import { CorruptRecordError } from '../errors.js';

export const GROUP_METADATA_KEY_VERSION = 2;
export const GROUP_METADATA_VALUE_VERSION = 3;
/** Highest value version `decodeGroupMetadataValue` understands. */
export const GROUP_METADATA_VALUE_MAX_VERSION = 4;

export interface GroupMetadataMemberRecord {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Version 0 has none; decoded as the session timeout (as Kafka does). */
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataRecord {
  /** '' when the group never had a protocol type. */
  protocolType: string;
  generation: number;
  /** null while the group is Empty. */
  protocol: string | null;
  leader: string | null;
  /** ms since the epoch of the last state change; -1 when unknown (versions 0-1). */
  currentStateTimestamp: number;
  members: GroupMetadataMemberRecord[];
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

function checkInt16Length(len: number, what: string): void {
  if (len > 0x7fff) throw new RangeError(`${what} is ${len} bytes; Kafka strings hold at most 32767`);
}

export function encodeGroupMetadataKey(groupId: string): Buffer {
  const len = utf8Length(groupId);
  checkInt16Length(len, 'group id');
  const buf = Buffer.allocUnsafe(4 + len);
  buf.writeInt16BE(GROUP_METADATA_KEY_VERSION, 0);
  buf.writeInt16BE(len, 2);
  buf.write(groupId, 4, 'utf8');
  return buf;
}

/** The int16 version prefix of a `__consumer_offsets` key: 0/1 offset commit, 2 group metadata. */
export function consumerOffsetsKeyVersion(key: Buffer): number {
  if (key.length < 2) throw new CorruptRecordError('__consumer_offsets key shorter than its version', 0);
  return key.readInt16BE(0);
}

export function isGroupMetadataKey(key: Buffer): boolean {
  return key.length >= 2 && key.readInt16BE(0) === GROUP_METADATA_KEY_VERSION;
}

export function decodeGroupMetadataKey(key: Buffer): string {
  const version = consumerOffsetsKeyVersion(key);
  if (version !== GROUP_METADATA_KEY_VERSION) {
    throw new CorruptRecordError(`not a group metadata key (version ${version})`, 0);
  }
  const r = new Reader(key, 2);
  // Trailing bytes are ignored, as Kafka's readers do.
  return r.string();
}

/** Encodes a value in `version` 0-3 (default 3, what Kafka writes); fields a version lacks are left out. */
export function encodeGroupMetadataValue(value: GroupMetadataRecord, version: number = GROUP_METADATA_VALUE_VERSION): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > 3) {
    throw new RangeError(`group metadata value version ${version} cannot be encoded (0-3)`);
  }
  const w = new Writer();
  w.int16(version);
  w.string(value.protocolType);
  w.int32(value.generation);
  w.nullableString(value.protocol);
  w.nullableString(value.leader);
  if (version >= 2) w.int64(value.currentStateTimestamp);
  w.int32(value.members.length);
  for (const m of value.members) {
    w.string(m.memberId);
    if (version >= 3) w.nullableString(m.groupInstanceId);
    w.string(m.clientId);
    w.string(m.clientHost);
    if (version >= 1) w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.finish();
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataRecord {
  const r = new Reader(buf, 0);
  const version = r.int16();
  if (version < 0 || version > GROUP_METADATA_VALUE_MAX_VERSION) {
    throw new CorruptRecordError(`unknown group metadata value version ${version}`, 0);
  }
  const flexible = version >= 4;
  const str = (): string => (flexible ? r.compactString() : r.string());
  const nstr = (): string | null => (flexible ? r.compactNullableString() : r.nullableString());
  const bytes = (): Buffer => (flexible ? r.compactBytes() : r.bytes());

  const protocolType = str();
  const generation = r.int32();
  const protocol = nstr();
  const leader = nstr();
  const currentStateTimestamp = version >= 2 ? r.int64() : -1;
  const count = flexible ? r.compactArrayLength() : r.int32();
  if (count < 0) throw new CorruptRecordError('null members array in group metadata value', r.pos);
  const members: GroupMetadataMemberRecord[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = str();
    const groupInstanceId = version >= 3 ? nstr() : null;
    const clientId = str();
    const clientHost = str();
    const rebalance = version >= 1 ? r.int32() : null;
    const sessionTimeoutMs = r.int32();
    const subscription = bytes();
    const assignment = bytes();
    if (flexible) r.skipTaggedFields();
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalance ?? sessionTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  if (flexible) r.skipTaggedFields();
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(v: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v, 0);
    this.parts.push(b);
  }
  int32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    this.parts.push(b);
  }
  int64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(Math.trunc(v)), 0);
    this.parts.push(b);
  }
  string(s: string): void {
    const data = Buffer.from(s, 'utf8');
    checkInt16Length(data.length, 'string');
    this.int16(data.length);
    this.parts.push(data);
  }
  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }
  bytes(b: Buffer): void {
    this.int32(b.length);
    this.parts.push(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
  ) {}
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new CorruptRecordError(`group metadata record truncated: need ${n} bytes`, this.pos);
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
  int64(): number {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return Number(v);
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
