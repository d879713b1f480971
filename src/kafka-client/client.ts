/**
 * `KafkaClient`: a Kafka wire-protocol client over the generated codecs. It keeps a cluster view from
 * Metadata (brokers, topics, partition leaders), opens one connection per broker on demand, routes
 * partition requests to the partition's leader and group requests to the group's coordinator, and turns
 * Kafka error codes into `KafkaProtocolError`s. Works against Sluice and any Kafka-compatible broker.
 */
import {
  decodeConsumerProtocolAssignmentBytes,
  decodeConsumerProtocolSubscriptionBytes,
  type ApiTypes,
  type ServedApiName,
} from '../kafka-protocol/generated/index.js';
import { ZERO_UUID } from '../kafka-protocol/reader.js';
import { Connection, hostPort, parseBootstrap, type RequestOptions } from './connection.js';
import { KafkaConnectionError, KafkaProtocolError, checkKafkaError } from './errors.js';
import type {
  Acks,
  BrokerInfo,
  ClusterMetadata,
  CommittedOffset,
  ConfigChanges,
  ConfigEntry,
  ConfigResource,
  ConfigResourceType,
  ConfigSourceName,
  CreateTopicResult,
  CreateTopicSpec,
  FetchOptions,
  FetchPartitionRequest,
  FetchResult,
  GroupDescription,
  GroupMemberDescription,
  KafkaClientOptions,
  ListedGroup,
  ListOffsetsRequest,
  ListOffsetsResult,
  LogDirPartition,
  MetadataOptions,
  OffsetCommitEntry,
  OffsetCommitOptions,
  ProduceOptions,
  ProduceResult,
  ResourceConfigs,
  TopicInfo,
  TopicPartition,
  TopicPartitions,
} from './types.js';

