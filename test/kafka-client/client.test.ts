/** The wire client against a real `sluice start` broker (no mocks). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  Connection,
  EARLIEST_TIMESTAMP,
  GroupMember,
  KafkaClient,
  KafkaConnectionError,
  KafkaProtocolError,
  LATEST_TIMESTAMP,
  decodeFetchedRecords,
  kafkaErrorName,
  parseBootstrap,
  rangeAssign,
} from '../../src/kafka-client/index.js';
import { encodeBatch } from '../../src/record/batch.js';
import { CompressionType } from '../../src/record/batch-header.js';
import { deadPort, startTestBroker, type TestBroker } from '../brokers.js';

let broker: TestBroker;
let client: KafkaClient;

before(async () => {
  broker = await startTestBroker();
  client = await KafkaClient.connect({ bootstrap: broker.bootstrap, clientId: 'client-test' });
});

after(async () => {
  client?.close();
  await broker?.stop();
});

describe('connection', () => {
  test('negotiates versions with ApiVersions and sees the cluster', () => {
    const conn = client.bootstrapConnection;
    assert.ok((conn.versionOf('Metadata') ?? -1) >= 1);
    assert.ok((conn.versionOf('Produce') ?? -1) >= 3);
    // this client caps Fetch below topic-id-only versions
    assert.ok((conn.versionOf('Fetch') ?? 99) <= 12);
    const { brokers, controllerId } = client.cluster;
    assert.equal(brokers.length, 1);
    assert.equal(brokers[0]!.port, broker.port);
    assert.equal(controllerId, brokers[0]!.nodeId);
  });

  test('an unreachable broker is a KafkaConnectionError naming host, port and cause', async () => {
    const port = await deadPort();
    await assert.rejects(KafkaClient.connect({ bootstrap: `127.0.0.1:${port}` }), (e: unknown) => {
      assert.ok(e instanceof KafkaConnectionError);
      assert.equal(e.message, `cannot connect to 127.0.0.1:${port} (ECONNREFUSED)`);
      assert.equal(e.failure, 'unreachable');
      return true;
    });
  });

  test('a broker that never answers times out with code TIMEOUT', async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as net.AddressInfo;
    try {
      await assert.rejects(Connection.open({ host: '127.0.0.1', port, requestTimeoutMs: 200 }), (e: unknown) => {
        assert.ok(e instanceof KafkaConnectionError);
        assert.equal(e.code, 'TIMEOUT');
        assert.match(e.message, /ApiVersions request to 127\.0\.0\.1:\d+ timed out after 200 ms/);
        return true;
      });
    } finally {
      for (const s of sockets) s.destroy();
      srv.close();
    }
  });

  test('a connection the broker drops rejects pending requests', async () => {
    const srv = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as net.AddressInfo;
    try {
      await assert.rejects(Connection.open({ host: '127.0.0.1', port }), (e: unknown) => {
        assert.ok(e instanceof KafkaConnectionError);
        assert.match(e.message, /connection to 127\.0\.0\.1:\d+ closed by the broker/);
        return true;
      });
    } finally {
      srv.close();
    }
  });

  test('bootstrap strings: lists, IPv6, default port, garbage', () => {
    assert.deepEqual(parseBootstrap('a:1, [::1]:2,b'), [
      { host: 'a', port: 1 },
      { host: '::1', port: 2 },
      { host: 'b', port: 9092 },
    ]);
    assert.throws(() => parseBootstrap('a:99999'), /invalid port/);
    assert.throws(() => parseBootstrap(''), /no bootstrap server/);
  });

  test('error names follow Kafka\'s Errors enum', () => {
    assert.equal(kafkaErrorName(3), 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal(kafkaErrorName(36), 'TOPIC_ALREADY_EXISTS');
    assert.equal(kafkaErrorName(9999), 'UNKNOWN_ERROR_CODE(9999)');
    const e = new KafkaProtocolError(3, "topic 'x'");
    assert.equal(e.message, "topic 'x': UNKNOWN_TOPIC_OR_PARTITION: this server does not host this topic-partition");
    assert.equal(e.retriable, true);
  });
});

describe('topics and configs', () => {
  test('create, duplicate create, metadata of unknown topics', async () => {
    const [r] = await client.createTopics([{ name: 'c-topic', numPartitions: 3, replicationFactor: 1, configs: { 'retention.ms': '3600000' } }]);
    assert.equal(r!.name, 'c-topic');
    await assert.rejects(client.createTopics([{ name: 'c-topic', numPartitions: 1 }]), (e: unknown) => {
      assert.ok(e instanceof KafkaProtocolError);
      assert.equal(e.errorName, 'TOPIC_ALREADY_EXISTS');
      assert.equal(e.errorCode, 36);
      return true;
    });
    const md = await client.metadata(['c-topic', 'no-such-topic']);
    const known = md.topics.find((t) => t.name === 'c-topic')!;
    assert.equal(known.partitions.length, 3);
    assert.deepEqual(known.partitions.map((p) => p.partition), [0, 1, 2]);
    assert.ok(known.partitions.every((p) => p.leader === md.brokers[0]!.nodeId));
    assert.equal(md.topics.find((t) => t.name === 'no-such-topic')!.errorCode, 3);
    await assert.rejects(client.topic('no-such-topic', { refresh: true }), { name: 'KafkaProtocolError', errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  test('describe and alter configs (set, then remove an override)', async () => {
    await client.createTopics([{ name: 'cfg-topic', numPartitions: 1, configs: { 'retention.ms': '60000' } }]);
    const [before] = await client.describeConfigs([{ type: 'topic', name: 'cfg-topic' }]);
    const ret = before!.entries.find((e) => e.name === 'retention.ms')!;
    assert.equal(ret.value, '60000');
    assert.equal(ret.source, 'DYNAMIC_TOPIC_CONFIG');
    await client.alterConfigs({ type: 'topic', name: 'cfg-topic' }, { 'retention.ms': '120000', 'cleanup.policy': 'compact' });
    const [mid] = await client.describeConfigs([{ type: 'topic', name: 'cfg-topic', keys: ['retention.ms', 'cleanup.policy'] }]);
    assert.deepEqual(mid!.entries.map((e) => [e.name, e.value]).sort(), [['cleanup.policy', 'compact'], ['retention.ms', '120000']]);
    await client.alterConfigs({ type: 'topic', name: 'cfg-topic' }, { 'retention.ms': null });
    const [afterDel] = await client.describeConfigs([{ type: 'topic', name: 'cfg-topic', keys: ['retention.ms'] }]);
    assert.notEqual(afterDel!.entries[0]!.source, 'DYNAMIC_TOPIC_CONFIG');
    await assert.rejects(client.describeConfigs([{ type: 'topic', name: 'missing-cfg' }]), KafkaProtocolError);
  });

  test('create partitions, then delete the topic', async () => {
    await client.createTopics([{ name: 'grow', numPartitions: 1 }]);
    await client.createPartitions('grow', 4);
    assert.equal((await client.topic('grow', { refresh: true })).partitions.length, 4);
    await assert.rejects(client.createPartitions('grow', 2), KafkaProtocolError);
    await client.deleteTopics(['grow']);
    await assert.rejects(client.deleteTopics(['grow']), { errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

describe('produce, fetch, list offsets', () => {
  test('produce returns base offsets; fetch returns the records and the high watermark', async () => {
    await client.createTopics([{ name: 'pf', numPartitions: 2 }]);
    const b1 = encodeBatch([{ key: 'k1', value: 'v1', headers: [{ key: 'h', value: Buffer.from('x') }] }, { value: 'v2' }]);
    const r1 = await client.produce('pf', 1, b1, { acks: 1 });
    assert.equal(r1.baseOffset, 0n);
    const r2 = await client.produce('pf', 1, encodeBatch([{ value: 'v3' }], { compression: CompressionType.Gzip }), { acks: -1 });
    assert.equal(r2.baseOffset, 2n);
    const [f] = await client.fetch([{ topic: 'pf', partition: 1, offset: 1n }], { maxWaitMs: 10 });
    assert.equal(f!.error, null);
    assert.equal(f!.highWatermark, 3n);
    const { records, nextOffset } = decodeFetchedRecords(f!.records, 1n);
    assert.deepEqual(records.map((r) => [r.offset, String(r.value)]), [[1n, 'v2'], [2n, 'v3']]);
    assert.equal(nextOffset, 3n);
    const [empty] = await client.fetch([{ topic: 'pf', partition: 0, offset: 0n }], { maxWaitMs: 10 });
    assert.equal(empty!.records, null);
  });

  test('fetch beyond the log end reports OFFSET_OUT_OF_RANGE per partition instead of throwing', async () => {
    const [f] = await client.fetch([{ topic: 'pf', partition: 1, offset: 1000n }], { maxWaitMs: 10 });
    assert.equal(f!.error?.errorName, 'OFFSET_OUT_OF_RANGE');
  });

  test('acks=0 produce resolves without a response', async () => {
    const r = await client.produce('pf', 0, encodeBatch([{ value: 'fire-and-forget' }]), { acks: 0 });
    assert.equal(r.baseOffset, -1n);
    // a later acked produce on the same connection proves the first one was written in order
    const r2 = await client.produce('pf', 0, encodeBatch([{ value: 'acked' }]), { acks: 1 });
    assert.equal(r2.baseOffset, 1n);
  });

  test('pipelined produces keep their order and all get offsets', async () => {
    await client.createTopics([{ name: 'pipe', numPartitions: 1 }]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.produce('pipe', 0, encodeBatch([{ value: `m${i}` }, { value: `n${i}` }]), { acks: 1 })));
    assert.deepEqual(results.map((r) => r.baseOffset), Array.from({ length: 50 }, (_, i) => BigInt(i * 2)));
    assert.ok(client.bootstrapConnection.inFlight === 0);
  });

  test('list offsets: earliest, latest, by timestamp', async () => {
    await client.createTopics([{ name: 'ts', numPartitions: 1 }]);
    await client.produce('ts', 0, encodeBatch([{ value: 'a', timestamp: 1000 }, { value: 'b', timestamp: 2000 }]), { acks: 1 });
    await client.produce('ts', 0, encodeBatch([{ value: 'c', timestamp: 3000 }]), { acks: 1 });
    const q = (timestamp: bigint): Promise<bigint> => client.listOffsets([{ topic: 'ts', partition: 0, timestamp }]).then((r) => r[0]!.offset);
    assert.equal(await q(EARLIEST_TIMESTAMP), 0n);
    assert.equal(await q(LATEST_TIMESTAMP), 3n);
    assert.equal(await q(1500n), 1n);
    assert.equal(await q(3000n), 2n);
    assert.equal(await q(99999n), -1n);
    await assert.rejects(client.listOffsets([{ topic: 'ts', partition: 7, timestamp: LATEST_TIMESTAMP }]), { errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  test('produce to a missing partition is UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await assert.rejects(client.produce('pf', 9, encodeBatch([{ value: 'x' }])), { name: 'KafkaProtocolError', errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

describe('groups', () => {
  test('range assignor matches Kafka\'s', () => {
    const plan = rangeAssign(
      [
        { memberId: 'b', topics: ['t', 'u'] },
        { memberId: 'a', topics: ['t'] },
      ],
      new Map([
        ['t', 5],
        ['u', 2],
      ]),
    );
    assert.deepEqual(plan.get('a'), [{ topic: 't', partitions: [0, 1, 2] }]);
    assert.deepEqual(plan.get('b'), [
      { topic: 't', partitions: [3, 4] },
      { topic: 'u', partitions: [0, 1] },
    ]);
  });

  test('simple commits, offset fetch, describe, list, delete', async () => {
    await client.createTopics([{ name: 'gt', numPartitions: 2 }]);
    await client.offsetCommit('simple', [
      { topic: 'gt', partition: 0, offset: 5n },
      { topic: 'gt', partition: 1, offset: 7n, metadata: 'm' },
    ]);
    const all = await client.offsetFetch('simple');
    assert.deepEqual(all.map((c) => [c.topic, c.partition, c.offset]), [['gt', 0, 5n], ['gt', 1, 7n]]);
    const some = await client.offsetFetch('simple', [{ topic: 'gt', partition: 1 }, { topic: 'other', partition: 0 }]);
    assert.equal(some.find((c) => c.topic === 'other')!.offset, -1n);
    const [d] = await client.describeGroups(['simple']);
    assert.equal(d!.members.length, 0);
    assert.ok((await client.listGroups()).some((g) => g.groupId === 'simple'));
    await client.deleteGroups(['simple']);
    await assert.rejects(client.deleteGroups(['simple']), { errorName: 'GROUP_ID_NOT_FOUND' });
  });

  test('two members split the partitions with the range assignor; leaving rebalances', async () => {
    await client.createTopics([{ name: 'members', numPartitions: 4 }]);
    const other = await KafkaClient.connect({ bootstrap: broker.bootstrap, clientId: 'second' });
    const m1 = new GroupMember(client, { groupId: 'pair', topics: ['members'], heartbeatIntervalMs: 200, sessionTimeoutMs: 6000 });
    const m2 = new GroupMember(other, { groupId: 'pair', topics: ['members'], heartbeatIntervalMs: 200, sessionTimeoutMs: 6000 });
    try {
      const g1 = await m1.join();
      assert.deepEqual(g1.assignment.map((a) => a.partition), [0, 1, 2, 3]);
      // the second join triggers a rebalance: m1 learns of it from a heartbeat and rejoins
      const second = m2.join();
      for (let i = 0; i < 100 && !m1.rebalanceNeeded; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(m1.rebalanceNeeded, 'a heartbeat reported the rebalance');
      const [a1, a2] = await Promise.all([m1.join(), second]);
      const parts = [...a1.assignment, ...a2.assignment].map((a) => a.partition).sort();
      assert.deepEqual(parts, [0, 1, 2, 3]);
      assert.equal(a1.assignment.length, 2);
      assert.equal(a1.generationId, a2.generationId);
      await m1.commit([{ topic: 'members', partition: a1.assignment[0]!.partition, offset: 1n }]);
      const [d] = await client.describeGroups(['pair']);
      assert.equal(d!.state, 'Stable');
      assert.equal(d!.protocol, 'range');
      assert.equal(d!.members.length, 2);
      assert.deepEqual(d!.members.flatMap((m) => m.assignment.flatMap((a) => a.partitions)).sort(), [0, 1, 2, 3]);
      assert.deepEqual(d!.members[0]!.subscribedTopics, ['members']);
    } finally {
      await m2.leave();
      await m1.leave();
      other.close();
    }
    const [after] = await client.describeGroups(['pair']);
    assert.equal(after!.state, 'Empty');
  });
});
