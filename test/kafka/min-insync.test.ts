/**
 * min.insync.replicas on one node (one in-sync replica): above 1, acks=all produce is refused with
 * NOT_ENOUGH_REPLICAS and nothing is written, as Kafka answers; acks=1 and acks=0 are unaffected. Through
 * `sluice start` with the broker key and a topic override, and a kafkajs producer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startSluice } from '../brokers.js';

test('kafkajs acks=-1 gets NOT_ENOUGH_REPLICAS when min.insync.replicas (broker default or topic) is above 1', { timeout: 60_000 }, async () => {
  const b = await startSluice({ config: { 'min.insync.replicas': '2' } });
  try {
    const kafka = new Kafka({ clientId: 'isr-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'strict' }, { topic: 'relaxed', configEntries: [{ name: 'min.insync.replicas', value: '1' }] }] });
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'strict' }, { type: 4, name: '0' }] });
      for (const r of configs.resources) {
        assert.equal(r.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue, '2', `${r.resourceName}`);
      }
      const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      try {
        await assert.rejects(producer.send({ topic: 'strict', acks: -1, messages: [{ value: 'all' }] }), (e: Error & { type?: string; cause?: { type?: string } }) => {
          // kafkajs wraps a retriable protocol error once its retries are spent.
          assert.equal(e.type ?? e.cause?.type, 'NOT_ENOUGH_REPLICAS', e.message);
          return true;
        });
        await producer.send({ topic: 'strict', acks: 1, messages: [{ value: 'one' }] });
        await producer.send({ topic: 'relaxed', acks: -1, messages: [{ value: 'all' }] });
      } finally {
        await producer.disconnect();
      }
      const offsets = await admin.fetchTopicOffsets('strict');
      assert.equal(offsets[0]!.high, '1');
      assert.equal((await admin.fetchTopicOffsets('relaxed'))[0]!.high, '1');
    } finally {
      await admin.disconnect();
    }
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- broker log (tail) ---\n${b.log().slice(-4000)}`;
    throw e;
  } finally {
    await b.cleanup();
  }
});
