/**
 * One Sluice node, assembled in one place (as Kafka's BrokerServer does): with `etcd`, the etcd connection and
 * the broker's registration first; then the engine, the node's identity, the committed-offsets store and group
 * coordinator, then the Kafka frontend on top, then the metrics endpoint. Parts start in that order and close in
 * the reverse one; a part that fails to start closes the ones before it. `sluice start` and the in-process tests
 * build their broker here.
 */
import { createHash } from 'node:crypto';
import { SluiceEngine } from '../engine/engine.js';
import type { Logger, SluiceOptions } from '../engine/types.js';
import { SluiceError } from '../errors.js';
import type { OffsetsStore } from '../coordinator/offsets-store.js';
import type { GroupCoordinator } from '../coordinator/group-coordinator.js';
import { startKafkaServer, type KafkaServer, type KafkaServerOptions } from '../frontends/kafka/server.js';
import type { MetricsServer, SluiceMetrics } from '../metrics/prometheus.js';
import { BrokerRegistration } from '../cluster/broker-registration.js';
import { EtcdConnection, type EtcdConnectionOptions } from '../cluster/etcd.js';
import { EtcdProducerIdManager } from '../cluster/etcd-producer-ids.js';
import { EtcdTopicStore } from '../cluster/etcd-topic-store.js';
import { createGroupCoordinator, groupConfigEntries, openOffsetsStore, type GroupSettings } from './groups.js';
import { NodeObservers, type FrontendCounters, type NodeObserver, type ObservedNode } from '../frontends/observer.js';

/** The Kafka listener's settings (what the node builds is handed to it). */
export type KafkaListenerOptions = Omit<KafkaServerOptions, 'engine' | 'offsetsStore' | 'coordinator' | 'brokerId' | 'clusterId' | 'logger' | 'observers'>;

export interface NodeOptions {
  /** An open engine (its opener closes it, after the node), or the options to open one (the node closes it). */
  engine: SluiceEngine | SluiceOptions;
  /** pino-shaped logger for the node's parts (the engine logs to the one in its own options). Default: silent. */
  logger?: Logger;
  /** broker.id / node.id, the engine's `nodeId`. Default: the engine's (0 unless its options say). */
  brokerId?: number;
  /** Cluster id. Default: derived from the engine's data directory (stable across restarts). */
  clusterId?: string;
  /** A committed-offsets store already open on this engine (its opener closes it). Default: the node opens one. */
  offsetsStore?: OffsetsStore;
  /** offsets.topic.num.partitions when the node creates `__consumer_offsets`. Default: the engine options' value, else 50. */
  offsetsTopicPartitions?: number;
  /** Group coordinator settings (group.initial.rebalance.delay.ms, session timeout bounds, ...). */
  groups?: GroupSettings;
  /** The Kafka listener. Omitted: the node serves no Kafka clients. */
  kafka?: KafkaListenerOptions;
  /** Serve Prometheus metrics at http://host:port/metrics (port 0 picks a free one; host default '127.0.0.1'). */
  metrics?: { host?: string; port: number };
  /**
   * Keep the metadata in etcd (sluice.etcd.endpoints / sluice.etcd.prefix): the node connects, registers as
   * `<prefix>/brokers/<brokerId>` under a lease (`sessionTimeoutMs`, broker.session.timeout.ms), and opens its
   * engine with the etcd topic store and producer ids. Needs engine options (not an open engine). This slice runs
   * one broker per prefix: another live broker under it refuses the start. Omitted: local files, no etcd.
   */
  etcd?: EtcdNodeOptions;
}

export interface EtcdNodeOptions extends EtcdConnectionOptions {
  /** The registration lease's TTL (broker.session.timeout.ms), rounded up to seconds. Default 9000. */
  sessionTimeoutMs?: number;
}

const SILENT: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A Kafka-style cluster id (22 chars of base64url) derived from the data directory, so it survives restarts. */
function defaultClusterId(dataDir: string): string {
  return createHash('sha256').update(`sluice:${dataDir}`).digest('base64url').slice(0, 22);
}

export class SluiceNode implements ObservedNode {
  private closed: Promise<void> | null = null;

  private constructor(
    readonly engine: SluiceEngine,
    readonly brokerId: number,
    readonly clusterId: string,
    readonly offsets: OffsetsStore,
    readonly groups: GroupCoordinator,
    /** The Kafka frontend, when the node was given a listener. */
    readonly kafka: KafkaServer | null,
    /** The Prometheus endpoint, when the node was given a metrics port. */
    readonly metricsServer: MetricsServer | null,
    private readonly metrics: SluiceMetrics | null,
    private readonly observers: NodeObservers,
    /** The counters of each running frontend. */
    readonly frontends: readonly FrontendCounters[],
    private readonly owns: { engine: boolean; offsets: boolean },
    /** The etcd connection and registration, when the node keeps its metadata in etcd. */
    private readonly cluster: { etcd: EtcdConnection; registration: BrokerRegistration } | null,
    private readonly logger: Logger,
  ) {}

  /** Adds callbacks every frontend reports into (requests, produced and fetched data); returns their remover. */
  observe(observer: NodeObserver): () => void {
    return this.observers.add(observer);
  }

