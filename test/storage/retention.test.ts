import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatches } from '../../src/record/batch.js';
import { SluiceError } from '../../src/errors.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { DelayedDeletes } from '../../src/storage/retention.js';
import { config, makeBatch, manualClock, rmDir, segmentFiles, tempDir } from './helpers.js';

test('retention.ms deletes segments by their largest timestamp, with a controllable clock', () => {
  const dir = tempDir();
  try {
    const start = 10_000_000;
    const clock = manualClock(start);
    const log = PartitionLog.open({ dir, config: config({ segmentBytes: 600, retentionMs: 60_000, fileDeleteDelayMs: 5_000 }), clock });
    const genEnd: bigint[] = [];
    for (let gen = 0; gen < 3; gen++) {
      for (let i = 0; i < 8; i++) log.append(makeBatch(2, { now: clock.now, valueSize: 40 }), { assignOffsets: true });
      genEnd.push(log.logEndOffset);
      log.roll();
      clock.advance(30_000);
    }
    // now = start + 90 s: generation 0 (90 s old) goes; generation 1 (exactly 60 s) stays
    let res = log.deleteOldSegments();
    assert.ok(res.deletedSegments > 0);
    assert.equal(res.logStartOffset, genEnd[0]);
    assert.equal(log.logStartOffset, genEnd[0]);
    assert.ok(segmentFiles(dir, '.deleted').length > 0, 'renamed .deleted, removed after file.delete.delay.ms');
    assert.throws(() => log.read(0n, { maxBytes: 100 }), (e: unknown) => e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE');
    assert.equal(decodeBatches(log.read(genEnd[0] as bigint, { maxBytes: 1 }).records)[0]?.baseOffset, genEnd[0]);
    clock.advance(1);
    res = log.deleteOldSegments();
    assert.equal(res.logStartOffset, genEnd[1]);
    clock.advance(5_000);
    log.deleteOldSegments();
    assert.equal(segmentFiles(dir, '.deleted').length, 0);
    // everything is old now; the (empty) active segment is never deleted
    clock.advance(60_000);
    res = log.deleteOldSegments();
    assert.equal(res.logStartOffset, log.logEndOffset);
    assert.equal(log.segments.length, 1);
    assert.equal(log.sizeInBytes, 0);
    // a non-empty active segment that is entirely expired is rolled and deleted, as Kafka does
    log.append(makeBatch(1, { now: clock.now }), { assignOffsets: true });
    clock.advance(61_000);
    res = log.deleteOldSegments();
    assert.equal(res.deletedSegments, 1);
    assert.equal(log.logStartOffset, log.logEndOffset);
    log.close();
    const re = PartitionLog.open({ dir, config: config({ retentionMs: -1 }) });
    assert.equal(re.logStartOffset, re.logEndOffset);
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('retention.bytes keeps at least retention.bytes, and only deletes below the high watermark', () => {
  const dir = tempDir();
  try {
    const log = PartitionLog.open({ dir, config: config({ segmentBytes: 500, retentionBytes: 1600, fileDeleteDelayMs: 0 }), autoHighWatermark: false });
    for (let i = 0; i < 60; i++) log.append(makeBatch(1, { valueSize: 50 }), { assignOffsets: true });
    const before = log.sizeInBytes;
    assert.equal(log.deleteOldSegments().deletedSegments, 0, 'nothing is below HW 0');
    log.setHighWatermark(log.logEndOffset);
    const res = log.deleteOldSegments();
    assert.ok(res.deletedSegments > 0);
    assert.ok(log.sizeInBytes >= 1600, `kept ${log.sizeInBytes}`);
    assert.ok(log.sizeInBytes - log.segments[0]!.size < 1600);
    assert.equal(before - res.deletedBytes, log.sizeInBytes);
    assert.equal(segmentFiles(dir, '.deleted').length, 0, 'file.delete.delay.ms=0 deletes at once');
    assert.equal(segmentFiles(dir, '.log').length, log.segments.length);
    // DeleteRecords advances the log start inside a segment and deletes whole segments below it
    const target = log.segments[1]!.baseOffset + 1n;
    assert.equal(log.deleteRecordsBefore(target), target);
    assert.equal(log.segments[0]!.baseOffset <= target, true);
    assert.throws(() => log.deleteRecordsBefore(log.logEndOffset + 1n), (e: unknown) => e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE');
    log.close();
  } finally {
    rmDir(dir);
  }
});

test('delayed deletes: files go at the first removeExpired at or after their time, or all at once', () => {
  const dir = tempDir();
  try {
    const file = (n: string): string => {
      const f = path.join(dir, n);
      fs.writeFileSync(f, n);
      return f;
    };
    const d = new DelayedDeletes();
    const [a, b, c] = [file('a.deleted'), file('b.deleted'), file('c.deleted')];
    d.schedule([a], 100);
    d.schedule([b, path.join(dir, 'already-gone')], 200);
    d.schedule([c], 300);
    d.removeExpired(99);
    assert.deepEqual([a, b, c].map((f) => fs.existsSync(f)), [true, true, true]);
    d.removeExpired(200);
    assert.deepEqual([a, b, c].map((f) => fs.existsSync(f)), [false, false, true]);
    d.removeAll();
    assert.equal(fs.existsSync(c), false);
  } finally {
    rmDir(dir);
  }
});
