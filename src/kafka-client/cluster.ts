/**
 * The wire client's view of a cluster and its routing: the bootstrap connection and one connection per broker
 * (opened on first use), brokers and topics as the last Metadata answered, and where a request goes — a
 * partition's leader, a group's coordinator, or the controller for admin requests.
 */
import type { ApiTypes, ServedApiName } from '../kafka-protocol/generated/index.js';
import { KafkaErrors } from '../kafka-protocol/error-codes.js';
import { Connection, hostPort, parseBootstrap, type RequestOptions } from './connection.js';
import { KafkaConnectionError, KafkaProtocolError, checkKafkaError } from './errors.js';
import type { BrokerInfo, ClusterMetadata, KafkaClientOptions, MetadataOptions, TopicInfo, TopicPartition } from './types.js';

/** Errors after which a refreshed cluster view may route the request correctly. */
export const STALE_METADATA_ERRORS: ReadonlySet<number> = new Set<number>([
  KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
  KafkaErrors.LEADER_NOT_AVAILABLE,
  KafkaErrors.NOT_LEADER_OR_FOLLOWER,
  KafkaErrors.FENCED_LEADER_EPOCH,
  KafkaErrors.UNKNOWN_LEADER_EPOCH,
]);
/** The group's coordinator is loading or moving: find it again and retry. */
export const COORDINATOR_RETRY_ERRORS: ReadonlySet<number> = new Set<number>([
  KafkaErrors.COORDINATOR_LOAD_IN_PROGRESS,
  KafkaErrors.COORDINATOR_NOT_AVAILABLE,
  KafkaErrors.NOT_COORDINATOR,
]);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Cluster {
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
  static async connect(opts: KafkaClientOptions): Promise<Cluster> {
    const specs = (typeof opts.bootstrap === 'string' ? [opts.bootstrap] : [...opts.bootstrap]).flatMap((s) => parseBootstrap(s));
    let lastErr: unknown;
    for (const { host, port } of specs) {
      try {
        const conn = await Connection.open({ host, port, ...connOpts(opts) });
        const cluster = new Cluster(conn, opts);
        try {
          await cluster.metadata([]);
        } catch (e) {
          cluster.close();
          throw e;
        }
        return cluster;
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

  /** The connection used for cluster-wide requests (Metadata, admin). */
  get bootstrapConnection(): Connection {
    return this.bootstrap;
  }

  /** Address of the bootstrap connection, for messages. */
  get address(): string {
    return hostPort(this.bootstrap.host, this.bootstrap.port);
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
      if (!broker) throw new KafkaProtocolError(KafkaErrors.BROKER_NOT_AVAILABLE, `broker ${nodeId} is not in the cluster metadata`);
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

  /** The bootstrap connection, reopened when it was closed. */
  async anyConnection(): Promise<Connection> {
    if (!this.bootstrap.closed) return this.bootstrap;
    if (this.closed) throw new KafkaConnectionError('closed', this.bootstrap.host, this.bootstrap.port, 'client is closed');
    this.bootstrap = await Connection.open({ host: this.bootstrap.host, port: this.bootstrap.port, ...connOpts(this.opts) });
    return this.bootstrap;
  }

  /** Brokers of the last Metadata response. */
  get view(): { clusterId: string | null; controllerId: number; brokers: BrokerInfo[] } {
    return { clusterId: this.clusterId, controllerId: this.controllerId, brokers: [...this.brokers.values()] };
  }

  /** Ids of the known brokers (asking for the broker list first when none is known). */
  async brokerIds(): Promise<number[]> {
    if (this.brokers.size === 0) await this.metadata([]);
    return [...this.brokers.keys()];
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

  /** Drops a topic from the cached view, so its next use asks Metadata again. */
  forgetTopic(name: string): void {
    this.topics.delete(name);
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
      const code = t ? t.errorCode : KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION;
      const leaderless = t !== undefined && code === 0 && (t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
      if (code === 0 && !leaderless) return t!;
      // a just-created topic answers LEADER_NOT_AVAILABLE (or has no leaders yet) for a moment
      const transient =
        code === KafkaErrors.LEADER_NOT_AVAILABLE || leaderless || (code === KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION && opts.autoCreate === true && attempt === 0);
      if (!transient || attempt >= 20) throw new KafkaProtocolError(leaderless ? KafkaErrors.LEADER_NOT_AVAILABLE : code, `topic '${name}'`);
      await sleep(Math.min(50 * (attempt + 1), 250));
    }
  }

  /** Leader node of a partition, from the cached view (refreshing it when needed). */
  async leaderOf(topic: string, partition: number, opts: { refresh?: boolean; autoCreate?: boolean } = {}): Promise<number> {
    const t = await this.topic(topic, opts);
    const p = t.partitions.find((x) => x.partition === partition);
    if (!p) {
      if (!opts.refresh) return this.leaderOf(topic, partition, { ...opts, refresh: true });
      throw new KafkaProtocolError(KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION, `partition ${partition} of topic '${topic}' (the topic has ${t.partitions.length})`);
    }
    if (p.leader < 0) throw new KafkaProtocolError(KafkaErrors.LEADER_NOT_AVAILABLE, `partition ${topic}-${partition}`);
    return p.leader;
  }

  /** Connection to the leader of a partition (for callers that pipeline their own requests). */
  async leaderConnection(topic: string, partition: number, opts: { autoCreate?: boolean } = {}): Promise<Connection> {
    return this.brokerConnection(await this.leaderOf(topic, partition, opts));
  }

  /** Groups topic-partition items by their leader node. */
  async byLeader<T extends TopicPartition>(items: readonly T[], refresh = false): Promise<Map<number, T[]>> {
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
  adminNode(): number | undefined {
    return this.brokers.has(this.controllerId) ? this.controllerId : undefined;
  }

  /** The coordinator of a consumer group (retries while the coordinator is loading or moving). */
  async findCoordinator(groupId: string): Promise<BrokerInfo> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.anyConnection();
      const v = conn.versionOf('FindCoordinator') ?? 0;
      const resp = await conn.request('FindCoordinator', { key: groupId, keyType: 0, coordinatorKeys: [groupId] });
      const c =
        v >= 4
          ? resp.coordinators[0] ?? { nodeId: -1, host: '', port: 0, errorCode: KafkaErrors.COORDINATOR_NOT_AVAILABLE, errorMessage: null }
          : { nodeId: resp.nodeId, host: resp.host, port: resp.port, errorCode: resp.errorCode, errorMessage: resp.errorMessage };
      if (c.errorCode === 0) {
        if (!this.brokers.has(c.nodeId)) this.brokers.set(c.nodeId, { nodeId: c.nodeId, host: c.host, port: c.port, rack: null });
        return this.brokers.get(c.nodeId)!;
      }
      if (!COORDINATOR_RETRY_ERRORS.has(c.errorCode) || attempt >= 20) checkKafkaError(c.errorCode, `coordinator of group '${groupId}'`, c.errorMessage);
      await sleep(100);
    }
  }

  /** Sends a request to a group's coordinator. */
  async sendToCoordinator<K extends ServedApiName>(groupId: string, api: K, body: ApiTypes[K]['requestInput'], opts?: RequestOptions): Promise<ApiTypes[K]['response']> {
    const node = (await this.findCoordinator(groupId)).nodeId;
    return this.send(api, body, node, opts);
  }
}

function connOpts(o: KafkaClientOptions): { clientId: string; connectTimeoutMs?: number; requestTimeoutMs?: number } {
  return {
    clientId: o.clientId ?? 'sluice',
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
  };
}

/** Items grouped by topic, in first-seen order (one entry per topic of a request). */
export function groupByTopic<T extends TopicPartition>(items: readonly T[]): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const it of items) {
    let l = m.get(it.topic);
    if (!l) m.set(it.topic, (l = []));
    l.push(it);
  }
  return [...m];
}
