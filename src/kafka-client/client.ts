/**
 * `KafkaClient`: a Kafka wire-protocol client over the generated codecs, works against Sluice and any
 * Kafka-compatible broker. One object for its users; each concept lives in its own file: the cluster view,
 * connections and routing (cluster.ts), admin (admin.ts), a partition's records (records.ts), and consumer
 * groups (group-admin.ts; a group member is group.ts). Kafka error codes become `KafkaProtocolError`s.
 */
import type { ApiTypes, ServedApiName } from '../kafka-protocol/generated/index.js';
import * as admin from './admin.js';
import { Cluster } from './cluster.js';
import type { Connection, RequestOptions } from './connection.js';
import * as groups from './group-admin.js';
import * as records from './records.js';
import type {
  BrokerInfo,
  ClusterMetadata,
  WireCommittedOffset,
  ConfigChanges,
  ConfigResource,
  ConfigResourceType,
  CreateTopicResult,
  CreateTopicSpec,
  FetchOptions,
  FetchPartitionRequest,
  FetchResult,
  DescribedGroup,
  KafkaClientOptions,
  ListedGroup,
  ListOffsetsRequest,
  ListOffsetsResult,
  LogDirPartition,
  MetadataOptions,
  WireOffsetCommitEntry,
  OffsetCommitOptions,
  ProduceOptions,
  ProduceResult,
  ResourceConfigs,
  TopicInfo,
  TopicPartition,
} from './types.js';

export { groupByTopic } from './cluster.js';

export class KafkaClient {
  readonly clientId: string;
  private readonly c: Cluster;

  private constructor(cluster: Cluster) {
    this.c = cluster;
    this.clientId = cluster.clientId;
  }

  /** Connects to the first reachable bootstrap server and loads the broker list. */
  static async connect(opts: KafkaClientOptions): Promise<KafkaClient> {
    return new KafkaClient(await Cluster.connect(opts));
  }

  close(): void {
    this.c.close();
  }

  // ---------------------------------------------------------------------------------------------------
  // connections and the cluster view

  /** The connection used for cluster-wide requests (Metadata, admin). */
  get bootstrapConnection(): Connection {
    return this.c.bootstrapConnection;
  }

  /** A connection to broker `nodeId` (opened on first use, reused afterwards). */
  brokerConnection(nodeId: number): Promise<Connection> {
    return this.c.brokerConnection(nodeId);
  }

  /** Sends a request to a broker (the bootstrap connection when `nodeId` is undefined). */
  send<K extends ServedApiName>(api: K, body: ApiTypes[K]['requestInput'], nodeId?: number, opts?: RequestOptions): Promise<ApiTypes[K]['response']> {
    return this.c.send(api, body, nodeId, opts);
  }

  /** Brokers of the last Metadata response. */
  get cluster(): { clusterId: string | null; controllerId: number; brokers: BrokerInfo[] } {
    return this.c.view;
  }

  /**
   * Fetches metadata: `topics` null/undefined = all topics, [] = brokers only. Unknown topics come back with
   * their errorCode set (not thrown) so callers can report them per topic.
   */
  metadata(topics?: readonly string[] | null, opts: MetadataOptions = {}): Promise<ClusterMetadata> {
    return this.c.metadata(topics, opts);
  }

  /**
   * The topic's partitions and leaders (cached; `refresh` forces a Metadata round trip). Throws a
   * KafkaProtocolError for an unknown topic. With `autoCreate`, asks the broker to auto-create it and
   * waits briefly for its leaders.
   */
  topic(name: string, opts: { refresh?: boolean; autoCreate?: boolean } = {}): Promise<TopicInfo> {
    return this.c.topic(name, opts);
  }

  /** Leader node of a partition, from the cached view (refreshing it when needed). */
  leaderOf(topic: string, partition: number, opts: { refresh?: boolean; autoCreate?: boolean } = {}): Promise<number> {
    return this.c.leaderOf(topic, partition, opts);
  }

  /** Connection to the leader of a partition (for callers that pipeline their own requests). */
  leaderConnection(topic: string, partition: number, opts: { autoCreate?: boolean } = {}): Promise<Connection> {
    return this.c.leaderConnection(topic, partition, opts);
  }

  /** Address of the bootstrap connection, for messages. */
  get address(): string {
    return this.c.address;
  }

