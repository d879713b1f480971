import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches, encodeBatch } from '../../src/record/batch.js';
import { CompressionType } from '../../src/record/batch-header.js';
import type { DecodedBatch } from '../../src/record/types.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { config, manualClock, rmDir, segmentFiles, snapshotDir, tempDir } from './helpers.js';

function batchesOf(log: PartitionLog): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  for (let o = log.logStartOffset; o < log.highWatermark; ) {
    const r = log.read(o, { maxBytes: 1 << 20 });
    out.push(...decodeBatches(r.records));
    o = r.nextOffset;
  }
  return out;
}

/** key -> [offset, value] of every record, in log order. */
function recordsOf(log: PartitionLog): Array<[string | null, bigint, string | null]> {
  return batchesOf(log).flatMap((b) => b.records.map((r) => [r.key?.toString() ?? null, r.offset, r.value?.toString() ?? null] as [string | null, bigint, string | null]));
}

const CFG = config({
  cleanupPolicy: { delete: false, compact: true },
  segmentBytes: 900,
  minCleanableDirtyRatio: 0.01,
  deleteRetentionMs: 10_000,
  fileDeleteDelayMs: 0,
});

test('compaction keeps the latest value of every key, offsets and codecs; tombstones go after delete.retention.ms', () => {
  const dir = tempDir();
  try {
    const clock = manualClock(50_000_000);
    const log = PartitionLog.open({ dir, config: CFG, clock });
    const latest = new Map<string, [bigint, string | null]>();
    const put = (recs: Array<{ key: string | null; value: string | null }>, compression = CompressionType.None): void => {
      const info = log.append(encodeBatch(recs, { compression, now: clock.now }), { assignOffsets: true });
      recs.forEach((r, i) => {
        if (r.key !== null) latest.set(r.key, [info.firstOffset + BigInt(i), r.value]);
      });
    };
    for (let round = 0; round < 6; round++) {
      put(Array.from({ length: 5 }, (_, k) => ({ key: `k${k}`, value: `r${round}-${'x'.repeat(20)}` })));
      put(Array.from({ length: 5 }, (_, k) => ({ key: `g${k}`, value: `gz${round}-${'y'.repeat(20)}` })), CompressionType.Gzip);
    }
    put([{ key: null, value: 'no key' }]);
    put([{ key: 'k3', value: null }]); // tombstone
    put([{ key: 'solo', value: 'only once' }]);
    log.roll();
    const before = recordsOf(log);
    const stats = log.clean();
    assert.ok(stats && stats.recordsRemoved > 0 && !stats.aborted, JSON.stringify(stats, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    const after = recordsOf(log);
    // every keyed record left is the latest for its key, at its original offset
    for (const [k, off, v] of after) {
      if (k === null) continue;
      assert.deepEqual([off, v], latest.get(k), `key ${k}`);
    }
    assert.deepEqual(new Set(after.filter((r) => r[0] !== null).map((r) => r[0])), new Set(latest.keys()));
    assert.ok(after.some(([k, , v]) => k === null && v === 'no key'), 'keyless record kept');
    assert.ok(after.some(([k, , v]) => k === 'k3' && v === null), 'tombstone kept within delete.retention.ms');
    const origOffsets = new Map(before.map(([k, o, v]) => [o, `${k}=${v}`]));
    for (const [k, o, v] of after) assert.equal(origOffsets.get(o), `${k}=${v}`, 'offsets preserved');
    // the gzip batches that survived are still gzip
    const gz = batchesOf(log).filter((b) => b.records.some((r) => r.key?.toString().startsWith('g')));
    assert.ok(gz.length > 0 && gz.every((b) => b.compression === CompressionType.Gzip));
    assert.ok(log.cleanerCheckpoint === log.activeSegment.baseOffset);
    assert.equal(log.clean(), null, 'nothing dirty: no clean');
    // after delete.retention.ms the tombstone goes on the next clean
    clock.advance(10_001);
    put([{ key: 'k1', value: 'late' }]);
    log.roll();
    const s2 = log.clean();
    assert.ok(s2 && s2.tombstonesRemoved === 1);
    const final = recordsOf(log);
    assert.ok(!final.some(([k]) => k === 'k3'));
    assert.deepEqual(final.filter(([k]) => k === 'k1').map(([, , v]) => v), ['late']);
    // reopen: clean, identical content, and retention/clean state survives
    log.close();
    const re = PartitionLog.open({ dir, config: CFG, clock });
    assert.deepEqual(recordsOf(re), final);
    assert.equal(re.cleanerCheckpoint, re.activeSegment.baseOffset);
    assert.equal(segmentFiles(dir, '.swap').length + segmentFiles(dir, '.cleaned').length + segmentFiles(dir, '.deleted').length, 0);
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('a batch whose tombstones all went loses its delete horizon: expired horizons trigger one clean, not one per check', () => {
  const dir = tempDir();
  try {
    const clock = manualClock(80_000_000);
    const log = PartitionLog.open({ dir, config: { ...CFG, minCleanableDirtyRatio: 0.9 }, clock });
    log.append(encodeBatch([{ key: 'a', value: 'old' }], { now: clock.now }), { assignOffsets: true });
    log.append(encodeBatch([{ key: 'a', value: null }, { key: 'b', value: 'stays' }], { now: clock.now }), { assignOffsets: true });
    log.roll();
    const first = log.clean();
    assert.ok(first && first.recordsRemoved === 1 && first.tombstonesRemoved === 0);
    assert.equal(log.clean(), null, 'nothing new, horizon not reached');
    clock.advance(10_001);
    const second = log.clean(); // no dirty data: the passed horizon alone picks the log
    assert.ok(second && second.tombstonesRemoved === 1, JSON.stringify(second, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    assert.deepEqual(recordsOf(log), [['b', 2n, 'stays']]);
    assert.ok(batchesOf(log).every((b) => b.records.every((r) => r.timestamp === BigInt(80_000_000))), 'record timestamps kept');
    assert.equal(log.clean(), null, 'no tombstone left: no further clean');
    clock.advance(10_001);
    assert.equal(log.clean(), null);
    log.close();
  } finally {
    rmDir(dir);
  }
});

test('compaction in steps interleaved with appends; min.compaction.lag.ms and the dirty ratio gate it', () => {
  const dir = tempDir();
  try {
    const clock = manualClock(70_000_000);
    const log = PartitionLog.open({ dir, config: { ...CFG, minCompactionLagMs: 60_000, minCleanableDirtyRatio: 0.5 }, clock });
    for (let i = 0; i < 200; i++) log.append(encodeBatch([{ key: `k${i % 10}`, value: `v${i}` }], { now: clock.now }), { assignOffsets: true });
    log.roll();
    assert.equal(log.clean(), null, 'too young for min.compaction.lag.ms');
    clock.advance(60_000);
    const gen = log.cleanSteps(clock.now, { maxBytesPerStep: 512 });
    let steps = 0;
    let r = gen.next();
    while (!r.done) {
      steps++;
      log.append(encodeBatch([{ key: 'live', value: `during-${steps}` }], { now: clock.now }), { assignOffsets: true });
      r = gen.next();
    }
    assert.ok(steps > 3, `yielded ${steps} times`);
    const stats = r.value;
    assert.ok(stats && !stats.aborted);
    const recs = recordsOf(log);
    const keyed = recs.filter(([k]) => k?.startsWith('k'));
    assert.equal(keyed.length, 10);
    assert.deepEqual(keyed.map(([, o]) => o), [190n, 191n, 192n, 193n, 194n, 195n, 196n, 197n, 198n, 199n]);
    assert.equal(recs.filter(([k]) => k === 'live').length, steps);
    // dirty ratio: a little new data over a large clean part is not enough
    for (let i = 0; i < 3; i++) log.append(encodeBatch([{ key: `k${i}`, value: 'x' }], { now: clock.now }), { assignOffsets: true });
    log.roll();
    clock.advance(60_000);
    assert.equal(log.clean(), null);
    log.close();
  } finally {
    rmDir(dir);
  }
});

test('a crash mid-swap: a leftover .swap is completed on open, a .cleaned is dropped', () => {
  const dir = tempDir();
  try {
    const log = PartitionLog.open({ dir, config: CFG });
    for (let i = 0; i < 30; i++) log.append(encodeBatch([{ key: `k${i}`, value: `v${i}` }]), { assignOffsets: true });
    assert.ok(log.segments.length >= 3);
    const [a, b] = log.segments as [typeof log.segments[0], typeof log.segments[0]];
    const expected = recordsOf(log);
    const merged = Buffer.concat([fs.readFileSync(a.logFile), fs.readFileSync(b.logFile)]);
    log.close();
    // as if the cleaner had merged segments A and B and crashed right after renaming .cleaned -> .swap
    fs.writeFileSync(a.logFile + '.swap', merged);
    fs.writeFileSync(path.join(dir, '00000000000000000000.index.cleaned'), 'partial');
    fs.unlinkSync(path.join(dir, 'clean-shutdown'));
    const copy = dir + '-c';
    snapshotDir(dir, copy);
    const re = PartitionLog.open({ dir, config: CFG });
    assert.ok(re.recoveryReport.actions.some((l) => /completed swap/.test(l)));
    assert.ok(!fs.existsSync(b.logFile), 'the segment the swap covers is deleted');
    assert.equal(fs.statSync(a.logFile).size, merged.length);
    assert.deepEqual(recordsOf(re), expected);
    assert.equal(segmentFiles(dir, '.swap').length + segmentFiles(dir, '.cleaned').length, 0);
    re.close();
    rmDir(copy);
  } finally {
    rmDir(dir);
  }
});
