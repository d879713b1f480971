/**
 * The Prometheus endpoint on a real engine and broker: kafkajs produces to two topics and consumes them
 * with a group, then `GET /metrics` must agree with the engine (offsets, sizes), the offsets store (lag)
 * and what was sent (bytes, records, requests), and show every owner's rings and fsync timings.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { Sluice } from '../../src/sluice.js';
import type { KafkaServer } from '../../src/frontends/kafka/server.js';
import { startNode, type SluiceNode } from '../../src/node/node.js';
import type { OffsetsStore } from '../../src/coordinator/offsets-store.js';
import { configFromEnv, resolveBrokerConfig } from '../../src/cli/broker-config.js';
import { createMetrics, startMetricsServer, type MetricsServer, type SluiceMetrics } from '../../src/metrics/prometheus.js';
import { waitFor } from '../kafka/helpers.js';
import { parseMetrics, Scrape } from './scrape.js';

const FLUSHED = 'm-flushed'; // flush.messages=1: every append is fsync'd
const PLAIN = 'm-plain';
const OWNERS = 2;

let dir: string;
let engine: Sluice;
let store: OffsetsStore;
let node: SluiceNode;
let server: KafkaServer;
let metrics: SluiceMetrics;
let http: MetricsServer;
let kafka: Kafka;
let producer: Producer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-metrics-'));
  engine = await Sluice.open({ dataDir: dir, owners: OWNERS, offsetsTopicPartitions: 4 });
  store = await engine.offsetsStore();
  node = await startNode({
    engine,
    offsetsStore: store,
    groups: { initialRebalanceDelayMs: 50, minSessionTimeoutMs: 1000 },
    kafka: { host: '127.0.0.1', port: 0 },
  });
  server = node.kafka!;
  metrics = createMetrics({ engine, node, offsetsStore: store });
  http = await startMetricsServer({ metrics, port: 0 });
  await engine.createTopic(FLUSHED, { partitions: 3, configs: { 'flush.messages': '1' } });
  await engine.createTopic(PLAIN, { partitions: 2 });
  kafka = new Kafka({ clientId: 'metrics-test', brokers: [`127.0.0.1:${server.address.port}`], logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await http?.close();
  await node?.close();
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends `count` records to each listed partition, one request per partition. */
async function produce(topic: string, partitions: number[], count: number, tag: string): Promise<void> {
  for (const partition of partitions) {
    await producer.send({
      topic,
      messages: Array.from({ length: count }, (_, i) => ({ partition, key: `k${i}`, value: `${tag}-${topic}-${partition}-${i}` })),
    });
  }
}

