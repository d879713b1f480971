/**
 * Produce-time record validation through the wire: CRC-valid batches with bad insides, sent as raw Produce
 * frames to `sluice start`, are refused with Kafka's error codes (and record_errors / error_message on v8+),
 * nothing is stored, and kafkajs and kcat consumers of the partition still read what came before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaErrors } from '../../src/kafka-protocol/error-codes.js';
import { encodeBatch } from '../../src/record/batch.js';
import { MAGIC_OFFSET } from '../../src/record/batch-header.js';
import { commandVersion, run } from '../clients/helpers.js';
import { startSluice, type SluiceProcess } from '../brokers.js';
import { fixCrc } from '../record/helpers.js';
import { goodBatch, hostileBatches } from '../record/hostile.js';
import { decodeResponse, RawClient, requestFrame } from './raw.js';

const hasKcat = commandVersion('kcat') !== null;

type PartitionResponse = ReturnType<typeof decodeResponse<'Produce'>>['body']['responses'][number]['partitionResponses'][number];

let correlation = 0;
async function produce(c: RawClient, topic: string, records: Buffer, version = 9): Promise<PartitionResponse> {
  const id = ++correlation;
  const before = c.frames.length;
  c.write(requestFrame('Produce', version, id, { acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }));
  assert.ok(await c.waitFrames(before + 1, 10_000), 'no Produce response');
  const res = decodeResponse('Produce', version, c.frames[before]!);
  assert.equal(res.correlationId, id);
  return res.body.responses[0]!.partitionResponses[0]!;
}

async function logEnd(kafka: Kafka, topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic))[0]!.high;
  } finally {
    await admin.disconnect();
  }
}

/** Every value a kafkajs consumer reads from the start of the partition until it has `n`. */
async function consumeWithKafkajs(kafka: Kafka, topic: string, n: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `g-${topic}-${Date.now()}`, retry: { retries: 0 } });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    const crashed: Error[] = [];
    consumer.on(consumer.events.CRASH, (e) => crashed.push(e.payload.error));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs read ${got.length} of ${n}: ${got.join(',')} ${crashed.map((e) => e.message).join('; ')}`)), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value?.toString() ?? '<null>');
          if (got.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    assert.deepEqual(crashed, []);
    return got;
  } finally {
    await consumer.disconnect();
  }
}

async function withBroker(fn: (b: SluiceProcess) => Promise<void>): Promise<void> {
  const b = await startSluice();
  try {
    await fn(b);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- broker log (tail) ---\n${b.log().slice(-4000)}`;
    throw e;
  } finally {
    await b.cleanup();
  }
}

