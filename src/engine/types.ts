/**
 * The engine's public surface: what an embedding app, the embedded clients and every frontend use.
 * A frontend never touches a file; everything goes through these calls.
 */
import type { ReadResult, TimestampOffset } from '../storage/types.js';
import type { CorruptionPolicy } from '../storage/recovery.js';
import type { ProducerIdManager, TopicMetadataStore } from './metadata.js';

/** ms since the epoch. */
export type Millis = number;

/** acks as Kafka defines them: 0 = don't wait, 1 = written by the owner, -1/'all' = durable per the topic's flush policy. */
export type Acks = 0 | 1 | -1 | 'all';

/** A logger with pino's call shape (pino loggers fit). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SluiceOptions {
  /** Directory holding all partitions and metadata; created if missing. */
  dataDir: string;
  /** Owner worker threads; partitions are spread over them. Default: available cores. */
  owners?: number;
  /** Bytes of each owner's SharedArrayBuffer append ring. Default 8 MiB. */
  ringBytes?: number;
  /** Default topic configs, by Kafka name (e.g. { 'retention.ms': '3600000' }). */
  topicDefaults?: Record<string, string>;
  /** Partitions for auto-created topics (num.partitions). Default 1. */
  defaultPartitions?: number;
  /** Time source shared with the owner threads; default the system clock. */
  clock?: ManualClock;
  /** How often owners run retention/compaction (log.retention.check.interval.ms). Default 300000. */
  maintenanceIntervalMs?: number;
  /**
   * producer.id.expiration.ms: a partition forgets an idempotent producer whose last batch is this old (checked
   * at maintenance, with the engine clock). Default 86400000 (1 day).
   */
  producerIdExpirationMs?: number;
  logger?: Logger;
  /** Partitions of `__consumer_offsets` when it is created (offsets.topic.num.partitions). Default 50. */
  offsetsTopicPartitions?: number;
  /**
   * What opening a partition does when a segment before its last one holds invalid data: 'refuse' (default)
   * fails the open with the file and byte; 'truncate' keeps the data before it and deletes the rest.
   */
  onCorruption?: CorruptionPolicy;
  /** This node's id (Kafka's broker.id): with the local topic store, the leader of every partition. Default 0. */
  nodeId?: number;
  /** Where topic records live. Default: files under `<dataDir>/meta/topics/` (`LocalTopicStore`). */
  topicStore?: TopicMetadataStore;
  /** Where producer ids come from. Default: files under `<dataDir>/meta/` (`LocalProducerIdManager`). */
  producerIds?: ProducerIdManager;
}

/**
 * A controllable clock whose time lives in shared memory, so owner threads see the same time.
 * `set`/`advance` move it; it never moves on its own.
 */
export interface ManualClock {
  readonly buffer: SharedArrayBuffer;
  now(): Millis;
  set(ms: Millis): void;
  advance(ms: Millis): void;
}

export interface CreateTopicOptions {
  partitions?: number;
  /** Topic configs by Kafka name; validated (ConfigError names the bad key). */
  configs?: Record<string, string>;
  /** Internal topics (e.g. __consumer_offsets) are hidden from `listTopics()` unless asked for. */
  internal?: boolean;
}

export interface PartitionDescription {
  partition: number;
  logStartOffset: bigint;
  logEndOffset: bigint;
  highWatermark: bigint;
  sizeBytes: number;
  /** The partition's leader (its metadata's): 0 on a single node; the broker id of the leader in a cluster. */
  leader: number;
}

export interface TopicDescription {
  name: string;
  /** Stable id (UUID) kept in the topic metadata. */
  topicId: string;
  internal: boolean;
  partitions: PartitionDescription[];
  /** Effective configs by Kafka name (topic overrides over defaults). */
  configs: Record<string, string>;
  /** Only the keys set on the topic itself. */
  overrides: Record<string, string>;
}

export interface AppendOptions {
  acks?: Acks;
  /** Reject if not acknowledged within this time (SluiceError TIMEOUT). Default 30000. */
  timeoutMs?: number;
}

/** Result of appending one set of batches to one partition. */
export interface AppendResult {
  /** Offset of the first record written; -1n for acks=0. */
  baseOffset: bigint;
  lastOffset: bigint;
  /** LogAppendTime of the batch, or -1n for CreateTime topics. */
  logAppendTime: bigint;
  logStartOffset: bigint;
}

/** Kafka's isolation levels: read_committed stops at the last stable offset. */
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

/** Options of `Sluice.read`. */
export interface SluiceReadOptions {
  /** Soft limit: at least one whole batch is returned even if larger. */
  maxBytes: number;
  isolation?: IsolationLevel;
  /** Stop before this offset (never beyond the high watermark / last stable offset, or the log end with `toLogEnd`). */
  maxOffset?: bigint;
  /** Read up to the log end instead of the high watermark, whatever the isolation (a replica's fetch). Default false. */
  toLogEnd?: boolean;
}

/** One partition of `waitForAny`: ready when its high watermark or log start passes `offset`. */
export interface WaitForDataTarget {
  topic: string;
  partition: number;
  offset: bigint;
}

/** A partition's offsets as published in shared memory. */
export interface TopicOffsets {
  logStartOffset: bigint;
  logEndOffset: bigint;
  highWatermark: bigint;
  lastStableOffset: bigint;
}

/** Which offset to resolve with `listOffset`. */
export type OffsetSpec = 'earliest' | 'latest' | { timestamp: bigint | number };

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1n when the group has no committed offset for this partition (as Kafka answers). */
  offset: bigint;
  metadata: string | null;
  leaderEpoch: number;
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  offset: bigint;
  metadata?: string | null;
  leaderEpoch?: number;
}

export interface ProducerIdAndEpoch {
  producerId: bigint;
  producerEpoch: number;
}

export type { ReadResult, TimestampOffset };