test('bytes/records in, requests and latency, partition offsets and sizes, owner rings and fsyncs', async () => {
  const before = await Scrape.from(http.url);
  const bytesBefore = server.metrics.produceRecordBytes;
  await produce(FLUSHED, [0, 1, 2], 10, 'a');
  await produce(FLUSHED, [0, 1, 2], 5, 'b');
  await produce(PLAIN, [0, 1], 7, 'a');
  const s = await Scrape.from(http.url);

  // Per-topic traffic in: records = what was sent; bytes = the batches appended, which is exactly what the
  // segment files of a fresh topic hold, and what the broker's own counter saw.
  const bytesIn = (sc: Scrape, topic: string): number => sc.valueOr0('sluice_topic_bytes_in_total', { topic });
  assert.equal(s.value('sluice_topic_records_in_total', { topic: FLUSHED }) - before.valueOr0('sluice_topic_records_in_total', { topic: FLUSHED }), 45);
  assert.equal(s.value('sluice_topic_records_in_total', { topic: PLAIN }) - before.valueOr0('sluice_topic_records_in_total', { topic: PLAIN }), 14);
  for (const topic of [FLUSHED, PLAIN]) {
    assert.equal(bytesIn(s, topic) - bytesIn(before, topic), s.sum('sluice_partition_size_bytes', { topic }), `bytes in of ${topic}`);
  }
  assert.equal(bytesIn(s, FLUSHED) + bytesIn(s, PLAIN) - bytesIn(before, FLUSHED) - bytesIn(before, PLAIN), server.metrics.produceRecordBytes - bytesBefore);

  // Requests and latency per Kafka API.
  assert.ok(s.value('sluice_requests_total', { api: 'Produce' }) >= 8);
  for (const api of ['Produce', 'Metadata', 'ApiVersions']) {
    const count = s.value('sluice_request_duration_seconds_count', { api });
    assert.ok(count > 0, `${api} latency count`);
    assert.equal(s.value('sluice_request_duration_seconds_bucket', { api, le: '+Inf' }), count);
    assert.ok(s.value('sluice_request_duration_seconds_sum', { api }) > 0);
    assert.ok(s.all('sluice_request_duration_seconds_bucket', { api }).length > 10);
  }

  // Partition gauges equal the engine's offsets.
  for (const [topic, n] of [[FLUSHED, 3], [PLAIN, 2]] as const) {
    for (let partition = 0; partition < n; partition++) {
      const o = engine.offsets(topic, partition);
      const labels = { topic, partition };
      assert.equal(s.value('sluice_partition_log_end_offset', labels), Number(o.logEndOffset));
      assert.equal(s.value('sluice_partition_high_watermark', labels), Number(o.highWatermark));
      assert.equal(s.value('sluice_partition_log_start_offset', labels), Number(o.logStartOffset));
      assert.ok(s.value('sluice_partition_size_bytes', labels) > 0);
    }
  }
  assert.equal(s.all('sluice_partition_high_watermark', { topic: '__consumer_offsets' }).length, 4, 'internal topics too');

  // Every owner: rings and fsync timings. Three consecutive partitions of FLUSHED spread over both owners,
  // and each got appends with flush.messages=1, so each owner has synced.
  let ownedPartitions = 0;
  for (let owner = 0; owner < OWNERS; owner++) {
    for (const ring of ['append', 'completion']) {
      assert.ok(s.value('sluice_owner_ring_capacity_bytes', { owner, ring }) >= 65536);
      const used = s.value('sluice_owner_ring_used_bytes', { owner, ring });
      assert.ok(used >= 0 && used <= s.value('sluice_owner_ring_capacity_bytes', { owner, ring }));
    }
    assert.equal(s.value('sluice_owner_appends_in_flight', { owner }), 0);
    ownedPartitions += s.value('sluice_owner_partitions', { owner });
    const flushes = s.value('sluice_owner_flush_duration_seconds_count', { owner });
    assert.ok(flushes > 0, `owner ${owner} flushed`);
    assert.equal(s.value('sluice_owner_flush_duration_seconds_bucket', { owner, le: '+Inf' }), flushes);
    assert.ok(s.value('sluice_owner_flush_duration_seconds_sum', { owner }) > 0);
    const buckets = s.all('sluice_owner_flush_duration_seconds_bucket', { owner }).map((x) => x.value);
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'cumulative buckets');
  }
  assert.equal(ownedPartitions, 3 + 2 + 4);
  assert.ok(s.sum('sluice_owner_flush_duration_seconds_count') >= 6, 'one fsync per produce request to the flushed topic at least');

  // prom-client's process metrics are in the same registry; broker connection counters too.
  assert.ok(s.all('process_cpu_user_seconds_total').length === 1);
  assert.ok(s.all('nodejs_eventloop_lag_seconds').length === 1);
  assert.ok(s.value('sluice_connections_open') >= 1);
  assert.equal(s.value('sluice_fetch_bytes_copied_total'), 0);
});

