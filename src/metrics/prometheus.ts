/**
 * Prometheus metrics for a Sluice broker (`sluice start --metrics-port`), with prom-client.
 *
 * Everything lives in a dedicated Registry (several brokers in one process do not clash). Counters fed by
 * the request path (requests, per-topic bytes and records) come from the node's observer callbacks (every
 * frontend reports into them; connection counters are summed over the node's frontends) and
 * cost a few map updates per request; everything that reads state (offsets, sizes, lag, ring occupancy,
 * owner fsync timings) is computed at scrape time in `collect()`, so appends pay nothing for it.
 * The metric names are listed in docs/architecture.md ("Metrics").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import type { SluiceEngine } from '../engine/engine.js';
import type { Logger, TopicDescription } from '../engine/types.js';
import { FLUSH_BUCKETS_SECONDS, type OwnerStats } from '../engine/owner-stats.js';
import type { OffsetsStore } from '../coordinator/offsets-store.js';
import type { FrontendCounters, NodeObserver, ObservedNode } from '../frontends/observer.js';

/** Upper bounds of the request latency buckets, in seconds (Fetch long polls land in the top ones). */
export const REQUEST_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsSources {
  engine: SluiceEngine;
  /** The node: request, per-topic traffic and connection metrics come from its frontends. */
  node?: ObservedNode;
  /** The committed-offsets store the broker uses: consumer group lag is computed from it. */
  offsetsStore?: Pick<OffsetsStore, 'listGroups' | 'entries'>;
  /** Include prom-client's default process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

export interface SluiceMetrics {
  readonly registry: Registry;
  /** The text exposition format of every metric (what `GET /metrics` answers). */
  scrape(): Promise<string>;
  readonly contentType: string;
  /** Stops observing the node (the registry keeps answering with what it has). */
  close(): void;
}

interface TopicTraffic {
  bytesIn: number;
  recordsIn: number;
  bytesOut: number;
  recordsOut: number;
}

/** One histogram series whose counts are kept elsewhere (non-cumulative buckets, then the overflow one). */
interface ExternalSeries {
  labels: Record<string, string>;
  buckets: readonly number[];
  sum: number;
}

type HistogramOutput = MetricObjectWithValues<MetricValueWithName<string>>;

/**
 * A histogram whose buckets are counted in another thread (the owner's shared stats): read at scrape time,
 * never `observe`d here — prom-client's Histogram has no way to set bucket counts.
 */
