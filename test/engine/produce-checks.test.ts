/** The embedded API's produce checks through `Sluice.append`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidRecordError, SluiceError } from '../../src/errors.js';
import { Sluice } from '../../src/index.js';
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
            assert.equal(e.kafkaErrorCode, 87);
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
