/** The node's identity reaches every answer: broker.id is the engine's node id and the leader of each partition. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startNode } from '../../src/node/node.js';
import { SluiceEngine } from '../../src/engine/engine.js';
import { isSluiceError } from '../../src/errors.js';

test('a node with broker.id 3 answers Metadata with broker 3 leading every partition', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-node-'));
  const node = await startNode({ engine: { dataDir: dir, owners: 1 }, brokerId: 3, kafka: { host: '127.0.0.1', port: 0 } });
  try {
    assert.equal(node.engine.nodeId, 3);
    await node.engine.createTopic('t', { partitions: 2 });
    assert.deepEqual((await node.engine.describeTopic('t')).partitions.map((p) => p.leader), [3, 3]);
    const kafka = new Kafka({ brokers: [`127.0.0.1:${node.kafka!.address.port}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.deepEqual(cluster.brokers.map((b) => b.nodeId), [3]);
      const md = await admin.fetchTopicMetadata({ topics: ['t'] });
      for (const p of md.topics[0]!.partitions) {
        assert.equal(p.leader, 3);
        assert.deepEqual(p.replicas, [3]);
        assert.deepEqual(p.isr, [3]);
      }
    } finally {
      await admin.disconnect();
    }
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a node refuses a broker.id that differs from the node id of the engine it is given', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-node-'));
  const engine = await SluiceEngine.open({ dataDir: dir, owners: 1 });
  try {
    await assert.rejects(
      startNode({ engine, brokerId: 2 }),
      (e: unknown) => isSluiceError(e) && e.code === 'INVALID_ARGUMENT' && /brokerId 2 differs from the given engine's nodeId 0/.test(e.message),
    );
    const node = await startNode({ engine });
    assert.equal(node.brokerId, 0);
    await node.close();
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
