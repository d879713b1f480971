/**
 * A write that fails on a full disk (a real tmpfs) leaves the log and its producer state as they were: a retry of
 * the batch that failed is not taken for a duplicate (it would be acknowledged with offsets that hold nothing).
 * Needs root (mount); skipped otherwise. The mount is always removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../src/errors.js';
import { readBatchHeader } from '../../src/record/batch-header.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { config, makeBatch } from './helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : false;

test('a batch whose write failed on a full disk is not recorded: its retry is no duplicate, the log end stays', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-log-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  try {
    const log = PartitionLog.open({ dir: join(dir, 'p-0'), config: config({ segmentBytes: 64 * 1024 * 1024 }) });
    const producer = { producerId: 7n, producerEpoch: 0 };
    let seq = 0;
    let failed: Buffer | null = null;
    for (let i = 0; i < 200 && failed === null; i++) {
      const batch = makeBatch(10, { ...producer, baseSequence: seq, valueSize: 10_000 });
      const copy = Buffer.from(batch);
      try {
        log.append(batch, { assignOffsets: true });
        seq += 10;
      } catch (e) {
        assert.ok(e instanceof SluiceError && e.code === 'STORAGE', String(e));
        failed = copy;
      }
    }
    assert.ok(failed, 'the 2 MiB file system filled up');
    assert.equal(log.logEndOffset, BigInt(seq), 'the log end is past the last batch written, not the failed one');
    const h = readBatchHeader(failed, 0);
    assert.equal(h.baseSequence, seq);
    assert.notEqual(log.producerState.check(h).kind, 'duplicate', 'the failed batch is unknown to the producer state');
    assert.throws(() => log.append(failed!, { assignOffsets: true }), (e: unknown) => e instanceof SluiceError && e.code === 'STORAGE');
    log.discard();
  } finally {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
