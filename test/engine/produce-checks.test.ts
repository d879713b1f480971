/** The embedded API's produce checks: hostile batches and min.insync.replicas through `Sluice.append`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidRecordError, SluiceError } from '../../src/errors.js';
import { Sluice, kafkaErrorCodeOf } from '../../src/index.js';
import { decodeBatches, encodeBatch } from '../../src/record/batch.js';
import { goodBatch, hostileBatches } from '../record/hostile.js';
import { tempDir } from './helpers.js';

function values(buf: Buffer): string[] {
  return decodeBatches(buf).flatMap((b) => b.records.map((r) => r.value?.toString() ?? ''));
}

test('Sluice.append refuses CRC-valid batches with bad insides (InvalidRecordError), stores nothing, keeps serving', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    try {
      await s.createTopic('v', { partitions: 1 });
      assert.equal((await s.append('v', 0, goodBatch())).baseOffset, 0n);
      for (const h of hostileBatches()) {
        for (const acks of [0, 1, 'all'] as const) {
          await assert.rejects(s.append('v', 0, h.batch, { acks }), (e: unknown) => {
            assert.ok(e instanceof InvalidRecordError, `${h.name}: ${String(e)}`);
            assert.equal(e.code, 'INVALID_RECORD');
            assert.equal(kafkaErrorCodeOf(e), 87);
            return true;
          });
        }
        // A bad batch after a good one in the same append refuses the whole append.
        await assert.rejects(s.append('v', 0, [goodBatch('mixed'), h.batch]), InvalidRecordError);
        assert.equal(s.offsets('v', 0).logEndOffset, 3n, h.name);
      }
      await assert.rejects(s.append('v', 0, encodeBatch([{ value: 'x' }], { transactional: true, producerId: 1n, producerEpoch: 0, baseSequence: 0 })), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_TXN_STATE');
      assert.equal((await s.append('v', 0, goodBatch('after'))).baseOffset, 3n);
      assert.deepEqual(values(s.read('v', 0, 0n, { maxBytes: 1 << 20 }).records), ['good-0', 'good-1', 'good-2', 'after-0', 'after-1', 'after-2']);
    } finally {
      await s.close();
    }
  } finally {
    cleanup();
  }
});

test('min.insync.replicas above 1 refuses acks=all appends with NOT_ENOUGH_REPLICAS; acks 0/1 unaffected; broker default applies', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1, topicDefaults: { 'min.insync.replicas': '2' } });
    try {
      const d = await s.createTopic('isr', { partitions: 1 });
      assert.equal(d.configs['min.insync.replicas'], '2');
      const rejectsIsr = (p: Promise<unknown>) =>
        assert.rejects(p, (e: unknown) => {
          assert.ok(e instanceof SluiceError, String(e));
          assert.equal(e.code, 'NOT_ENOUGH_REPLICAS');
          assert.equal(kafkaErrorCodeOf(e), 19);
          assert.match(e.message, /min\.isr requirement of 2 for partition isr-0/);
          return true;
        });
      await rejectsIsr(s.append('isr', 0, goodBatch()));
      await rejectsIsr(s.append('isr', 0, goodBatch(), { acks: -1 }));
      // Checked before the records: even a corrupt batch gets NOT_ENOUGH_REPLICAS, as in Kafka.
      await rejectsIsr(s.append('isr', 0, hostileBatches()[0]!.batch, { acks: 'all' }));
      assert.equal(s.offsets('isr', 0).logEndOffset, 0n);
      assert.equal((await s.append('isr', 0, goodBatch('one'), { acks: 1 })).baseOffset, 0n);
      await s.append('isr', 0, goodBatch('zero'), { acks: 0 });
      await s.alterTopicConfig('isr', { 'min.insync.replicas': '1' });
      assert.equal((await s.append('isr', 0, goodBatch('all'), { acks: 'all' })).baseOffset, 6n);
      await s.alterTopicConfig('isr', { 'min.insync.replicas': '3' });
      await assert.rejects(s.append('isr', 0, goodBatch()), (e: unknown) => e instanceof SluiceError && e.code === 'NOT_ENOUGH_REPLICAS');
      await assert.rejects(s.createTopic('bad', { configs: { 'min.insync.replicas': '0' } }), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_CONFIG');
    } finally {
      await s.close();
    }
  } finally {
    cleanup();
  }
});