test('consumer group lag is high watermark minus committed; bytes/records out count what was fetched', async () => {
  const groupId = 'm-group';
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [FLUSHED, PLAIN], fromBeginning: true });
  let received = 0;
  await consumer.run({ eachMessage: async () => void received++ });
  const hw = (topic: string, p: number): bigint => engine.offsets(topic, p).highWatermark;
  const parts: [string, number][] = [[FLUSHED, 0], [FLUSHED, 1], [FLUSHED, 2], [PLAIN, 0], [PLAIN, 1]];
  const total = parts.reduce((n, [t, p]) => n + Number(hw(t, p)), 0);
  await waitFor(() => received >= total, 15_000, 'every record consumed');
  const committedAll = (): boolean => {
    const c = store.fetch(groupId);
    return parts.every(([t, p]) => c.find((x) => x.topic === t && x.partition === p)?.offset === hw(t, p));
  };
  await waitFor(committedAll, 10_000, 'offsets committed up to the high watermark');
  await consumer.disconnect();

  let s = await Scrape.from(http.url);
  for (const [topic, partition] of parts) {
    assert.equal(s.value('sluice_consumer_group_lag', { group: groupId, topic, partition }), 0);
    assert.equal(s.value('sluice_consumer_group_committed_offset', { group: groupId, topic, partition }), Number(hw(topic, partition)));
  }
  // Out: at least every batch once (a client may fetch a batch again).
  for (const topic of [FLUSHED, PLAIN]) {
    assert.ok(s.value('sluice_topic_bytes_out_total', { topic }) >= s.sum('sluice_partition_size_bytes', { topic }), `bytes out of ${topic}`);
  }
  assert.ok(s.value('sluice_topic_records_out_total', { topic: FLUSHED }) >= Number(hw(FLUSHED, 0) + hw(FLUSHED, 1) + hw(FLUSHED, 2)));
  assert.ok(s.value('sluice_requests_total', { api: 'Fetch' }) > 0);
  assert.ok(s.value('sluice_request_duration_seconds_count', { api: 'Fetch' }) > 0);
  assert.ok(s.value('sluice_requests_total', { api: 'OffsetCommit' }) > 0);

  // Produce after the commit: the group falls behind by exactly that much.
  await produce(FLUSHED, [1], 4, 'late');
  await produce(PLAIN, [0], 2, 'late');
  s = await Scrape.from(http.url);
  const committed = store.fetch(groupId);
  for (const [topic, partition] of parts) {
    const c = committed.find((x) => x.topic === topic && x.partition === partition)!.offset;
    assert.equal(s.value('sluice_consumer_group_lag', { group: groupId, topic, partition }), Number(hw(topic, partition) - c));
  }
  assert.equal(s.value('sluice_consumer_group_lag', { group: groupId, topic: FLUSHED, partition: 1 }), 4);
  assert.equal(s.value('sluice_consumer_group_lag', { group: groupId, topic: PLAIN, partition: 0 }), 2);
  assert.equal(s.sum('sluice_consumer_group_lag', { group: groupId }), 6);
});

test('the endpoint answers /metrics only; registries are per instance; close() stops observing', async () => {
  assert.equal((await fetch(http.url.replace('/metrics', '/'))).status, 404);
  assert.equal((await fetch(http.url.replace('/metrics', '/other'))).status, 404);
  assert.equal((await fetch(http.url, { method: 'POST' })).status, 405);
  const res = await fetch(http.url);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  await res.text();

  // A second exporter in the same process: its own registry, no "already registered" clash.
  const second = createMetrics({ engine, node, offsetsStore: store });
  const produceRequests = async (m: SluiceMetrics): Promise<number> => new Scrape(parseMetrics(await m.scrape())).valueOr0('sluice_requests_total', { api: 'Produce' });
  await produce(PLAIN, [1], 1, 'before-close');
  const sent = await produceRequests(metrics);
  const secondBefore = await produceRequests(second);
  assert.equal(secondBefore, 1, 'the second exporter saw the request made while it was attached');
  second.close(); // detaches its observer: its request counter stops moving, the first one's does not
  await produce(PLAIN, [1], 1, 'after-close');
  const firstAfter = await produceRequests(metrics);
  const secondAfter = await produceRequests(second);
  assert.equal(firstAfter, sent + 1);
  assert.equal(secondAfter, secondBefore);
});

test('sluice.metrics.port: from the environment, off by default, range-checked', () => {
  assert.equal(resolveBrokerConfig().metricsPort, null);
  assert.equal(resolveBrokerConfig(configFromEnv({ SLUICE_CFG_SLUICE_METRICS_PORT: '9404' })).metricsPort, 9404);
  assert.equal(resolveBrokerConfig({ 'sluice.metrics.port': '0' }).metricsPort, 0);
  assert.throws(() => resolveBrokerConfig({ 'sluice.metrics.port': '70000' }), /out of range/);
  assert.throws(() => resolveBrokerConfig({ 'sluice.metrics.port': 'abc' }), /integer/);
});
