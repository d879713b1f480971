/**
 * Inputs and outputs of the wire client's operations. Offsets and timestamps are bigints, as on the wire.
 * A shape that means the same as the engine's or the coordinator's is theirs, re-exported (TopicPartition).
 * The rest differ, so they are named apart: `WireAcks` is the int16 a Produce request carries (the engine
 * also spells -1 'all'); the client commits without a leader epoch and does not report the one it reads back
 * (`WireCommittedOffset`, `WireOffsetCommitEntry`); a `DescribedGroup` is decoded for display, with its
 * coordinator, where the coordinator's `GroupDescription` is the DescribeGroups answer it builds.
 */
import type { Acks, CommittedOffset, OffsetCommitEntry } from '../engine/types.js';
import type { TopicPartition } from '../coordinator/types.js';
import type { KafkaProtocolError } from './errors.js';

export type { TopicPartition };

export interface KafkaClientOptions {
  /** "host:port[,host:port...]" or a list of them; the first that answers is used to discover the cluster. */
  bootstrap: string | readonly string[];
  /** Sent in request headers (default 'sluice'). */
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  /** Node id of the leader; -1 when there is none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  topicId: string;
  isInternal: boolean;
  /** Sorted by partition index. */
  partitions: PartitionInfo[];
  /** Topic-level error from Metadata (0 = none), e.g. 3 for an unknown topic. */
  errorCode: number;
}

export interface ClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicInfo[];
}

export interface MetadataOptions {
  /** Ask the broker to create requested topics that do not exist (if it allows auto-creation). Default false. */
  allowAutoTopicCreation?: boolean;
}

export interface CreateTopicSpec {
  name: string;
  /** -1 = the broker's default (num.partitions). */
  numPartitions?: number;
  /** -1 = the broker's default. */
  replicationFactor?: number;
  /** Topic configs with Kafka's names, e.g. { 'retention.ms': '60000' }. */
  configs?: Readonly<Record<string, string>>;
}

export interface CreateTopicResult {
  name: string;
  topicId: string;
  /** -1 when the broker's response version does not carry it. */
  numPartitions: number;
  replicationFactor: number;
}

export type ConfigResourceType = 'topic' | 'broker';

export interface ConfigResource {
  type: ConfigResourceType;
  /** Topic name, or broker id as a string. */
  name: string;
  /** Only these keys; all when omitted. */
  keys?: readonly string[];
}

/** Where a config value comes from (Kafka's ConfigSource). */
export type ConfigSourceName =
  | 'UNKNOWN'
  | 'DYNAMIC_TOPIC_CONFIG'
  | 'DYNAMIC_BROKER_CONFIG'
  | 'DYNAMIC_DEFAULT_BROKER_CONFIG'
  | 'STATIC_BROKER_CONFIG'
  | 'DEFAULT_CONFIG'
  | 'DYNAMIC_BROKER_LOGGER_CONFIG'
  | 'CLIENT_METRICS_CONFIG'
  | 'GROUP_CONFIG';

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  isSensitive: boolean;
  source: ConfigSourceName;
}

export interface ResourceConfigs {
  type: ConfigResourceType;
  name: string;
  entries: ConfigEntry[];
}

/** A config change: a string sets the key, null removes the override (back to the default). */
export type ConfigChanges = Readonly<Record<string, string | null>>;

/** ListOffsets timestamps with special meanings. */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;

export interface ListOffsetsRequest extends TopicPartition {
  /** LATEST_TIMESTAMP (-1n), EARLIEST_TIMESTAMP (-2n), or ms since the epoch: first offset with timestamp >= it. */
  timestamp: bigint;
}

export interface ListOffsetsResult extends TopicPartition {
  /** -1n when no record has a timestamp >= the one asked for. */
  offset: bigint;
  timestamp: bigint;
}

/** One partition's replica in one log directory of one broker (DescribeLogDirs). */
export interface LogDirPartition extends TopicPartition {
  broker: number;
  /** Absolute path of the log directory on the broker. */
  logDir: string;
  /** Bytes of the partition's log segments. */
  sizeBytes: bigint;
  offsetLag: bigint;
  isFuture: boolean;
}

export type WireAcks = Exclude<Acks, 'all'>;

export interface ProduceOptions {
  /** 0: no response; 1: leader write; -1 ("all"): all in-sync replicas. Default -1. */
  acks?: WireAcks;
  /** Broker-side wait for acks (default 30 000 ms). */
  timeoutMs?: number;
}

export interface ProduceResult {
  /** Offset of the first record of the batch; -1n for acks=0. */
  baseOffset: bigint;
  /** Broker append time for LogAppendTime topics, else -1n. */
  logAppendTime: bigint;
  logStartOffset: bigint;
}

export interface FetchPartitionRequest extends TopicPartition {
  offset: bigint;
  /** Per-partition byte limit (default 1 MiB). */
  maxBytes?: number;
}

export interface FetchOptions {
  /** How long the broker may wait for minBytes (default 500 ms). */
  maxWaitMs?: number;
  /** Default 1. */
  minBytes?: number;
  /** Response byte limit (default 50 MiB). */
  maxBytes?: number;
  /** 0 read_uncommitted (default), 1 read_committed. */
  isolationLevel?: 0 | 1;
}

export interface FetchResult extends TopicPartition {
  /** Offset the fetch asked for. */
  fetchOffset: bigint;
  /** Set when the partition answered with an error (e.g. OFFSET_OUT_OF_RANGE); the other fields are then -1n/null. */
  error: KafkaProtocolError | null;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** Concatenated RecordBatch v2 bytes (may end with a partial batch), or null when empty. */
  records: Buffer | null;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** Empty when the broker's ListGroups version does not report it. */
  state: string;
  /** The broker that coordinates the group. */
  coordinator: number;
}

export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Decoded consumer-protocol assignment (empty for other protocol types or when undecodable). */
  assignment: TopicPartitions[];
  /** Decoded consumer-protocol subscription: topic names. */
  subscribedTopics: string[];
}

export interface DescribedGroup {
  groupId: string;
  /** Kafka's group state: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead. */
  state: string;
  protocolType: string;
  /** The chosen assignor (e.g. "range"). */
  protocol: string;
  members: DescribedGroupMember[];
  coordinator: BrokerInfo;
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export type WireCommittedOffset = Omit<CommittedOffset, 'leaderEpoch'>;

export type WireOffsetCommitEntry = Omit<OffsetCommitEntry, 'leaderEpoch'>;

export interface OffsetCommitOptions {
  /** -1 (default) for a simple (non-member) commit. */
  generationId?: number;
  /** '' (default) for a simple commit. */
  memberId?: string;
}
