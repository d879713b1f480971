/** Admin APIs through kafkajs and raw requests: configs, partitions, records, offsets by time, topic ids. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { encodeBatch } from '../../src/record/batch.js';
import { RawClient, decodeResponse, requestFrame } from './raw.js';
import { startBroker, type Broker } from '../brokers.js';

const { ConfigResourceTypes } = kafkajs;

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.stop();
});

test('describe and alter topic configs; broker configs are described', async () => {
  const admin = b.kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'cfg', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    const d = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg' }],
    });
    const entries = d.resources[0]!.configEntries;
    const retention = entries.find((e) => e.configName === 'retention.ms')!;
    assert.equal(retention.configValue, '3600000');
    assert.equal(retention.isDefault, false);
    const segment = entries.find((e) => e.configName === 'segment.bytes')!;
    assert.equal(segment.isDefault, true);

    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    });
    // AlterConfigs replaces the whole override set: retention.ms is back to its default.
    const overrides = (await b.engine.describeTopic('cfg')).overrides;
    assert.deepEqual(overrides, { 'cleanup.policy': 'compact' });

    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: 'soon' }] }],
      }),
      (err: unknown) => (err as { type?: string }).type === 'INVALID_CONFIG',
    );

    const broker = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '0' }] });
    const names = broker.resources[0]!.configEntries.map((e) => e.configName);
    assert.ok(names.includes('auto.create.topics.enable') && names.includes('num.partitions'));
  } finally {
    await admin.disconnect();
  }
});

test('create partitions, delete records, offsets by timestamp, describe cluster', async () => {
  const admin = b.kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'parts', numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'parts', count: 3 }] });
    assert.equal(b.engine.partitionCount('parts'), 3);
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'parts', count: 2 }] }));

    const producer = b.kafka().producer();
    await producer.connect();
    const t0 = Date.now() - 10000;
    await producer.send({
      topic: 'parts',
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${i}`, partition: 0, timestamp: String(t0 + i * 1000) })),
    });
    await producer.disconnect();

    const byTime = await admin.fetchTopicOffsetsByTimestamp('parts', t0 + 4500);
    assert.equal(byTime.find((p) => p.partition === 0)!.offset, '5');

    await admin.deleteTopicRecords({ topic: 'parts', partitions: [{ partition: 0, offset: '4' }] });
    const offs = await admin.fetchTopicOffsets('parts');
    const p0 = offs.find((o) => o.partition === 0)!;
    assert.equal(p0.low, '4');
    assert.equal(p0.high, '10');

    const cluster = await admin.describeCluster();
    assert.equal(cluster.controller, 0);
    assert.equal(cluster.brokers.length, 1);
    assert.equal(cluster.brokers[0]!.port, b.port);
  } finally {
    await admin.disconnect();
  }
});

test('newer versions: topic ids in Metadata v12 and Fetch v13+, incremental configs, max timestamp', async () => {
  const topic = 'ids';
  const d = await b.engine.createTopic(topic, { partitions: 1 });
  const now = BigInt(Date.now());
  await b.engine.append(topic, 0, encodeBatch([{ value: 'a', timestamp: now - 5000n }, { value: 'b', timestamp: now + 5000n }, { value: 'c', timestamp: now }]), { acks: 1 });
  const c = await RawClient.open(b.port);
  c.write(requestFrame('Metadata', 12, 1, { topics: [{ name: topic }], allowAutoTopicCreation: false }));
  c.write(
    requestFrame('Fetch', 16, 2, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      topics: [{ topicId: d.topicId, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    }),
  );
  c.write(
    requestFrame('IncrementalAlterConfigs', 1, 3, {
      resources: [
        {
          resourceType: 2,
          resourceName: topic,
          configs: [
            { name: 'retention.ms', configOperation: 0, value: '7200000' },
            { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
          ],
        },
      ],
      validateOnly: false,
    }),
  );
  c.write(
    requestFrame('ListOffsets', 8, 4, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -3n }] }] }),
  );
  c.write(requestFrame('Metadata', 12, 5, { topics: [{ name: 'missing-topic' }], allowAutoTopicCreation: false }));
  c.write(requestFrame('DescribeCluster', 1, 6, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
  assert.ok(await c.waitFrames(6, 5000));
  const md = decodeResponse('Metadata', 12, c.frames[0]!).body;
  assert.equal(md.topics[0]!.topicId, d.topicId);
  const fetched = decodeResponse('Fetch', 16, c.frames[1]!).body;
  assert.equal(fetched.responses[0]!.topicId, d.topicId);
  assert.equal(fetched.responses[0]!.partitions[0]!.errorCode, 0);
  assert.ok(fetched.responses[0]!.partitions[0]!.records!.length > 0);
  const inc = decodeResponse('IncrementalAlterConfigs', 1, c.frames[2]!).body;
  assert.equal(inc.responses[0]!.errorCode, 0);
  const cfg = (await b.engine.describeTopic(topic)).configs;
  assert.equal(cfg['retention.ms'], '7200000');
  assert.equal(cfg['cleanup.policy'], 'delete,compact');
  const lo = decodeResponse('ListOffsets', 8, c.frames[3]!).body;
  assert.equal(lo.topics[0]!.partitions[0]!.offset, 1n);
  assert.equal(lo.topics[0]!.partitions[0]!.timestamp, now + 5000n);
  const missing = decodeResponse('Metadata', 12, c.frames[4]!).body;
  assert.equal(missing.topics[0]!.errorCode, 3);
  assert.ok(!b.engine.hasTopic('missing-topic'));
  const dc = decodeResponse('DescribeCluster', 1, c.frames[5]!).body;
  assert.equal(dc.controllerId, 0);
  assert.equal(dc.brokers[0]!.port, b.port);
  c.destroy();
});
