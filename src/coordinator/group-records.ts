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
import { recordReader, recordWriter, writeNullableString, writeString } from './record-io.js';

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

export function encodeGroupMetadataKey(groupId: string): Buffer {
  const w = recordWriter();
  w.int16(GROUP_METADATA_KEY_VERSION);
  writeString(w, groupId, 'group id');
  return w.toBuffer();
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
  const r = recordReader(key, 2);
  // Trailing bytes are ignored, as Kafka's readers do.
  return r.string();
}

/** Encodes a value in `version` 0-3 (default 3, what Kafka writes); fields a version lacks are left out. */
export function encodeGroupMetadataValue(value: GroupMetadataRecord, version: number = GROUP_METADATA_VALUE_VERSION): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > 3) {
    throw new RangeError(`group metadata value version ${version} cannot be encoded (0-3)`);
  }
  const w = recordWriter();
  w.int16(version);
  writeString(w, value.protocolType);
  w.int32(value.generation);
  writeNullableString(w, value.protocol);
  writeNullableString(w, value.leader);
  if (version >= 2) w.int64(BigInt(Math.trunc(value.currentStateTimestamp)));
  w.int32(value.members.length);
  for (const m of value.members) {
    writeString(w, m.memberId);
    if (version >= 3) writeNullableString(w, m.groupInstanceId);
    writeString(w, m.clientId);
    writeString(w, m.clientHost);
    if (version >= 1) w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.toBuffer();
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataRecord {
  const r = recordReader(buf);
  const version = r.int16();
  if (version < 0 || version > GROUP_METADATA_VALUE_MAX_VERSION) {
    throw new CorruptRecordError(`unknown group metadata value version ${version}`, 0);
  }
  const flexible = version >= 4;
  const str = (): string => (flexible ? r.compactString() : r.string());
  const nstr = (): string | null => (flexible ? r.compactNullableString() : r.nullableString());
  // A copy, so a decoded record does not pin the (possibly large) buffer it was read from.
  const bytes = (): Buffer => Buffer.from(flexible ? r.compactBytes() : r.bytes());

  const protocolType = str();
  const generation = r.int32();
  const protocol = nstr();
  const leader = nstr();
  const currentStateTimestamp = version >= 2 ? Number(r.int64()) : -1;
  const count = flexible ? r.compactArrayLen() : r.int32();
  if (count < 0) throw new CorruptRecordError('null members array in group metadata value', r.offset);
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