const RESOURCE_TYPE: Readonly<Record<ConfigResourceType, number>> = { topic: 2, broker: 4 };
const CONFIG_SOURCES: readonly ConfigSourceName[] = [
  'UNKNOWN',
  'DYNAMIC_TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
];
/** Errors after which a refreshed cluster view may route the request correctly. */
const STALE_METADATA_ERRORS = new Set([3, 5, 6, 74, 75]); // unknown t/p, leader not available, not leader, epochs
const COORDINATOR_RETRY_ERRORS = new Set([14, 15, 16]); // load in progress, not available, not coordinator

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class KafkaClient {
  readonly clientId: string;
  private readonly opts: KafkaClientOptions;
  private bootstrap: Connection;
  private readonly nodeConns = new Map<number, Promise<Connection>>();
  private readonly brokers = new Map<number, BrokerInfo>();
  private readonly topics = new Map<string, TopicInfo>();
  private controllerId = -1;
  private clusterId: string | null = null;
  private closed = false;

  private constructor(bootstrap: Connection, opts: KafkaClientOptions) {
    this.bootstrap = bootstrap;
    this.opts = opts;
    this.clientId = opts.clientId ?? 'sluice';
  }

  /** Connects to the first reachable bootstrap server and loads the broker list. */
  static async connect(opts: KafkaClientOptions): Promise<KafkaClient> {
    const specs = (typeof opts.bootstrap === 'string' ? [opts.bootstrap] : [...opts.bootstrap]).flatMap((s) => parseBootstrap(s));
    let lastErr: unknown;
    for (const { host, port } of specs) {
      try {
        const conn = await Connection.open({ host, port, ...connOpts(opts) });
        const client = new KafkaClient(conn, opts);
        try {
          await client.metadata([]);
        } catch (e) {
          client.close();
          throw e;
        }
        return client;
      } catch (e) {
        lastErr = e;
      }
    }
    throw lastErr;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bootstrap.close();
    for (const p of this.nodeConns.values()) p.then((c) => c.close(), () => undefined);
    this.nodeConns.clear();
  }

  // ---------------------------------------------------------------------------------------------------
  // connections and the cluster view

  /** The connection used for cluster-wide requests (Metadata, admin). */
  get bootstrapConnection(): Connection {
    return this.bootstrap;
  }

  /** A connection to broker `nodeId` (opened on first use, reused afterwards). */
  async brokerConnection(nodeId: number): Promise<Connection> {
    const existing = this.nodeConns.get(nodeId);
    if (existing) {
      const c = await existing.catch(() => null);
      if (c && !c.closed) return c;
      this.nodeConns.delete(nodeId);
    }
    let broker = this.brokers.get(nodeId);
    if (!broker) {
      await this.metadata([]);
      broker = this.brokers.get(nodeId);
      if (!broker) throw new KafkaProtocolError(8, `broker ${nodeId} is not in the cluster metadata`);
    }
    const b = broker;
    const p =
      b.host === this.bootstrap.host && b.port === this.bootstrap.port && !this.bootstrap.closed
        ? Promise.resolve(this.bootstrap)
        : Connection.open({ host: b.host, port: b.port, ...connOpts(this.opts) });
    this.nodeConns.set(nodeId, p);
    p.catch(() => this.nodeConns.delete(nodeId));
    return p;
  }

  /** Sends a request to a broker (the bootstrap connection when `nodeId` is undefined). */
  async send<K extends ServedApiName>(api: K, body: ApiTypes[K]['requestInput'], nodeId?: number, opts?: RequestOptions): Promise<ApiTypes[K]['response']> {
    const conn = nodeId === undefined ? await this.anyConnection() : await this.brokerConnection(nodeId);
    return conn.request(api, body, opts);
  }

  private async anyConnection(): Promise<Connection> {
    if (!this.bootstrap.closed) return this.bootstrap;
    if (this.closed) throw new KafkaConnectionError('closed', this.bootstrap.host, this.bootstrap.port, 'client is closed');
    this.bootstrap = await Connection.open({ host: this.bootstrap.host, port: this.bootstrap.port, ...connOpts(this.opts) });
    return this.bootstrap;
  }

  /** Brokers of the last Metadata response. */
  get cluster(): { clusterId: string | null; controllerId: number; brokers: BrokerInfo[] } {
    return { clusterId: this.clusterId, controllerId: this.controllerId, brokers: [...this.brokers.values()] };
  }

  /**
   * Fetches metadata: `topics` null/undefined = all topics, [] = brokers only. Unknown topics come back with
   * their errorCode set (not thrown) so callers can report them per topic.
   */
  async metadata(topics?: readonly string[] | null, opts: MetadataOptions = {}): Promise<ClusterMetadata> {
    const conn = await this.anyConnection();
    const v = conn.versionOf('Metadata') ?? 0;
    const all = topics === undefined || topics === null;
    if (v === 0 && !all && topics.length === 0) {
      // v0 cannot ask for "no topics": [] means all; fetch all and drop them
      return { ...(await this.metadata(null)), topics: [] };
    }
    const resp = await conn.request('Metadata', {
      topics: all ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
      allowAutoTopicCreation: opts.allowAutoTopicCreation ?? false,
    });
    this.clusterId = resp.clusterId;
    this.controllerId = resp.controllerId;
    this.brokers.clear();
    for (const b of resp.brokers) this.brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
    const out: TopicInfo[] = [];
    for (const t of resp.topics) {
      const info: TopicInfo = {
        name: t.name ?? '',
        topicId: t.topicId,
        isInternal: t.isInternal,
        errorCode: t.errorCode,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      };
      if (t.errorCode === 0) this.topics.set(info.name, info);
      else this.topics.delete(info.name);
      out.push(info);
    }
    return { clusterId: resp.clusterId, controllerId: resp.controllerId, brokers: [...this.brokers.values()], topics: out };
  }

  /**
   * The topic's partitions and leaders (cached; `refresh` forces a Metadata round trip). Throws a
   * KafkaProtocolError for an unknown topic. With `autoCreate`, asks the broker to auto-create it and
   * waits briefly for its leaders.
   */
  async topic(name: string, opts: { refresh?: boolean; autoCreate?: boolean } = {}): Promise<TopicInfo> {
    const cached = this.topics.get(name);
    if (cached && !opts.refresh) return cached;
    for (let attempt = 0; ; attempt++) {
      const md = await this.metadata([name], { allowAutoTopicCreation: opts.autoCreate ?? false });
      const t = md.topics.find((x) => x.name === name);
      const code = t ? t.errorCode : 3;
      const leaderless = t !== undefined && code === 0 && (t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
      if (code === 0 && !leaderless) return t!;
      // a just-created topic answers LEADER_NOT_AVAILABLE (or has no leaders yet) for a moment
      const transient = code === 5 || leaderless || (code === 3 && opts.autoCreate === true && attempt === 0);
      if (!transient || attempt >= 20) throw new KafkaProtocolError(leaderless ? 5 : code, `topic '${name}'`);
      await sleep(Math.min(50 * (attempt + 1), 250));
    }
  }

  /** Leader node of a partition, from the cached view (refreshing it when needed). */
  async leaderOf(topic: string, partition: number, opts: { refresh?: boolean; autoCreate?: boolean } = {}): Promise<number> {
    const t = await this.topic(topic, opts);
    const p = t.partitions.find((x) => x.partition === partition);
    if (!p) {
      if (!opts.refresh) return this.leaderOf(topic, partition, { ...opts, refresh: true });
      throw new KafkaProtocolError(3, `partition ${partition} of topic '${topic}' (the topic has ${t.partitions.length})`);
    }
    if (p.leader < 0) throw new KafkaProtocolError(5, `partition ${topic}-${partition}`);
    return p.leader;
  }

  /** Connection to the leader of a partition (for callers that pipeline their own requests). */
  async leaderConnection(topic: string, partition: number, opts: { autoCreate?: boolean } = {}): Promise<Connection> {
    return this.brokerConnection(await this.leaderOf(topic, partition, opts));
  }

  /** Groups topic-partition items by their leader node. */
  private async byLeader<T extends TopicPartition>(items: readonly T[], refresh = false): Promise<Map<number, T[]>> {
    const out = new Map<number, T[]>();
    for (const it of items) {
      const leader = await this.leaderOf(it.topic, it.partition, { refresh });
      let list = out.get(leader);
      if (!list) out.set(leader, (list = []));
      list.push(it);
    }
    return out;
  }

  /** Admin requests go to the controller when it is known (as Kafka's admin client does), else anywhere. */
  private adminNode(): number | undefined {
    return this.brokers.has(this.controllerId) ? this.controllerId : undefined;
  }

  // ---------------------------------------------------------------------------------------------------
  // topics and configs

  async createTopics(specs: readonly CreateTopicSpec[], opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<CreateTopicResult[]> {
    const resp = await this.send(
      'CreateTopics',
      {
        topics: specs.map((s) => ({
          name: s.name,
          numPartitions: s.numPartitions ?? -1,
          replicationFactor: s.replicationFactor ?? -1,
          assignments: [],
          configs: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs: opts.timeoutMs ?? 30_000,
        validateOnly: opts.validateOnly ?? false,
      },
      this.adminNode(),
    );
    for (const t of resp.topics) checkKafkaError(t.errorCode, `topic '${t.name}'`, t.errorMessage);
    for (const s of specs) this.topics.delete(s.name);
    return resp.topics.map((t) => ({ name: t.name, topicId: t.topicId, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor }));
  }

  async deleteTopics(names: readonly string[], opts: { timeoutMs?: number } = {}): Promise<void> {
    const resp = await this.send(
      'DeleteTopics',
      { topics: names.map((name) => ({ name, topicId: ZERO_UUID })), topicNames: names, timeoutMs: opts.timeoutMs ?? 30_000 },
      this.adminNode(),
    );
    for (const n of names) this.topics.delete(n);
    for (const r of resp.responses) checkKafkaError(r.errorCode, `topic '${r.name ?? r.topicId}'`, r.errorMessage);
  }

  /** Grows a topic to `count` partitions in total. */
  async createPartitions(topic: string, count: number, opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<void> {
    const resp = await this.send(
      'CreatePartitions',
      { topics: [{ name: topic, count, assignments: null }], timeoutMs: opts.timeoutMs ?? 30_000, validateOnly: opts.validateOnly ?? false },
      this.adminNode(),
    );
    this.topics.delete(topic);
    for (const r of resp.results) checkKafkaError(r.errorCode, `topic '${r.name}'`, r.errorMessage);
  }

  async describeConfigs(resources: readonly ConfigResource[]): Promise<ResourceConfigs[]> {
    const resp = await this.send(
      'DescribeConfigs',
      {
        resources: resources.map((r) => ({ resourceType: RESOURCE_TYPE[r.type], resourceName: r.name, configurationKeys: r.keys ? [...r.keys] : null })),
        includeSynonyms: false,
        includeDocumentation: false,
      },
      resources.find((r) => r.type === 'broker') ? Number(resources.find((r) => r.type === 'broker')!.name) : this.adminNode(),
    );
    return resp.results.map((r) => {
      const type: ConfigResourceType = r.resourceType === RESOURCE_TYPE.broker ? 'broker' : 'topic';
      checkKafkaError(r.errorCode, `${type} '${r.resourceName}'`, r.errorMessage);
      return {
        type,
        name: r.resourceName,
        entries: r.configs.map((c): ConfigEntry => {
          // v0 has no configSource, only isDefault
          const source = c.configSource > 0 ? CONFIG_SOURCES[c.configSource] ?? 'UNKNOWN' : c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN';
          return { name: c.name, value: c.value, readOnly: c.readOnly, isDefault: c.isDefault || source === 'DEFAULT_CONFIG', isSensitive: c.isSensitive, source };
        }),
      };
    });
  }

  /**
   * Sets (string) or removes (null) config overrides of one resource, leaving other overrides alone. Uses
   * IncrementalAlterConfigs; on brokers without it, emulates it with DescribeConfigs + AlterConfigs.
   */
  async alterConfigs(resource: { type: ConfigResourceType; name: string }, changes: ConfigChanges): Promise<void> {
    const resourceType = RESOURCE_TYPE[resource.type];
    const conn = await this.anyConnection();
    if (conn.supports('IncrementalAlterConfigs')) {
      const resp = await this.send(
        'IncrementalAlterConfigs',
        {
          resources: [
            {
              resourceType,
              resourceName: resource.name,
              configs: Object.entries(changes).map(([name, value]) => ({ name, configOperation: value === null ? 1 : 0, value })),
            },
          ],
          validateOnly: false,
        },
        this.adminNode(),
      );
      for (const r of resp.responses) checkKafkaError(r.errorCode, `${resource.type} '${r.resourceName}'`, r.errorMessage);
      return;
    }
    // AlterConfigs replaces the whole set of overrides: start from the current dynamic ones
    const [current] = await this.describeConfigs([{ type: resource.type, name: resource.name }]);
    const merged = new Map<string, string | null>();
    for (const e of current!.entries) if (e.source === 'DYNAMIC_TOPIC_CONFIG' || e.source === 'DYNAMIC_BROKER_CONFIG') merged.set(e.name, e.value);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    const resp = await this.send(
      'AlterConfigs',
      { resources: [{ resourceType, resourceName: resource.name, configs: [...merged].map(([name, value]) => ({ name, value })) }], validateOnly: false },
      this.adminNode(),
    );
    for (const r of resp.responses) checkKafkaError(r.errorCode, `${resource.type} '${r.resourceName}'`, r.errorMessage);
  }

  /**
   * Log directories and partition sizes (DescribeLogDirs), asked of every broker leading one of the
   * partitions (all topics of every known broker when `partitions` is omitted). Undefined when a broker
   * asked does not serve DescribeLogDirs; partitions a broker does not host are left out.
   */
  async describeLogDirs(partitions?: readonly TopicPartition[]): Promise<LogDirPartition[] | undefined> {
    let targets: [number, TopicPartition[] | null][];
    if (partitions === undefined) {
      if (this.brokers.size === 0) await this.metadata([]);
      targets = [...this.brokers.keys()].map((node) => [node, null]);
    } else {
      targets = [...(await this.byLeader(partitions))];
    }
    const conns = await Promise.all(targets.map(async ([node]) => this.brokerConnection(node)));
    if (conns.some((c) => !c.supports('DescribeLogDirs'))) return undefined;
    const parts = await Promise.all(
      targets.map(async ([node, items], i) => {
        const topics = items === null ? null : groupByTopic(items).map(([topic, ps]) => ({ topic, partitions: ps.map((p) => p.partition) }));
        const resp = await conns[i]!.request('DescribeLogDirs', { topics });
        checkKafkaError(resp.errorCode, `DescribeLogDirs on broker ${node}`);
        const res: LogDirPartition[] = [];
        for (const d of resp.results) {
          checkKafkaError(d.errorCode, `log dir ${d.logDir} on broker ${node}`);
          for (const t of d.topics) {
            for (const p of t.partitions) {
              res.push({
                broker: node,
                logDir: d.logDir,
                topic: t.name,
                partition: p.partitionIndex,
                sizeBytes: p.partitionSize,
                offsetLag: p.offsetLag,
                isFuture: p.isFutureKey,
              });
            }
          }
        }
        return res;
      }),
    );
    return parts.flat();
  }

  // ---------------------------------------------------------------------------------------------------
  // offsets, produce, fetch

  /** Offsets for timestamps (LATEST_TIMESTAMP, EARLIEST_TIMESTAMP or ms), each asked of the partition leader. */
  async listOffsets(requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]> {
    const out: ListOffsetsResult[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        const groups = await this.byLeader(requests, attempt > 0);
        const parts = await Promise.all(
          [...groups].map(async ([node, items]) => {
            const conn = await this.brokerConnection(node);
            const v = conn.versionOf('ListOffsets') ?? 0;
            const resp = await conn.request('ListOffsets', {
              replicaId: -1,
              isolationLevel: 0,
              topics: groupByTopic(items).map(([name, ps]) => ({
                name,
                partitions: ps.map((p) => ({ partitionIndex: p.partition, timestamp: p.timestamp, maxNumOffsets: 1, currentLeaderEpoch: -1 })),
              })),
            });
            const res: ListOffsetsResult[] = [];
            for (const t of resp.topics) {
              for (const p of t.partitions) {
                checkKafkaError(p.errorCode, `ListOffsets ${t.name}-${p.partitionIndex}`);
                const offset = v === 0 ? p.oldStyleOffsets[0] ?? -1n : p.offset;
                res.push({ topic: t.name, partition: p.partitionIndex, offset, timestamp: p.timestamp });
              }
            }
            return res;
          }),
        );
        for (const r of parts) out.push(...r);
        return out;
      } catch (e) {
        if (!(e instanceof KafkaProtocolError) || !STALE_METADATA_ERRORS.has(e.errorCode) || attempt >= 2) throw e;
        out.length = 0;
      }
    }
  }

  /**
   * Appends one RecordBatch (or several concatenated) to a partition via its leader. Refreshes the cluster
   * view and retries when the leader moved (those errors guarantee nothing was written).
   */
  async produce(topic: string, partition: number, records: Buffer, opts: ProduceOptions & { autoCreate?: boolean } = {}): Promise<ProduceResult> {
    const acks: Acks = opts.acks ?? -1;
    const body = {
      transactionalId: null,
      acks,
      timeoutMs: opts.timeoutMs ?? 30_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    };
    for (let attempt = 0; ; attempt++) {
      const conn = await this.brokerConnection(await this.leaderOf(topic, partition, { refresh: attempt > 0, autoCreate: opts.autoCreate ?? false }));
      if (acks === 0) {
        await conn.requestNoResponse('Produce', body);
        return { baseOffset: -1n, logAppendTime: -1n, logStartOffset: -1n };
      }
      const resp = await conn.request('Produce', body);
      const p = resp.responses[0]?.partitionResponses[0];
      if (!p) throw new KafkaProtocolError(-1, `Produce ${topic}-${partition}: empty response`);
      if (p.errorCode !== 0) {
        if (STALE_METADATA_ERRORS.has(p.errorCode) && attempt < 3) continue;
        const detail = p.errorMessage ?? p.recordErrors.map((r) => r.batchIndexErrorMessage).filter(Boolean).join('; ');
        throw new KafkaProtocolError(p.errorCode, `Produce ${topic}-${partition}`, detail || null);
      }
      return { baseOffset: p.baseOffset, logAppendTime: p.logAppendTimeMs, logStartOffset: p.logStartOffset };
    }
  }

  /**
   * Fetches from several partitions, one request per leader, in parallel. Partition errors are returned
   * (e.g. OFFSET_OUT_OF_RANGE, for the caller to reset), not thrown.
   */
  async fetch(requests: readonly FetchPartitionRequest[], opts: FetchOptions = {}): Promise<FetchResult[]> {
    const maxWaitMs = opts.maxWaitMs ?? 500;
    const groups = await this.byLeader(requests);
    const parts = await Promise.all(
      [...groups].map(async ([node, items]) => {
        const conn = await this.brokerConnection(node);
        const resp = await conn.request(
          'Fetch',
          {
            replicaId: -1,
            maxWaitMs,
            minBytes: opts.minBytes ?? 1,
            maxBytes: opts.maxBytes ?? 50 * 1024 * 1024,
            isolationLevel: opts.isolationLevel ?? 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: groupByTopic(items).map(([topic, ps]) => ({
              topic,
              partitions: ps.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: p.maxBytes ?? 1024 * 1024, currentLeaderEpoch: -1, logStartOffset: -1n })),
            })),
          },
          { timeoutMs: 30_000 + maxWaitMs },
        );
        checkKafkaError(resp.errorCode, `Fetch from ${conn.address}`);
        const asked = new Map(items.map((i) => [`${i.topic}\0${i.partition}`, i.offset]));
        const res: FetchResult[] = [];
        for (const t of resp.responses) {
          for (const p of t.partitions) {
            const fetchOffset = asked.get(`${t.topic}\0${p.partitionIndex}`) ?? -1n;
            if (p.errorCode !== 0) {
              if (STALE_METADATA_ERRORS.has(p.errorCode)) this.topics.delete(t.topic);
              res.push({
                topic: t.topic,
                partition: p.partitionIndex,
                fetchOffset,
                error: new KafkaProtocolError(p.errorCode, `Fetch ${t.topic}-${p.partitionIndex} at offset ${fetchOffset}`),
                highWatermark: -1n,
                lastStableOffset: -1n,
                logStartOffset: -1n,
                records: null,
              });
              continue;
            }
            res.push({
              topic: t.topic,
              partition: p.partitionIndex,
              fetchOffset,
              error: null,
              highWatermark: p.highWatermark,
              lastStableOffset: p.lastStableOffset,
              logStartOffset: p.logStartOffset,
              records: p.records && p.records.length > 0 ? p.records : null,
            });
          }
        }
        return res;
      }),
    );
    return parts.flat();
  }

  // ---------------------------------------------------------------------------------------------------
  // groups

  /** The coordinator of a consumer group (retries while the coordinator is loading or moving). */
  async findCoordinator(groupId: string): Promise<BrokerInfo> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.anyConnection();
      const v = conn.versionOf('FindCoordinator') ?? 0;
      const resp = await conn.request('FindCoordinator', { key: groupId, keyType: 0, coordinatorKeys: [groupId] });
      const c =
        v >= 4
          ? resp.coordinators[0] ?? { nodeId: -1, host: '', port: 0, errorCode: 15, errorMessage: null }
          : { nodeId: resp.nodeId, host: resp.host, port: resp.port, errorCode: resp.errorCode, errorMessage: resp.errorMessage };
      if (c.errorCode === 0) {
        if (!this.brokers.has(c.nodeId)) this.brokers.set(c.nodeId, { nodeId: c.nodeId, host: c.host, port: c.port, rack: null });
        return this.brokers.get(c.nodeId)!;
      }
      if (!COORDINATOR_RETRY_ERRORS.has(c.errorCode) || attempt >= 20) checkKafkaError(c.errorCode, `coordinator of group '${groupId}'`, c.errorMessage);
      await sleep(100);
    }
  }

  /** Sends a request to a group's coordinator, retrying once on NOT_COORDINATOR / load-in-progress. */
  async sendToCoordinator<K extends ServedApiName>(groupId: string, api: K, body: ApiTypes[K]['requestInput'], opts?: RequestOptions): Promise<ApiTypes[K]['response']> {
    const node = (await this.findCoordinator(groupId)).nodeId;
    return this.send(api, body, node, opts);
  }

  /** Every group of every broker. */
  async listGroups(): Promise<ListedGroup[]> {
    if (this.brokers.size === 0) await this.metadata([]);
    const per = await Promise.all(
      [...this.brokers.keys()].map(async (node) => {
        const resp = await this.send('ListGroups', { statesFilter: [], typesFilter: [] }, node);
        checkKafkaError(resp.errorCode, `ListGroups from broker ${node}`);
        return resp.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState, coordinator: node }));
      }),
    );
    return per.flat().sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  /** Describes groups; an unknown group comes back in state "Dead" with no members, as Kafka reports it. */
  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const coordinator = await this.findCoordinator(groupId);
        const resp = await this.send('DescribeGroups', { groups: [groupId], includeAuthorizedOperations: false }, coordinator.nodeId);
        const g = resp.groups[0];
        if (!g) throw new KafkaProtocolError(-1, `DescribeGroups '${groupId}': empty response`);
        checkKafkaError(g.errorCode, `group '${groupId}'`);
        const consumer = g.protocolType === 'consumer';
        return {
          groupId: g.groupId,
          state: g.groupState,
          protocolType: g.protocolType,
          protocol: g.protocolData,
          coordinator,
          members: g.members.map((m): GroupMemberDescription => {
            let assignment: TopicPartitions[] = [];
            let subscribedTopics: string[] = [];
            if (consumer) {
              try {
                if (m.memberAssignment.length > 0) {
                  assignment = decodeConsumerProtocolAssignmentBytes(m.memberAssignment).data.assignedPartitions.map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) }));
                }
                if (m.memberMetadata.length > 0) subscribedTopics = decodeConsumerProtocolSubscriptionBytes(m.memberMetadata).data.topics;
              } catch {
                // not decodable as the consumer protocol: show the member without its assignment
              }
            }
            return { memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost, assignment, subscribedTopics };
          }),
        };
      }),
    );
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    for (const groupId of groupIds) {
      const resp = await this.sendToCoordinator(groupId, 'DeleteGroups', { groupsNames: [groupId] });
      for (const r of resp.results) checkKafkaError(r.errorCode, `group '${r.groupId}'`);
    }
  }

  /** Committed offsets of a group: of the given partitions, or of everything it committed when omitted. */
  async offsetFetch(groupId: string, partitions?: readonly TopicPartition[]): Promise<CommittedOffset[]> {
    const coordinator = await this.findCoordinator(groupId);
    const conn = await this.brokerConnection(coordinator.nodeId);
    const v = conn.versionOf('OffsetFetch') ?? 0;
    if (v < 2 && !partitions) throw new KafkaProtocolError(35, `broker ${conn.address} cannot list all committed offsets of a group (OffsetFetch v${v})`);
    const topics = partitions ? groupByTopic(partitions).map(([name, ps]) => ({ name, partitionIndexes: ps.map((p) => p.partition) })) : null;
    const resp = await conn.request(
      'OffsetFetch',
      v >= 8 ? { groups: [{ groupId, topics, memberId: null, memberEpoch: -1 }], requireStable: false } : { groupId, topics, requireStable: false },
    );
    const out: CommittedOffset[] = [];
    if (v >= 8) {
      const g = resp.groups[0];
      if (!g) throw new KafkaProtocolError(-1, `OffsetFetch '${groupId}': empty response`);
      checkKafkaError(g.errorCode, `group '${groupId}'`);
      for (const t of g.topics) {
        for (const p of t.partitions) {
          checkKafkaError(p.errorCode, `committed offset of ${t.name}-${p.partitionIndex}`);
          out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
        }
      }
    } else {
      checkKafkaError(resp.errorCode, `group '${groupId}'`);
      for (const t of resp.topics) {
        for (const p of t.partitions) {
          checkKafkaError(p.errorCode, `committed offset of ${t.name}-${p.partitionIndex}`);
          out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
        }
      }
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Commits offsets; by default as a simple consumer (generation -1, no member id), as reset-offsets does. */
  async offsetCommit(groupId: string, offsets: readonly OffsetCommitEntry[], opts: OffsetCommitOptions = {}): Promise<void> {
    if (offsets.length === 0) return;
    const resp = await this.sendToCoordinator(groupId, 'OffsetCommit', {
      groupId,
      generationIdOrMemberEpoch: opts.generationId ?? -1,
      memberId: opts.memberId ?? '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: groupByTopic(offsets).map(([name, ps]) => ({
        name,
        partitions: ps.map((p) => ({ partitionIndex: p.partition, committedOffset: p.offset, committedMetadata: p.metadata ?? null, committedLeaderEpoch: -1, commitTimestamp: -1n })),
      })),
    });
    for (const t of resp.topics) for (const p of t.partitions) checkKafkaError(p.errorCode, `commit of ${t.name}-${p.partitionIndex} for group '${groupId}'`);
  }

  /** Address of the bootstrap connection, for messages. */
  get address(): string {
    return hostPort(this.bootstrap.host, this.bootstrap.port);
  }
}

function connOpts(o: KafkaClientOptions): { clientId: string; connectTimeoutMs?: number; requestTimeoutMs?: number } {
  return {
    clientId: o.clientId ?? 'sluice',
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
  };
}

/** Items grouped by topic, in first-seen order. */
export function groupByTopic<T extends TopicPartition>(items: readonly T[]): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const it of items) {
    let l = m.get(it.topic);
    if (!l) m.set(it.topic, (l = []));
    l.push(it);
  }
  return [...m];
}
