/** Contracts of the storage layer: a partition's log, as its single owner thread writes it and any thread reads it. */

/** Typed topic/log configuration. Parsed from Kafka's config names by `parseLogConfig` (config.ts). */
export interface LogConfig {
  /** segment.bytes — roll the active segment when it would exceed this. Default 1 GiB. */
  segmentBytes: number;
  /** segment.ms — roll when the active segment is older than this. Default 7 days. */
  segmentMs: number;
  /** segment.index.bytes — max size of an offset/time index file. Default 10 MiB. */
  segmentIndexBytes: number;
  /** index.interval.bytes — bytes between sparse index entries. Default 4096. */
  indexIntervalBytes: number;
  /** retention.ms — delete segments whose newest record is older than this; -1 = forever. Default 7 days. */
  retentionMs: number;
  /** retention.bytes — delete oldest segments while the log is larger than this; -1 = unlimited. */
  retentionBytes: number;
  /** cleanup.policy — delete, compact, or both. */
  cleanupPolicy: { delete: boolean; compact: boolean };
  /** delete.retention.ms — how long tombstones survive compaction. Default 1 day. */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio. Default 0.5. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms. Default 0. */
  minCompactionLagMs: number;
  /** max.message.bytes — largest batch accepted. Default 1048588. */
  maxMessageBytes: number;
  /** flush.messages — fsync after this many messages (1 = every batch, as a group commit). Default: never (OS). */
  flushMessages: number;
  /** flush.ms — fsync when the oldest unflushed data is this old. Default: never (OS). */
  flushMs: number;
  /** message.timestamp.type. */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /** file.delete.delay.ms — delay before deleting files of removed segments. Default 60000. */
  fileDeleteDelayMs: number;
  /**
   * min.insync.replicas — in-sync replicas an acks=all append needs. One node has one (the leader), so above 1
   * every acks=all append is refused with NOT_ENOUGH_REPLICAS, as Kafka refuses it. Default 1.
   */
  minInsyncReplicas: number;
  /** Accepted-but-ignored Kafka keys (compression.type, message.timestamp.*.max.ms, ...) kept for DescribeConfigs. */
  otherConfigs?: Readonly<Record<string, string>>;
}

/** A source of time in ms since the epoch; the engine passes a shared manual clock in tests. */
export type Clock = () => number;

/** Where the storage layer reports what it did (recovery truncations, corruption, deletions). */
export interface LogSink {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Result of appending one or more batches. */
export interface AppendInfo {
  firstOffset: bigint;
  lastOffset: bigint;
  /** LogAppendTime assigned to the batches, or -1n for CreateTime topics. */
  logAppendTime: bigint;
  maxTimestamp: bigint;
  recordCount: number;
  /** Byte size written. */
  size: number;
}

/** What a read returns: whole batches, zero-copy where possible. */
export interface ReadResult {
  /** Concatenated whole batches (may be empty). A slice of a memory-mapped segment: do not write to it. */
  records: Buffer;
  /** Offset after the last batch returned (= the next offset to read), or the requested offset if empty. */
  nextOffset: bigint;
  highWatermark: bigint;
  logStartOffset: bigint;
  logEndOffset: bigint;
  lastStableOffset: bigint;
}

export interface ReadOptions {
  /** Soft limit: at least one whole batch is returned even if larger (Kafka's "min one message"). */
  maxBytes: number;
  /** Upper bound (exclusive) of offsets to return; defaults to the high watermark. */
  maxOffset?: bigint;
}

/** A timestamp lookup result (offsetsForTimes). */
export interface TimestampOffset {
  offset: bigint;
  timestamp: bigint;
}

/** What recovery found and did when a log was opened without a clean-shutdown marker. */
export interface RecoveryReport {
  clean: boolean;
  /** Bytes cut from the tail of the active segment (torn or corrupt batches). */
  truncatedBytes: number;
  /** Offset where the valid log ends after recovery. */
  logEndOffset: bigint;
  /** Human-readable lines of what was cut and rebuilt. */
  actions: string[];
  /** Offsets cut from the end of the log ([from, to) as they were before recovery); null if nothing was cut. */
  truncatedOffsets: { from: bigint; to: bigint } | null;
  /** Invalid data found: file name (relative to the partition dir), byte position, and why. */
  corruptions: CorruptionInfo[];
  /** Index files (names) rebuilt from their log. */
  rebuiltIndexes: string[];
  /** Segments whose batches were read and CRC-checked, and how many bytes that was (0 on a clean open). */
  scannedSegments: number;
  scannedBytes: number;
}

/** One piece of invalid on-disk data found by recovery. */
export interface CorruptionInfo {
  file: string;
  position: number;
  reason: string;
  /** True if this is inside the last segment's unflushed tail (expected after a crash). */
  inTail: boolean;
}
