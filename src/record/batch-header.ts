/**
 * The fixed 61-byte header of a Kafka RecordBatch (magic 2), read and patched in place.
 * Layout (big-endian), as in Kafka's DefaultRecordBatch:
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8 | 17 crc uint32
 *   21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64
 *   43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordCount int32 | 61 records
 * The CRC covers attributes..end, so baseOffset, batchLength and partitionLeaderEpoch can be set without
 * re-checksumming.
 */
import { crc32c } from '../../native-bindings/crc32c.js';
import { CorruptRecordError } from '../errors.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
/** Size of the fixed header; also the smallest possible batch. */
export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;
export const DELETE_HORIZON_MASK = 0x40;

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export enum CompressionType {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export enum TimestampType {
  CreateTime = 0,
  LogAppendTime = 1,
}

/** Every header field of one batch, decoded. */
export interface BatchHeader {
  baseOffset: bigint;
  /** Bytes after the batchLength field; the whole batch is `batchLength + LOG_OVERHEAD` bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export function compressionOf(attributes: number): CompressionType {
  return (attributes & COMPRESSION_MASK) as CompressionType;
}
export function timestampTypeOf(attributes: number): TimestampType {
  return attributes & TIMESTAMP_TYPE_MASK ? TimestampType.LogAppendTime : TimestampType.CreateTime;
}
export function isTransactional(attributes: number): boolean {
  return (attributes & TRANSACTIONAL_MASK) !== 0;
}
export function isControl(attributes: number): boolean {
  return (attributes & CONTROL_MASK) !== 0;
}

/** Total size in bytes of the batch starting at `pos`, or -1 if fewer than 12 bytes are available. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (pos + LOG_OVERHEAD > buf.length) return -1;
  return buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
}

export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  if (pos < 0 || pos + BATCH_HEADER_SIZE > buf.length) {
    throw new CorruptRecordError(`batch header needs ${BATCH_HEADER_SIZE} bytes, ${Math.max(0, buf.length - pos)} available`, pos);
  }
  return {
    baseOffset: buf.readBigInt64BE(pos + BASE_OFFSET_OFFSET),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(pos + MAGIC_OFFSET),
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes: buf.readInt16BE(pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: buf.readBigInt64BE(pos + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: buf.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET),
    producerId: buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT_OFFSET),
  };
}

/** CRC-32C of a batch as it should be stored: over attributes..end. */
export function computeBatchCrc(buf: Buffer, pos = 0, size = batchSizeAt(buf, pos)): number {
  return crc32c(buf, pos + ATTRIBUTES_OFFSET, pos + size);
}

/**
 * Checks that `buf[pos..]` starts with one structurally valid v2 batch whose CRC matches, and returns its size.
 * `limit` bounds the batch (defaults to the end of `buf`). Throws CorruptRecordError otherwise; never reads
 * past `limit`.
 */
export function validateBatch(buf: Buffer, pos = 0, limit = buf.length): number {
  if (pos + BATCH_HEADER_SIZE > limit) {
    throw new CorruptRecordError(`truncated batch: ${limit - pos} bytes, header needs ${BATCH_HEADER_SIZE}`, pos);
  }
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  const size = batchLength + LOG_OVERHEAD;
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    throw new CorruptRecordError(`batch length ${batchLength} is smaller than the header`, pos);
  }
  if (pos + size > limit) {
    throw new CorruptRecordError(`truncated batch: length says ${size} bytes, ${limit - pos} available`, pos);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== 2) throw new CorruptRecordError(`unsupported magic ${magic} (only RecordBatch v2 is accepted)`, pos);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  const recordCount = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  if (lastOffsetDelta < 0 || recordCount < 0) {
    throw new CorruptRecordError(`negative lastOffsetDelta ${lastOffsetDelta} or record count ${recordCount}`, pos);
  }
  const stored = buf.readUInt32BE(pos + CRC_OFFSET);
  const actual = computeBatchCrc(buf, pos, size);
  if (stored !== actual) {
    throw new CorruptRecordError(`CRC mismatch: stored ${stored.toString(16)}, computed ${actual.toString(16)}`, pos);
  }
  return size;
}

/** Sets the base offset in place (outside the CRC). */
export function setBaseOffset(buf: Buffer, pos: number, baseOffset: bigint): void {
  buf.writeBigInt64BE(baseOffset, pos + BASE_OFFSET_OFFSET);
}

/** Sets the partition leader epoch in place (outside the CRC). */
export function setPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/** Switches a batch to LogAppendTime with `timestamp` as its max timestamp; re-checksums (these are CRC'd). */
export function setLogAppendTime(buf: Buffer, pos: number, timestamp: bigint): void {
  const attrs = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attrs | TIMESTAMP_TYPE_MASK, pos + ATTRIBUTES_OFFSET);
  buf.writeBigInt64BE(timestamp, pos + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, pos), pos + CRC_OFFSET);
}
