/** kafkajs against the broker: admin, produce (keys, headers, gzip, idempotent), consume, restart. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, type EachMessagePayload } from 'kafkajs';
import { waitFor } from './helpers.js';
import { startBroker, type Broker } from '../brokers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.stop();
});

test('admin creates, lists, describes and deletes topics', async () => {
  const admin = b.kafka().admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }, { topic: 'adm-b' }] }), true);
    // Already exists: kafkajs reports false instead of throwing.
    assert.equal(await admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }] }), false);
    const names = await admin.listTopics();
    assert.ok(names.includes('adm-a') && names.includes('adm-b'));
    const md = await admin.fetchTopicMetadata({ topics: ['adm-a'] });
    assert.equal(md.topics.length, 1);
    assert.equal(md.topics[0]!.partitions.length, 3);
    for (const p of md.topics[0]!.partitions) {
      assert.equal(p.leader, 0);
      assert.deepEqual(p.replicas, [0]);
      assert.deepEqual(p.isr, [0]);
    }
    await assert.rejects(admin.createTopics({ topics: [{ topic: 'adm-c', replicationFactor: 3 }] }), (err: unknown) => {
      const inner = (err as { errors?: { type?: string }[] }).errors ?? [];
      assert.equal(inner[0]?.type, 'INVALID_REPLICATION_FACTOR');
      return true;
    });
    await admin.deleteTopics({ topics: ['adm-b'] });
    const after = await admin.listTopics();
    assert.ok(!after.includes('adm-b'));
    assert.ok(!b.engine.hasTopic('adm-b'));
  } finally {
    await admin.disconnect();
  }
});

test('produce with keys and headers, consume them back', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kv', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const messages = Array.from({ length: 50 }, (_, i) => ({
    key: `k${i % 5}`,
    value: `value-${i}`,
    headers: { idx: String(i), kind: 'test' },
  }));
  const res = await producer.send({ topic: 'kv', messages });
  assert.ok(res.length >= 1);
  for (const r of res) assert.equal(r.errorCode, 0);
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'kv-group', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'kv', fromBeginning: true });
  const got: { key: string; value: string; headers: Record<string, string>; partition: number }[] = [];
  await consumer.run({
    eachMessage: async ({ message, partition }: EachMessagePayload) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      got.push({ key: message.key!.toString(), value: message.value!.toString(), headers, partition });
    },
  });
  await waitFor(() => got.length >= 50, 20000, '50 messages');
  await consumer.disconnect();
  assert.equal(got.length, 50);
  const byValue = new Map(got.map((g) => [g.value, g]));
  for (let i = 0; i < 50; i++) {
    const g = byValue.get(`value-${i}`)!;
    assert.ok(g, `missing value-${i}`);
    assert.equal(g.key, `k${i % 5}`);
    assert.equal(g.headers['idx'], String(i));
    assert.equal(g.headers['kind'], 'test');
  }
  // Same key → same partition.
  const partOfKey = new Map<string, number>();
  for (const g of got) {
    const p = partOfKey.get(g.key);
    if (p !== undefined) assert.equal(p, g.partition);
    partOfKey.set(g.key, g.partition);
  }
});

test('gzip batches round-trip and fetches send record bytes by reference', async () => {
  const kafka = b.kafka();
  const producer = kafka.producer();
  await producer.connect();
  const copiedBefore = b.server.metrics.fetchBytesCopied;
  const sentBefore = b.server.metrics.fetchRecordBytes;
  const big = 'x'.repeat(2000);
  // Auto-created on first use (Metadata with allowAutoTopicCreation).
  for (let i = 0; i < 5; i++) {
    await producer.send({
      topic: 'gz',
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 20 }, (_, j) => ({ key: `b${i}`, value: `${i}-${j}-${big}` })),
    });
  }
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'gz-group', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'gz', fromBeginning: true });
  const seen = new Set<string>();
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.add(message.value!.toString().split('-').slice(0, 2).join('-'));
    },
  });
  await waitFor(() => seen.size >= 100, 20000, '100 gzip messages');
  await consumer.disconnect();
  assert.equal(seen.size, 100);
  assert.equal(b.server.metrics.fetchBytesCopied - copiedBefore, 0, 'record bytes copied on the fetch path');
  assert.ok(b.server.metrics.fetchRecordBytes - sentBefore > 0, 'record bytes were sent');
});

test('idempotent producer: sequence numbers accepted, one copy of each record', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 1 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < 10; i++) {
    await producer.send({ topic: 'idem', messages: [{ value: `m${i}` }, { value: `n${i}` }] });
  }
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets('idem');
  await admin.disconnect();
  assert.equal(offsets[0]!.high, '20');
  assert.equal(offsets[0]!.low, '0');
});

test('records survive a broker restart between produce and consume', async () => {
  const kafka = b.kafka();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'durable', messages: Array.from({ length: 30 }, (_, i) => ({ value: `d${i}` })) });
  await producer.disconnect();
  await b.restart();
  const consumer = b.kafka().consumer({ groupId: 'durable-group', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'durable', fromBeginning: true });
  const got: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  await waitFor(() => got.length >= 30, 20000, '30 messages after restart');
  await consumer.disconnect();
  assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => `d${i}`));
});