test('hostile CRC-valid batches are refused with INVALID_RECORD, nothing is stored, kafkajs and kcat still read the good batch', { timeout: 90_000 }, async () => {
  await withBroker(async (b) => {
    const kafka = new Kafka({ clientId: 'validation-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const topic = 'hostile';
    const c = await RawClient.open(b.port);
    try {
      const ok = await produce(c, topic, goodBatch());
      assert.equal(ok.errorCode, 0);
      assert.equal(ok.baseOffset, 0n);
      assert.equal(await logEnd(kafka, topic), '3');

      for (const h of hostileBatches()) {
        for (const version of [9, 7]) {
          const r = await produce(c, topic, h.batch, version);
          assert.equal(r.errorCode, KafkaErrors.INVALID_RECORD, `${h.name} (Produce v${version}): error ${r.errorCode}`);
          assert.equal(r.baseOffset, -1n);
          if (version >= 8) assert.ok(r.errorMessage !== null && r.errorMessage.length > 0, `${h.name}: no error_message`);
          else assert.equal(r.errorMessage, null);
        }
        assert.equal(await logEnd(kafka, topic), '3', `log end moved after ${h.name}`);
      }

      // Per-record errors name the record at fault (record 0: its bytes are all 0xFF).
      const ff = hostileBatches()[1]!.batch;
      const r = await produce(c, topic, ff);
      assert.deepEqual(r.recordErrors.map((e) => e.batchIndex), [0]);
      assert.match(r.recordErrors[0]!.batchIndexErrorMessage ?? '', /record 0: /);

      // Siblings: control and transactional batches from a client, magic 1, and an empty records field.
      const control = await produce(c, topic, encodeBatch([{ value: 'c' }], { control: true }));
      assert.equal(control.errorCode, KafkaErrors.INVALID_RECORD);
      assert.match(control.errorMessage ?? '', /Clients are not allowed to write control records/);
      const txn = await produce(c, topic, encodeBatch([{ value: 't' }], { transactional: true, producerId: 1n, producerEpoch: 0, baseSequence: 0 }));
      assert.equal(txn.errorCode, KafkaErrors.INVALID_TXN_STATE);
      const magic1 = Buffer.from(goodBatch());
      magic1[MAGIC_OFFSET] = 1;
      const old = await produce(c, topic, fixCrc(magic1));
      assert.equal(old.errorCode, KafkaErrors.INVALID_RECORD);
      assert.match(old.errorMessage ?? '', /magic version 2/);
      const empty = await produce(c, topic, Buffer.alloc(0));
      assert.equal(empty.errorCode, KafkaErrors.INVALID_RECORD);
      assert.equal(await logEnd(kafka, topic), '3');

      // The connection and the partition keep serving.
      const after = await produce(c, topic, goodBatch('after'));
      assert.equal(after.errorCode, 0);
      assert.equal(after.baseOffset, 3n);
    } finally {
      c.destroy();
    }

    assert.deepEqual(await consumeWithKafkajs(kafka, topic, 6), ['good-0', 'good-1', 'good-2', 'after-0', 'after-1', 'after-2']);
    if (hasKcat) {
      const out = await run('kcat', ['-b', b.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o:%s\\n'], { timeoutMs: 30_000 });
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(out.stdout.trim().split('\n'), ['0:good-0', '1:good-1', '2:good-2', '3:after-0', '4:after-1', '5:after-2']);
    }
  });
});

test('timestamp bounds and compacted topics: INVALID_TIMESTAMP / INVALID_RECORD with record_errors, through kafkajs', { timeout: 60_000 }, async () => {
  await withBroker(async (b) => {
    const kafka = new Kafka({ clientId: 'validation-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'bounded', configEntries: [{ name: 'message.timestamp.before.max.ms', value: '3600000' }, { name: 'message.timestamp.after.max.ms', value: '3600000' }] },
        { topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({ topic: 'bounded', messages: [{ value: 'now' }] });
      await assert.rejects(producer.send({ topic: 'bounded', messages: [{ value: 'old', timestamp: String(Date.now() - 2 * 3600_000) }] }), (e: Error & { type?: string }) => {
        assert.equal(e.type, 'INVALID_TIMESTAMP', e.message);
        return true;
      });
      await producer.send({ topic: 'compacted', messages: [{ key: 'k', value: 'v' }] });
      await assert.rejects(producer.send({ topic: 'compacted', messages: [{ key: null, value: 'no key' }] }), (e: Error & { type?: string }) => {
        assert.equal(e.type, 'INVALID_RECORD', e.message);
        return true;
      });
    } finally {
      await producer.disconnect();
    }
    // record_errors on the wire name the record.
    const c = await RawClient.open(b.port);
    try {
      const r = await produce(c, 'compacted', encodeBatch([{ key: 'a', value: '1' }, { key: null, value: '2' }]));
      assert.equal(r.errorCode, KafkaErrors.INVALID_RECORD);
      assert.deepEqual(r.recordErrors.map((e) => e.batchIndex), [1]);
      assert.match(r.recordErrors[0]!.batchIndexErrorMessage ?? '', /Compacted topic cannot accept message without key/);
    } finally {
      c.destroy();
    }
    assert.equal(await logEnd(kafka, 'bounded'), '1');
    assert.equal(await logEnd(kafka, 'compacted'), '1');
  });
});