class ExternalHistogram extends Histogram<string> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];
  private readonly read: () => ExternalSeries[];

  constructor(cfg: { name: string; help: string; labelNames: string[]; buckets: readonly number[]; registry: Registry }, read: () => ExternalSeries[]) {
    super({ name: cfg.name, help: cfg.help, labelNames: cfg.labelNames, buckets: [...cfg.buckets], registers: [cfg.registry] });
    this.metricName = cfg.name;
    this.metricHelp = cfg.help;
    this.bounds = cfg.buckets;
    this.read = read;
  }

  override async get(): Promise<HistogramOutput> {
    const name = this.metricName;
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.read()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.buckets[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: this.bounds[i]! }, value: acc });
      }
      const count = acc + (s.buckets[this.bounds.length] ?? 0);
      values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: count });
      values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${name}_count`, labels: s.labels, value: count });
    }
    // At run time a metric's type is the string the text format prints (the typings say enum).
    const type = 'histogram' as unknown as MetricType;
    return { name, help: this.metricHelp, type, values, aggregator: 'sum', collect: () => undefined };
  }

  /** prom-client 15's Registry formats text from this one when a metric has it. */
  getForPromString(): Promise<HistogramOutput> {
    return this.get();
  }
}

/** Creates the registry and every Sluice metric; observes the node when one is given. */
export function createMetrics(sources: MetricsSources): SluiceMetrics {
  const { engine, node, offsetsStore } = sources;
  const registry = new Registry();
  if (sources.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // ---------------------------------------------------------------- node traffic (observer callbacks)
  const traffic = new Map<string, TopicTraffic>();
  const trafficOf = (topic: string): TopicTraffic => {
    let t = traffic.get(topic);
    if (t === undefined) {
      t = { bytesIn: 0, recordsIn: 0, bytesOut: 0, recordsOut: 0 };
      traffic.set(topic, t);
    }
    return t;
  };
  const requests = new Counter({ name: 'sluice_requests_total', help: 'Kafka requests handled, by API.', labelNames: ['api'], registers });
  const requestSeconds = new Histogram({
    name: 'sluice_request_duration_seconds',
    help: 'Time from request frame to encoded response, by Kafka API (a Fetch long poll includes its wait).',
    labelNames: ['api'],
    buckets: [...REQUEST_BUCKETS_SECONDS],
    registers,
  });
  const observer: NodeObserver = {
    request(api, seconds) {
      requests.inc({ api });
      requestSeconds.observe({ api }, seconds);
    },
    produced(topic, bytes, records) {
      const t = trafficOf(topic);
      t.bytesIn += bytes;
      t.recordsIn += records;
    },
    fetched(topic, bytes, records) {
      const t = trafficOf(topic);
      t.bytesOut += bytes;
      t.recordsOut += records;
    },
  };
  const unobserve = node?.observe(observer) ?? null;

  /** Per-topic counters are plain numbers updated by the observer and copied out at scrape time. */
  const trafficCounter = (name: string, help: string, field: keyof TopicTraffic): void => {
    new Counter({
      name,
      help,
      labelNames: ['topic'],
      registers,
      collect() {
        this.reset();
        if (!engine.isOpen) return;
        for (const [topic, t] of traffic) {
          if (engine.hasTopic(topic)) this.inc({ topic }, t[field]);
          else traffic.delete(topic); // deleted topic: drop its series
        }
      },
    });
  };
  if (node) {
    trafficCounter('sluice_topic_bytes_in_total', 'Record batch bytes appended through Produce, by topic.', 'bytesIn');
    trafficCounter('sluice_topic_records_in_total', 'Records appended through Produce, by topic.', 'recordsIn');
    trafficCounter('sluice_topic_bytes_out_total', 'Record batch bytes sent in Fetch responses, by topic.', 'bytesOut');
    trafficCounter('sluice_topic_records_out_total', 'Records sent in Fetch responses, by topic (whole batches: may include records before the fetch offset).', 'recordsOut');
    const frontends = node.frontends;
    const sum = (field: Exclude<keyof FrontendCounters, 'connectionsClosed'>) => (): number => frontends.reduce((n, f) => n + f[field], 0);
    const fromFrontends = (name: string, help: string, read: () => number, kind: 'counter' | 'gauge'): void => {
      if (kind === 'counter') {
        new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
      } else {
        new Gauge({ name, help, registers, collect() { this.set(read()); } });
      }
    };
    fromFrontends('sluice_connections_open', 'Client connections currently open.', sum('connectionsOpen'), 'gauge');
    fromFrontends('sluice_connections_accepted_total', 'Client connections accepted.', sum('connectionsAccepted'), 'counter');
    fromFrontends('sluice_protocol_errors_total', 'Connections closed for a protocol violation (bad or oversized frame, unknown API, malformed request).', sum('protocolErrors'), 'counter');
    new Counter({
      name: 'sluice_connections_closed_total',
      help: 'Connections the broker closed or refused on its own, by cause (protocol_error, request_timeout, idle, max_connections, max_connections_per_ip, acks0_produce_failed, server_error).',
      labelNames: ['cause'],
      registers,
      collect() {
        this.reset();
        for (const f of frontends) for (const [cause, n] of Object.entries(f.connectionsClosed)) this.inc({ cause }, n);
      },
    });
    fromFrontends('sluice_fetch_bytes_copied_total', 'Record bytes copied in JS on the fetch path (0 when every slice went to the socket by reference).', sum('fetchBytesCopied'), 'counter');
  }

  new Gauge({
    name: 'sluice_long_poll_waiters',
    help: 'Long polls waiting for data (Fetch max.wait.ms, embedded consumer polls): one per request, whatever its partitions.',
    registers,
    collect() {
      this.set(engine.isOpen ? engine.liveWaiters() : 0);
    },
  });

  // ---------------------------------------------------------------- partitions (scrape time)
  // One describeTopic per topic (sizes need a round trip to the owners), shared by the gauges of one scrape.
  let described: Promise<TopicDescription[]> | null = null;
  const describeAll = (): Promise<TopicDescription[]> => {
    described ??= (async () => {
      if (!engine.isOpen) return [];
      const topics = engine.listTopics({ includeInternal: true });
      const all = await Promise.all(topics.map((t) => engine.describeTopic(t).catch(() => null))); // deleted meanwhile
      return all.filter((d): d is TopicDescription => d !== null);
    })().finally(() => {
      described = null;
    });
    return described;
  };
  const partitionGauge = (name: string, help: string, read: (p: TopicDescription['partitions'][number]) => bigint | number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'],
      registers,
      async collect() {
        const topics = await describeAll();
        this.reset();
        for (const t of topics) for (const p of t.partitions) this.set({ topic: t.name, partition: p.partition }, Number(read(p)));
      },
    });
  };
  partitionGauge('sluice_partition_log_end_offset', 'Log end offset: the offset the next record will get.', (p) => p.logEndOffset);
  partitionGauge('sluice_partition_high_watermark', 'High watermark: consumers read up to here.', (p) => p.highWatermark);
  partitionGauge('sluice_partition_log_start_offset', 'Log start offset (advanced by retention and DeleteRecords).', (p) => p.logStartOffset);
  partitionGauge('sluice_partition_size_bytes', 'Bytes of the partition\'s segment files.', (p) => p.sizeBytes);

  // ---------------------------------------------------------------- consumer groups (scrape time)
  if (offsetsStore) {
    const groupGauge = (name: string, help: string, value: (committed: bigint, hw: bigint) => bigint): void => {
      new Gauge({
        name,
        help,
        labelNames: ['group', 'topic', 'partition'],
        registers,
        collect() {
          this.reset();
          if (!engine.isOpen) return;
          for (const group of offsetsStore.listGroups()) {
            for (const e of offsetsStore.entries(group)) {
              if (e.offset < 0n || !engine.hasTopic(e.topic) || e.partition >= engine.partitionCount(e.topic)) continue;
              const hw = engine.offsets(e.topic, e.partition).highWatermark;
              this.set({ group, topic: e.topic, partition: e.partition }, Number(value(e.offset, hw)));
            }
          }
        },
      });
    };
    groupGauge('sluice_consumer_group_committed_offset', 'Committed offset of a consumer group.', (c) => c);
    groupGauge('sluice_consumer_group_lag', 'High watermark minus committed offset (0 when the commit is ahead).', (c, hw) => (hw > c ? hw - c : 0n));
  }

  // ---------------------------------------------------------------- owner threads (scrape time)
  const owners = (): OwnerStats[] => (engine.isOpen ? engine.ownerStats() : []);
  const ownerGauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: OwnerStats) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const s of owners()) fill(this, s);
      },
    });
  };
  ownerGauge('sluice_owner_ring_used_bytes', 'Bytes in an owner\'s ring not yet consumed (append: engine → owner; completion: owner → engine).', ['owner', 'ring'], (g, s) => {
    g.set({ owner: s.owner, ring: 'append' }, s.appendRingUsedBytes);
    g.set({ owner: s.owner, ring: 'completion' }, s.completionRingUsedBytes);
  });
  ownerGauge('sluice_owner_ring_capacity_bytes', 'Capacity of an owner\'s ring.', ['owner', 'ring'], (g, s) => {
    g.set({ owner: s.owner, ring: 'append' }, s.appendRingCapacityBytes);
    g.set({ owner: s.owner, ring: 'completion' }, s.completionRingCapacityBytes);
  });
  ownerGauge('sluice_owner_appends_in_flight', 'Appends waiting for completion or for ring space (back-pressure).', ['owner'], (g, s) => g.set({ owner: s.owner }, s.appendsInFlight));
  ownerGauge('sluice_owner_partitions', 'Partitions an owner thread writes.', ['owner'], (g, s) => g.set({ owner: s.owner }, s.partitions));
  new ExternalHistogram(
    {
      name: 'sluice_owner_flush_duration_seconds',
      help: 'fdatasync time per partition flush, by owner thread (count = flushes that synced data).',
      labelNames: ['owner'],
      buckets: FLUSH_BUCKETS_SECONDS,
      registry,
    },
    () => owners().map((s) => ({ labels: { owner: String(s.owner) }, buckets: s.flush.buckets, sum: s.flush.sumSeconds })),
  );

  return {
    registry,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    close() {
      unobserve?.();
    },
  };
}

export interface MetricsServerOptions {
  metrics: SluiceMetrics;
  /** 0 picks a free port. */
  port: number;
  /** Default '127.0.0.1'. */
  host?: string;
  logger?: Logger;
}

export interface MetricsServer {
  readonly address: { host: string; port: number };
  /** http://host:port/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text format) over node:http; anything else is 404 (405 for other methods). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    try {
      const body = await metrics.scrape();
      res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      logger?.warn({ err }, 'metrics scrape failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  const http = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ host, port: options.port }, () => {
      http.off('error', reject);
      resolve();
    });
  });
  http.on('error', (err) => logger?.error({ err }, 'metrics server error'));
  const bound = http.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  const boundHost = typeof bound === 'object' && bound !== null ? bound.address : host;
  const urlHost = boundHost.includes(':') ? `[${boundHost}]` : boundHost;
  let closed: Promise<void> | null = null;
  return {
    address: { host: boundHost, port },
    url: `http://${urlHost}:${port}/metrics`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections(); // keep-alive scrapers would hold close() open
      });
      return closed;
    },
  };
}
