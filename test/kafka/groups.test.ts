/** Consumer groups through kafkajs: rebalances on join and leave, committed offsets, group admin. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer } from 'kafkajs';
import { waitFor } from './helpers.js';
import { startBroker, type Broker } from '../brokers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.stop();
});

test('a group of two rebalances when a third joins and when one leaves; every record is delivered exactly once', async () => {
  const topic = 'grp';
  const groupId = 'grp-group';
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
  const producer = kafka.producer();
  await producer.connect();
  const TOTAL = 600;
  const produce = async (from: number, to: number) => {
    for (let i = from; i < to; i += 50) {
      await producer.send({
        topic,
        messages: Array.from({ length: Math.min(50, to - i) }, (_, j) => ({ key: `key-${(i + j) % 17}`, value: String(i + j) })),
      });
    }
  };
  await produce(0, TOTAL / 2);

  // value → how often it was delivered, and by whom.
  const deliveries = new Map<number, number>();
  const byMember = new Map<string, number>();
  let delivered = 0;
  const assignedHistory: string[] = [];
  const makeConsumer = async (name: string): Promise<Consumer> => {
    const c = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 200, maxWaitTimeInMs: 200, rebalanceTimeout: 10000 });
    c.on(c.events.GROUP_JOIN, (e) => assignedHistory.push(`${name}:${e.payload.memberId.slice(0, 8)}`));
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommitThreshold: 1, // commit every record before the next: a rebalance never replays a processed record
      eachMessage: async ({ message }) => {
        const v = Number(message.value!.toString());
        deliveries.set(v, (deliveries.get(v) ?? 0) + 1);
        byMember.set(name, (byMember.get(name) ?? 0) + 1);
        delivered++;
        await new Promise((r) => setTimeout(r, 3));
      },
    });
    return c;
  };
  const c1 = await makeConsumer('c1');
  const c2 = await makeConsumer('c2');
  await waitFor(() => delivered >= 100, 30000, '100 deliveries');
  const c3 = await makeConsumer('c3');
  await produce(TOTAL / 2, TOTAL);
  await waitFor(() => (byMember.get('c3') ?? 0) > 0, 30000, 'c3 to receive records');
  await c1.disconnect();
  await waitFor(() => deliveries.size >= TOTAL, 60000, `all ${TOTAL} records (have ${deliveries.size})`);
  // Give stragglers a moment to show up as duplicates, if there were any.
  await new Promise((r) => setTimeout(r, 300));
  await c2.disconnect();
  await c3.disconnect();
  await producer.disconnect();

  for (let i = 0; i < TOTAL; i++) assert.equal(deliveries.get(i), 1, `record ${i} delivered ${deliveries.get(i) ?? 0} times`);
  assert.ok((byMember.get('c1') ?? 0) > 0 && (byMember.get('c2') ?? 0) > 0 && (byMember.get('c3') ?? 0) > 0);
  assert.ok(assignedHistory.length >= 4, `expected several joins, got ${assignedHistory.join(', ')}`);

  // Committed offsets cover the whole topic.
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const high = await admin.fetchTopicOffsets(topic);
  const highBy = new Map(high.map((h) => [h.partition, h.high]));
  for (const p of committed[0]!.partitions) assert.equal(p.offset, highBy.get(p.partition));
  await admin.disconnect();
});

test('group admin: list, describe, committed offsets, reset and delete', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'ga', numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'ga', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: i % 2 })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'ga-group', sessionTimeout: 6000, heartbeatInterval: 200, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'ga', fromBeginning: true });
  let n = 0;
  await consumer.run({ eachMessage: async () => void n++ });
  await waitFor(() => n >= 10, 20000, '10 messages');

  const described = await admin.describeGroups(['ga-group']);
  assert.equal(described.groups[0]!.state, 'Stable');
  assert.equal(described.groups[0]!.protocolType, 'consumer');
  assert.equal(described.groups[0]!.members.length, 1);
  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === 'ga-group'));
  // A non-empty group cannot be deleted.
  await assert.rejects(admin.deleteGroups(['ga-group']));
  await consumer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId: 'ga-group', topics: ['ga'] });
  assert.deepEqual(
    offsets[0]!.partitions.map((p) => p.offset).sort(),
    ['5', '5'],
  );
  await admin.setOffsets({ groupId: 'ga-group', topic: 'ga', partitions: [{ partition: 0, offset: '2' }] });
  const after = await admin.fetchOffsets({ groupId: 'ga-group', topics: ['ga'] });
  assert.equal(after[0]!.partitions.find((p) => p.partition === 0)!.offset, '2');
  // Unknown groups answer -1 offsets, as Kafka.
  const unknown = await admin.fetchOffsets({ groupId: 'nobody', topics: ['ga'] });
  assert.deepEqual(unknown[0]!.partitions.map((p) => p.offset), ['-1', '-1']);

  await admin.deleteGroups(['ga-group']);
  const gone = await admin.fetchOffsets({ groupId: 'ga-group', topics: ['ga'] });
  assert.deepEqual(gone[0]!.partitions.map((p) => p.offset), ['-1', '-1']);
  await admin.disconnect();
});