  /** Starts each part in order; if one fails, the ones already started are closed and the error is thrown. */
  static async start(options: NodeOptions): Promise<SluiceNode> {
    const logger = options.logger ?? SILENT;
    const given = options.engine instanceof SluiceEngine ? options.engine : null;
    if (given !== null && options.brokerId !== undefined && options.brokerId !== given.nodeId) {
      throw new SluiceError('INVALID_ARGUMENT', `brokerId ${options.brokerId} differs from the given engine's nodeId ${given.nodeId}`);
    }
    if (given !== null && options.etcd !== undefined) {
      throw new SluiceError('INVALID_ARGUMENT', 'a node with etcd opens its own engine: pass engine options, not an open engine');
    }
    // Closes what started so far, newest first.
    const undo: (() => Promise<void> | void)[] = [];
    const rollback = async (): Promise<void> => {
      for (const close of undo.reverse()) await close();
    };
    let cluster: { etcd: EtcdConnection; registration: BrokerRegistration } | null = null;
    let engine: SluiceEngine;
    try {
      let stores: Pick<SluiceOptions, 'topicStore' | 'producerIds'> = {};
      if (options.etcd !== undefined) {
        const { sessionTimeoutMs, ...connection } = options.etcd;
        const nodeId = options.brokerId ?? (options.engine as SluiceOptions).nodeId ?? 0;
        const etcd = await EtcdConnection.connect(connection);
        undo.push(() => etcd.close());
        const registration = await BrokerRegistration.register(etcd, {
          brokerId: nodeId,
          ...(sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {}),
          onLost: (err) => logger.error({ err, key: etcd.key('brokers', String(nodeId)) }, 'lost the broker registration in etcd (lease expired); serving on'),
        });
        undo.push(() => closeRegistration(registration, logger));
        cluster = { etcd, registration };
        stores = { topicStore: new EtcdTopicStore(etcd, { nodeId }), producerIds: new EtcdProducerIdManager(etcd) };
        logger.info({ endpoints: etcd.endpoints, key: registration.key, ttlSeconds: registration.ttlSeconds }, 'registered in etcd');
      }
      engine =
        given ??
        (await SluiceEngine.open({
          ...(options.engine as SluiceOptions),
          ...(options.brokerId !== undefined ? { nodeId: options.brokerId } : {}),
          ...stores,
        }));
    } catch (e) {
      await rollback();
      throw e;
    }
    if (given === null) undo.push(() => engine.close());
    try {
      const brokerId = engine.nodeId;
      const clusterId = options.clusterId ?? defaultClusterId(engine.dataDir);
      const partitions = options.offsetsTopicPartitions ?? (given === null ? (options.engine as SluiceOptions).offsetsTopicPartitions : undefined);
      const offsets = options.offsetsStore ?? (await openOffsetsStore(engine, partitions));
      if (options.offsetsStore === undefined) undo.push(() => offsets.close());
      const groupSettings = options.groups ?? {};
      const groups = createGroupCoordinator(engine, offsets, groupSettings, logger);
      undo.push(() => groups.close());
      const observers = new NodeObservers();
      let kafka: KafkaServer | null = null;
      if (options.kafka !== undefined) {
        const listener = options.kafka;
        kafka = await startKafkaServer({
          ...listener,
          engine,
          offsetsStore: offsets,
          coordinator: groups,
          brokerId,
          clusterId,
          brokerConfig: { ...groupConfigEntries(groupSettings), ...listener.brokerConfig },
          observers: observers.list,
          logger,
        });
        const started = kafka;
        undo.push(() => started.close());
      }
      const frontends: FrontendCounters[] = kafka !== null ? [kafka.metrics] : [];
      let metrics: SluiceMetrics | null = null;
      let metricsServer: MetricsServer | null = null;
      if (options.metrics !== undefined) {
        // prom-client is loaded only by a node that exports metrics.
        const { createMetrics, startMetricsServer } = await import('../metrics/prometheus.js');
        const node: ObservedNode = { observe: (o) => observers.add(o), frontends };
        metrics = createMetrics({ engine, node, offsetsStore: offsets });
        metricsServer = await startMetricsServer({ metrics, host: options.metrics.host, port: options.metrics.port, logger });
        logger.info({ url: metricsServer.url }, 'prometheus metrics available');
      }
      return new SluiceNode(engine, brokerId, clusterId, offsets, groups, kafka, metricsServer, metrics, observers, frontends, {
        engine: given === null,
        offsets: options.offsetsStore === undefined,
      }, cluster, logger);
    } catch (e) {
      await rollback();
      throw e;
    }
  }

  /**
   * Closes the parts in reverse order: metrics, frontends, group coordinator, offsets store, engine (the ones the
   * node opened), then the etcd registration (its lease revoked) and the etcd connection.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.metricsServer?.close();
      this.metrics?.close();
      await this.kafka?.close();
      this.groups.close();
      if (this.owns.offsets) await this.offsets.close();
      if (this.owns.engine) await this.engine.close();
      if (this.cluster !== null) {
        await closeRegistration(this.cluster.registration, this.logger);
        this.cluster.etcd.close();
      }
    })();
    return this.closed;
  }
}

/** Revokes the registration; if etcd does not answer, the lease expires by itself after its TTL (logged). */
async function closeRegistration(registration: BrokerRegistration, logger: Logger): Promise<void> {
  try {
    await registration.revoke();
  } catch (err) {
    logger.warn({ err, key: registration.key }, `could not revoke the broker registration in etcd; it expires after ${registration.ttlSeconds} s`);
  }
}

/** Assembles and starts a node (see `SluiceNode.start`). */
export function startNode(options: NodeOptions): Promise<SluiceNode> {
  return SluiceNode.start(options);
}
