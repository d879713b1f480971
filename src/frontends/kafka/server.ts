/**
 * The Kafka wire-protocol broker: a TCP server in front of one Sluice node. Real Kafka clients connect
 * to it as to a single-node cluster (this broker is the controller, the leader of every partition, and
 * the coordinator of every group). The node (src/node/) builds the engine, offsets store and group
 * coordinator and hands them over; this server only listens and answers.
 */
import { closeSync, openSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from '../../engine/types.js';
import type { SluiceEngine } from '../../engine/engine.js';
import type { OffsetsStore } from '../../coordinator/offsets-store.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import { Connection, type ConnectionCloseCause } from './connection.js';
import { createDispatcher } from './dispatch.js';
import { RequestMemoryPool } from './memory-pool.js';
import { TopicIdCache, countClose, newMetrics, type BrokerContext, type BrokerObserver, type KafkaServerMetrics } from './context.js';

export type { BrokerObserver, KafkaServerMetrics } from './context.js';
export type { ConnectionCloseCause } from './connection.js';

export interface KafkaServerOptions {
  engine: SluiceEngine;
  /** The node's committed-offsets store (the node closes it, not the server). */
  offsetsStore: OffsetsStore;
  /** The node's group coordinator, built on `offsetsStore` (the node closes it, not the server). */
  coordinator: GroupCoordinator;
  /** broker.id / node.id. */
  brokerId: number;
  /** Cluster id reported in Metadata. */
  clusterId: string;
  /** Interface to listen on. Default '0.0.0.0'. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 9092. */
  port?: number;
  /** Host clients are told to connect to (Metadata, FindCoordinator). Default: `host`, or this machine's name for a wildcard host. */
  advertisedHost?: string;
  /** Port clients are told to connect to. Default: the bound port. */
  advertisedPort?: number;
  /** auto.create.topics.enable. Default true. */
  autoCreateTopics?: boolean;
  /** num.partitions for auto-created topics and CreateTopics with -1. Default 1. */
  defaultPartitions?: number;
  /** socket.request.max.bytes: larger frames close the connection. Default 104857600. */
  socketRequestMaxBytes?: number;
  /**
   * queued.max.request.bytes: bytes of requests being read or handled, over all connections; when they are
   * used up, connections are not read until memory frees. Default 104857600 (Kafka's default, -1, is
   * unbounded; so is 0 or less here). A single frame always fits when nothing else is held.
   */
  queuedMaxRequestBytes?: number;
  /** connections.max.idle.ms: a connection with nothing in flight and no traffic this long is closed. Default 600000. */
  connectionsMaxIdleMs?: number;
  /**
   * Time a request frame may take to arrive in full, from its first byte (time spent waiting for request
   * memory included); never more than connectionsMaxIdleMs. Default 30000.
   */
  requestReadTimeoutMs?: number;
  /** max.connections: connections beyond it are closed as soon as accepted. Default 2147483647. */
  maxConnections?: number;
  /** max.connections.per.ip: connections from one address beyond it are closed as soon as accepted. Default 2147483647. */
  maxConnectionsPerIp?: number;
  /** pino-shaped logger. Default: silent. */
  logger?: Logger;
  /** Broker settings by Kafka name, as configured (reported by DescribeConfigs for the broker resource). */
  brokerConfig?: Record<string, string>;
  /** The node's observers, which this frontend reports into (a live list). Default: a list of its own. */
  observers?: BrokerObserver[];
}

export interface KafkaServer {
  /** Where the server listens. */
  readonly address: { host: string; port: number };
  /** Live counters (zero-copy accounting, requests, connections). */
  readonly metrics: KafkaServerMetrics;
  /** Adds per-request / per-topic callbacks (a metrics exporter); returns a function that removes them. */
  observe(observer: BrokerObserver): () => void;
  /** Stops listening and closes every connection. Not the coordinator, the offsets store or the engine (the node's). */
  close(): Promise<void>;
}

const DEFAULT_MAX_REQUEST_BYTES = 104857600;
export const DEFAULT_QUEUED_MAX_REQUEST_BYTES = 104857600;
export const DEFAULT_CONNECTIONS_MAX_IDLE_MS = 600000;
export const DEFAULT_REQUEST_READ_TIMEOUT_MS = 30000;
const INT32_MAX = 2147483647;

const SILENT: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export async function startKafkaServer(options: KafkaServerOptions): Promise<KafkaServer> {
  const engine = options.engine;
  const logger = options.logger ?? SILENT;
  const host = options.host ?? '0.0.0.0';
  const brokerId = options.brokerId;
  const maxRequestBytes = options.socketRequestMaxBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const idleMs = options.connectionsMaxIdleMs ?? DEFAULT_CONNECTIONS_MAX_IDLE_MS;
  const requestTimeoutMs = Math.min(options.requestReadTimeoutMs ?? DEFAULT_REQUEST_READ_TIMEOUT_MS, idleMs);
  const maxConnections = options.maxConnections ?? INT32_MAX;
  const maxConnectionsPerIp = options.maxConnectionsPerIp ?? INT32_MAX;
  const pool = new RequestMemoryPool(options.queuedMaxRequestBytes ?? DEFAULT_QUEUED_MAX_REQUEST_BYTES);
  const defaultPartitions = options.defaultPartitions ?? 1;
  const autoCreateTopics = options.autoCreateTopics ?? true;
  const offsets = options.offsetsStore;
  const groups = options.coordinator;

  // allowHalfOpen: a client that sends FIN right after its requests still gets the answers, then we end.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true });
  const connections = new Set<Connection>();
  const metrics = newMetrics();
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 9092 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await listening;
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : (options.port ?? 9092);
  const boundHost = typeof bound === 'object' && bound !== null ? bound.address : host;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const advertisedHost = options.advertisedHost ?? (wildcard ? hostname() : host);
  const advertisedPort = options.advertisedPort ?? boundPort;

  const brokerConfigs = new Map<string, string>([
    ['broker.id', String(brokerId)],
    ['node.id', String(brokerId)],
    ['listeners', `PLAINTEXT://${host}:${boundPort}`],
    ['advertised.listeners', `PLAINTEXT://${advertisedHost}:${advertisedPort}`],
    ['auto.create.topics.enable', String(autoCreateTopics)],
    ['num.partitions', String(defaultPartitions)],
    ['default.replication.factor', '1'],
    ['min.insync.replicas', '1'],
    ['socket.request.max.bytes', String(maxRequestBytes)],
    ['queued.max.request.bytes', String(pool.capacity)],
    ['connections.max.idle.ms', String(idleMs)],
    ['max.connections', String(maxConnections)],
    ['max.connections.per.ip', String(maxConnectionsPerIp)],
    ['offsets.topic.num.partitions', String(offsets.partitions)],
    ['offsets.topic.replication.factor', '1'],
  ]);
  for (const [k, v] of Object.entries(options.brokerConfig ?? {})) brokerConfigs.set(k, v);

  const ctx: BrokerContext = {
    engine,
    offsets,
    groups,
    logger,
    metrics,
    brokerId,
    clusterId: options.clusterId,
    advertisedHost,
    advertisedPort,
    autoCreateTopics,
    defaultPartitions,
    socketRequestMaxBytes: maxRequestBytes,
    brokerConfigs,
    topicIds: new TopicIdCache(engine),
    observers: options.observers ?? [],
  };
  const dispatch = createDispatcher(ctx);
  let closing = false;

  const perIp = new Map<string, number>();
  const leave = (ip: string): void => {
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };
  const closedFor = (cause: ConnectionCloseCause): void => countClose(metrics, cause);
  const refuse = (socket: Socket, cause: ConnectionCloseCause, limit: number): void => {
    closedFor(cause);
    logger.debug({ remote: socket.remoteAddress, limit: `${cause.replace(/_/g, '.')}=${limit}` }, 'kafka connection refused');
    socket.destroy();
  };
  server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const ip = socket.remoteAddress ?? '';
    if (connections.size >= maxConnections) return refuse(socket, 'max_connections', maxConnections);
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= maxConnectionsPerIp) return refuse(socket, 'max_connections_per_ip', maxConnectionsPerIp);
    metrics.connectionsAccepted++;
    metrics.connectionsOpen++;
    perIp.set(ip, fromIp + 1);
    try {
      const conn = new Connection(socket, {
        dispatch,
        maxRequestBytes,
        pool,
        logger,
        onCloseForCause: closedFor,
        onClose: (c) => {
          if (!connections.delete(c)) return;
          metrics.connectionsOpen--;
          leave(ip);
        },
      });
      connections.add(conn);
    } catch (err) {
      metrics.connectionsOpen--;
      leave(ip);
      logger.warn({ err }, 'kafka connection setup failed');
      socket.destroy();
    }
  });

  // Out of file descriptors, libuv accepts and closes new connections without telling us: a probe open each
  // second notices, and it is logged once per episode (an 'error' from accept is reported the same way).
  let fdsExhausted = false;
  const fdsOut = (code: string): void => {
    if (fdsExhausted) return;
    fdsExhausted = true;
    logger.error(
      { code, connectionsOpen: metrics.connectionsOpen, maxConnections },
      'out of file descriptors: new connections are closed as soon as they are accepted; raise the open-file limit (ulimit -n) or lower max.connections',
    );
  };
  const probeFds = (): void => {
    if (process.platform === 'win32') return;
    try {
      closeSync(openSync('/dev/null', 'r'));
      if (fdsExhausted) {
        fdsExhausted = false;
        logger.info({ connectionsOpen: metrics.connectionsOpen }, 'file descriptors available again');
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EMFILE' || code === 'ENFILE') fdsOut(code);
    }
  };
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') fdsOut(err.code);
    else logger.error({ err }, 'kafka server error');
  });

  // Request deadlines and idle connections: one sweep over the connections, a few times per deadline.
  const tickMs = Math.max(10, Math.min(1000, Math.floor(Math.min(requestTimeoutMs, idleMs) / 4)));
  let lastProbe = 0;
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of connections) c.expire(now, requestTimeoutMs, idleMs);
    if (now - lastProbe >= 1000) {
      lastProbe = now;
      probeFds();
    }
  }, tickMs);
  sweep.unref();
  logger.info({ host: boundHost, port: boundPort, advertisedHost, advertisedPort, brokerId }, 'kafka broker listening');

  let closed: Promise<void> | null = null;
  return {
    address: { host: boundHost, port: boundPort },
    metrics,
    observe(observer: BrokerObserver): () => void {
      ctx.observers.push(observer);
      return () => {
        const i = ctx.observers.indexOf(observer);
        if (i >= 0) ctx.observers.splice(i, 1);
      };
    },
    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      clearInterval(sweep);
      closed = (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of [...connections]) c.destroy();
        await stopped;
        logger.info({ port: boundPort }, 'kafka broker stopped');
      })();
      return closed;
    },
  };
}
