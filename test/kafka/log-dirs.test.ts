/** DescribeLogDirs (api key 35): one log dir, per-partition sizes, unknown topics left out, v0-v4. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { encodeBatch } from '../../src/record/batch.js';
import { Connection } from '../../src/kafka-client/connection.js';
import { KafkaClient } from '../../src/kafka-client/client.js';
import { startBroker, type Broker } from '../brokers.js';

let b: Broker;
let conn: Connection;
before(async () => {
  b = await startBroker();
  conn = await Connection.open({ host: '127.0.0.1', port: b.port, clientId: 'log-dirs-test' });
  await b.engine.createTopic('dirs', { partitions: 3 });
  await b.engine.createTopic('dirs-other', { partitions: 1 });
  await b.engine.append('dirs', 1, encodeBatch([{ value: 'one' }, { value: 'two' }, { value: 'three' }]), { acks: 1 });
  await b.engine.append('dirs', 2, encodeBatch([{ value: 'x'.repeat(2000) }]), { acks: 1 });
});
after(async () => {
  conn?.close();
  await b.stop();
});

test('ApiVersions advertises DescribeLogDirs v0-v4', async () => {
  const r = await conn.request('ApiVersions', { clientSoftwareName: 'test', clientSoftwareVersion: '1' }, { version: 3 });
  const k = r.apiKeys.find((a) => a.apiKey === 35);
  assert.deepEqual(k && { min: k.minVersion, max: k.maxVersion }, { min: 0, max: 4 });
  assert.equal(conn.versionOf('DescribeLogDirs'), 4);
});

test('every version: the data dir with the sizes the engine reports; unknown topics and partitions left out', async () => {
  const expected = (await b.engine.describeTopic('dirs')).partitions.map((p) => BigInt(p.sizeBytes));
  assert.ok(expected[1]! > 0n && expected[2]! > expected[1]!, `engine sizes ${expected.join(',')}`);
  for (let v = 0; v <= 4; v++) {
    const r = await conn.request(
      'DescribeLogDirs',
      { topics: [{ topic: 'dirs', partitions: [0, 1, 2, 7] }, { topic: 'ghost', partitions: [0] }] },
      { version: v },
    );
    assert.equal(r.errorCode, 0, `v${v}`);
    assert.equal(r.results.length, 1, `v${v}`);
    const d = r.results[0]!;
    assert.equal(d.errorCode, 0);
    assert.equal(d.logDir, resolve(b.dir));
    assert.deepEqual(
      d.topics.map((t) => t.name),
      ['dirs'],
      `v${v}: unknown topic omitted`,
    );
    assert.deepEqual(
      d.topics[0]!.partitions.map((p) => [p.partitionIndex, p.partitionSize, p.offsetLag, p.isFutureKey]),
      [0, 1, 2].map((i) => [i, expected[i]!, 0n, false]),
      `v${v}: unknown partition omitted`,
    );
    if (v >= 4) {
      assert.ok(d.totalBytes > 0n, `totalBytes ${d.totalBytes}`);
      assert.ok(d.usableBytes >= 0n && d.usableBytes <= d.totalBytes, `usableBytes ${d.usableBytes}`);
    } else {
      assert.equal(d.totalBytes, -1n);
      assert.equal(d.usableBytes, -1n);
    }
  }
});

test('null topics: every topic and partition; a subset of partitions when asked', async () => {
  const all = await conn.request('DescribeLogDirs', { topics: null });
  const byName = new Map(all.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex).sort()]));
  assert.deepEqual(byName.get('dirs'), [0, 1, 2]);
  assert.deepEqual(byName.get('dirs-other'), [0]);
  for (const name of b.engine.listTopics({ includeInternal: true })) assert.ok(byName.has(name), name);

  const some = await conn.request('DescribeLogDirs', { topics: [{ topic: 'dirs', partitions: [2] }] });
  assert.deepEqual(
    some.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)]),
    [['dirs', [2]]],
  );
  const none = await conn.request('DescribeLogDirs', { topics: [] });
  assert.deepEqual(none.results[0]!.topics, []);
});

test('kafka-client describeLogDirs: sizes per partition from the leader', async () => {
  const client = await KafkaClient.connect({ bootstrap: `127.0.0.1:${b.port}`, clientId: 'log-dirs-test' });
  try {
    const got = await client.describeLogDirs([0, 1, 2].map((partition) => ({ topic: 'dirs', partition })));
    const expected = (await b.engine.describeTopic('dirs')).partitions.map((p) => BigInt(p.sizeBytes));
    assert.deepEqual(
      got?.map((d) => [d.broker, d.logDir, d.topic, d.partition, d.sizeBytes, d.isFuture]).sort((x, y) => Number(x[3]) - Number(y[3])),
      [0, 1, 2].map((i) => [0, resolve(b.dir), 'dirs', i, expected[i]!, false]),
    );
  } finally {
    client.close();
  }
});
