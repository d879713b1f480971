/** The user-facing shapes of records, as the codecs in this folder encode and decode them. */
import type { CompressionType, TimestampType } from './batch-header.js';

export interface RecordHeader {
  key: string;
  /** null is a header with a null value, which Kafka allows. */
  value: Buffer | null;
}

/** One record as a producer gives it. */
export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: RecordHeader[] | Record<string, Buffer | string>;
  /** ms since the epoch; defaults to the time of batching. */
  timestamp?: number | bigint;
}

/** One decoded record, with its absolute offset and timestamp. */
export interface LogRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Options for building a RecordBatch v2. */
export interface BatchEncodeOptions {
  baseOffset?: bigint; // default 0n: the log assigns real offsets on append
  compression?: CompressionType; // default None
  compressionLevel?: number;
  timestampType?: TimestampType; // default CreateTime
  /** Used for records without their own timestamp; default Date.now(). */
  now?: number | bigint;
  producerId?: bigint; // default -1n
  producerEpoch?: number; // default -1
  baseSequence?: number; // default -1
  partitionLeaderEpoch?: number; // default -1
  transactional?: boolean;
  control?: boolean;
}

/** A fully decoded batch: header fields plus its records. */
export interface DecodedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  partitionLeaderEpoch: number;
  compression: CompressionType;
  timestampType: TimestampType;
  transactional: boolean;
  control: boolean;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  /** The raw attributes field (codec, timestamp type, transactional, control, delete-horizon bits). */
  attributes: number;
  records: LogRecord[];
  /** Total size of the batch in bytes. */
  sizeInBytes: number;
}