  // ---------------------------------------------------------------------------------------------------
  // topics and configs

  createTopics(specs: readonly CreateTopicSpec[], opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<CreateTopicResult[]> {
    return admin.createTopics(this.c, specs, opts);
  }

  deleteTopics(names: readonly string[], opts: { timeoutMs?: number } = {}): Promise<void> {
    return admin.deleteTopics(this.c, names, opts);
  }

  /** Grows a topic to `count` partitions in total. */
  createPartitions(topic: string, count: number, opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<void> {
    return admin.createPartitions(this.c, topic, count, opts);
  }

  describeConfigs(resources: readonly ConfigResource[]): Promise<ResourceConfigs[]> {
    return admin.describeConfigs(this.c, resources);
  }

  /**
   * Sets (string) or removes (null) config overrides of one resource, leaving other overrides alone. Uses
   * IncrementalAlterConfigs; on brokers without it, emulates it with DescribeConfigs + AlterConfigs.
   */
  alterConfigs(resource: { type: ConfigResourceType; name: string }, changes: ConfigChanges): Promise<void> {
    return admin.alterConfigs(this.c, resource, changes);
  }

  /**
   * Log directories and partition sizes (DescribeLogDirs), asked of every broker leading one of the
   * partitions (all topics of every known broker when `partitions` is omitted). Undefined when a broker
   * asked does not serve DescribeLogDirs; partitions a broker does not host are left out.
   */
  describeLogDirs(partitions?: readonly TopicPartition[]): Promise<LogDirPartition[] | undefined> {
    return admin.describeLogDirs(this.c, partitions);
  }

  // ---------------------------------------------------------------------------------------------------
  // offsets, produce, fetch

  /** Offsets for timestamps (LATEST_TIMESTAMP, EARLIEST_TIMESTAMP or ms), each asked of the partition leader. */
  listOffsets(requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]> {
    return records.listOffsets(this.c, requests);
  }

  /**
   * Appends one RecordBatch (or several concatenated) to a partition via its leader. Refreshes the cluster
   * view and retries when the leader moved (those errors guarantee nothing was written).
   */
  produce(topic: string, partition: number, batches: Buffer, opts: ProduceOptions & { autoCreate?: boolean } = {}): Promise<ProduceResult> {
    return records.produce(this.c, topic, partition, batches, opts);
  }

  /**
   * Fetches from several partitions, one request per leader, in parallel. Partition errors are returned
   * (e.g. OFFSET_OUT_OF_RANGE, for the caller to reset), not thrown.
   */
  fetch(requests: readonly FetchPartitionRequest[], opts: FetchOptions = {}): Promise<FetchResult[]> {
    return records.fetchRecords(this.c, requests, opts);
  }

  // ---------------------------------------------------------------------------------------------------
  // groups

  /** The coordinator of a consumer group (retries while the coordinator is loading or moving). */
  findCoordinator(groupId: string): Promise<BrokerInfo> {
    return this.c.findCoordinator(groupId);
  }

  /** Sends a request to a group's coordinator. */
  sendToCoordinator<K extends ServedApiName>(groupId: string, api: K, body: ApiTypes[K]['requestInput'], opts?: RequestOptions): Promise<ApiTypes[K]['response']> {
    return this.c.sendToCoordinator(groupId, api, body, opts);
  }

  /** Every group of every broker. */
  listGroups(): Promise<ListedGroup[]> {
    return groups.listGroups(this.c);
  }

  /** Describes groups; an unknown group comes back in state "Dead" with no members, as Kafka reports it. */
  describeGroups(groupIds: readonly string[]): Promise<DescribedGroup[]> {
    return groups.describeGroups(this.c, groupIds);
  }

  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return groups.deleteGroups(this.c, groupIds);
  }

  /** Committed offsets of a group: of the given partitions, or of everything it committed when omitted. */
  offsetFetch(groupId: string, partitions?: readonly TopicPartition[]): Promise<WireCommittedOffset[]> {
    return groups.offsetFetch(this.c, groupId, partitions);
  }

  /** Commits offsets; by default as a simple consumer (generation -1, no member id), as reset-offsets does. */
  offsetCommit(groupId: string, offsets: readonly WireOffsetCommitEntry[], opts: OffsetCommitOptions = {}): Promise<void> {
    return groups.offsetCommit(this.c, groupId, offsets, opts);
  }
}
