import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches, encodeBatch } from '../../src/record/batch.js';
import { TimestampType, readBatchHeader } from '../../src/record/batch-header.js';
import { SluiceError } from '../../src/errors.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { PartitionReader } from '../../src/storage/partition-reader.js';
import { PartitionSharedState } from '../../src/storage/shared-state.js';
import { PREALLOCATE_FIRST, type IoMode } from '../../src/storage/segment.js';
import { config, makeBatch, manualClock, rmDir, segmentFiles, tempDir } from './helpers.js';

/** Reads the whole log through `log.read`, returning [offset, value] of every record. */
function readAll(log: PartitionLog, from = log.logStartOffset, maxBytes = 1 << 20): Array<[bigint, string]> {
  const out: Array<[bigint, string]> = [];
  let o = from;
  while (o < log.highWatermark) {
    const r = log.read(o, { maxBytes });
    assert.ok(r.nextOffset > o, `read at ${o} made progress`);
    for (const b of decodeBatches(r.records)) for (const rec of b.records) if (rec.offset >= o) out.push([rec.offset, rec.value?.toString() ?? 'null']);
    o = r.nextOffset;
  }
  return out;
}

for (const ioMode of ['mmap', 'pwrite'] as IoMode[]) {
  describe(`PartitionLog (${ioMode})`, () => {
    test('append/read round trip across many segments, reopen after a clean close without scanning', () => {
      const dir = tempDir();
      try {
        const cfg = config({ segmentBytes: 2048, indexIntervalBytes: 200 });
        let log = PartitionLog.open({ dir, config: cfg, ioMode });
        const expected: Array<[bigint, string]> = [];
        for (let i = 0; i < 120; i++) {
          const n = 1 + (i % 4);
          const info = log.append(makeBatch(n, { tag: `b${i}`, valueSize: 40 }), { assignOffsets: true });
          assert.equal(info.recordCount, n);
          assert.equal(info.lastOffset - info.firstOffset, BigInt(n - 1));
          for (let j = 0; j < n; j++) expected.push([info.firstOffset + BigInt(j), `b${i}-${j}`.padEnd(40, '.')]);
        }
        assert.ok(log.segments.length > 10, `rolled into ${log.segments.length} segments`);
        assert.equal(log.logEndOffset, BigInt(expected.length));
        assert.deepEqual(readAll(log), expected);
        for (const s of log.segments.slice(0, -1)) assert.ok(s.size <= 2048);
        // every arbitrary offset: the first returned batch contains it
        for (let o = 0n; o < log.logEndOffset; o += 7n) {
          const r = log.read(o, { maxBytes: 1 });
          const b = decodeBatches(r.records);
          assert.equal(b.length, 1);
          assert.ok((b[0]?.baseOffset ?? -1n) <= o && o <= (b[0]?.lastOffset ?? -1n));
        }
        const size = log.sizeInBytes;
        log.close();
        const names = segmentFiles(dir);
        log = PartitionLog.open({ dir, config: cfg, ioMode });
        assert.equal(log.recoveryReport.clean, true);
        assert.equal(log.recoveryReport.scannedBytes, 0);
        assert.equal(log.recoveryReport.scannedSegments, 0);
        assert.deepEqual(segmentFiles(dir), names);
        assert.equal(log.logEndOffset, BigInt(expected.length));
        assert.equal(log.sizeInBytes, size);
        assert.deepEqual(readAll(log), expected);
        // and keeps appending after reopen
        const info = log.append(makeBatch(2, { tag: 'after' }), { assignOffsets: true });
        assert.equal(info.firstOffset, BigInt(expected.length));
        log.close();
      } finally {
        rmDir(dir);
      }
    });

    const stepSkip = ioMode === 'mmap' ? 'the mmap mode maps segment.bytes at once' : false;
    test('the active segment is preallocated in bounded steps, not to segment.bytes; reads follow it as it grows', { skip: stepSkip }, () => {
      const dir = tempDir();
      try {
        const cfg = config({ segmentBytes: 1 << 30 });
        let log = PartitionLog.open({ dir, config: cfg, ioMode });
        const file = path.join(dir, segmentFiles(dir)[0] as string);
        log.append(makeBatch(1, { tag: 'first' }), { assignOffsets: true });
        assert.ok(fs.statSync(file).size <= PREALLOCATE_FIRST, `a fresh segment is ${fs.statSync(file).size} bytes long`);
        const reader = new PartitionReader(dir, log.state);
        // ~3 MiB in 64 KiB batches: the file grows step by step ahead of the data, and a reader keeps up
        let readUpTo = 0n;
        for (let i = 0; i < 48; i++) {
          log.append(makeBatch(1, { tag: `b${i}`, valueSize: 64 * 1024 }), { assignOffsets: true });
          const r = reader.read(readUpTo, { maxBytes: 1 << 20 });
          assert.ok(r.nextOffset > readUpTo);
          readUpTo = r.nextOffset;
          const st = fs.statSync(file);
          assert.ok(st.size >= log.sizeInBytes && st.size <= 2 * log.sizeInBytes + PREALLOCATE_FIRST, `file ${st.size} bytes for ${log.sizeInBytes} of data`);
        }
        assert.equal(readAll(log).length, 49);
        log.close();
        assert.equal(fs.statSync(file).size, log.sizeInBytes, 'trimmed at close');
        log = PartitionLog.open({ dir, config: cfg, ioMode });
        for (let i = 0; i < 20; i++) log.append(makeBatch(1, { tag: `c${i}`, valueSize: 64 * 1024 }), { assignOffsets: true });
        assert.deepEqual(readAll(log).slice(-1)[0]?.[0], 68n);
        log.close();
      } finally {
        rmDir(dir);
      }
    });

    test('read semantics: middle of a batch, maxBytes, high watermark bound, out of range', () => {
      const dir = tempDir();
      try {
        const log = PartitionLog.open({ dir, config: config(), ioMode, autoHighWatermark: false });
        for (let i = 0; i < 10; i++) log.append(makeBatch(10, { valueSize: 100 }), { assignOffsets: true });
        assert.equal(log.highWatermark, 0n);
        assert.equal(log.read(0n, { maxBytes: 1 << 20 }).records.length, 0, 'nothing below HW 0');
        log.setHighWatermark(55n);
        const r = log.read(0n, { maxBytes: 1 << 20 });
        const batches = decodeBatches(r.records);
        assert.deepEqual(batches.map((b) => b.baseOffset), [0n, 10n, 20n, 30n, 40n], 'only batches entirely below HW');
        assert.equal(r.nextOffset, 50n);
        assert.equal(r.highWatermark, 55n);
        assert.equal(log.read(50n, { maxBytes: 1 << 20 }).records.length, 0, 'batch straddling HW is not returned');
        // middle of a batch returns the whole batch
        const mid = log.read(23n, { maxBytes: 1 });
        assert.deepEqual(decodeBatches(mid.records).map((b) => b.baseOffset), [20n]);
        assert.equal(mid.nextOffset, 30n);
        // maxBytes: at least one batch, then whole batches that fit
        const one = log.read(0n, { maxBytes: 10 });
        assert.equal(decodeBatches(one.records).length, 1);
        const size1 = one.records.length;
        assert.equal(decodeBatches(log.read(0n, { maxBytes: size1 * 2 + 5 }).records).length, 2);
        // maxOffset overrides the HW (follower fetch up to LEO)
        assert.equal(log.read(50n, { maxBytes: 1 << 20, maxOffset: log.logEndOffset }).nextOffset, 100n);
        log.setHighWatermark(100n);
        assert.equal(log.read(100n, { maxBytes: 100 }).records.length, 0, 'offset == HW → empty');
        assert.throws(() => log.read(101n, { maxBytes: 100 }), (e: unknown) => e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE');
        log.deleteRecordsBefore(35n);
        assert.equal(log.logStartOffset, 35n);
        assert.throws(() => log.read(34n, { maxBytes: 100 }), (e: unknown) => e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE');
        assert.deepEqual(decodeBatches(log.read(35n, { maxBytes: 1 }).records).map((b) => b.baseOffset), [30n]);
        log.close();
        const again = PartitionLog.open({ dir, config: config(), ioMode });
        assert.equal(again.logStartOffset, 35n, 'log start offset survives a reopen');
        again.close();
      } finally {
        rmDir(dir);
      }
    });

    test('roll by size, time, index full and relative offset overflow', () => {
      const dir = tempDir();
      try {
        const clock = manualClock(1_000_000);
        const log = PartitionLog.open({ dir, config: config({ segmentBytes: 1000, segmentMs: 60_000, segmentIndexBytes: 24, indexIntervalBytes: 1 }), ioMode, clock });
        const b = () => makeBatch(1, { valueSize: 10, now: clock.now });
        const size = b().length;
        // index full: 3 entries of 8 bytes; the first batch of a segment never gets an entry
        for (let i = 0; i < 10; i++) log.append(b(), { assignOffsets: true });
        assert.ok(log.segments.length >= 2);
        assert.ok(log.segments[0]!.offsetIndex.entries <= 3);
        assert.ok(log.segments[0]!.size < 1000, 'rolled on index full, not size');
        log.updateConfig(config({ segmentBytes: size * 3, segmentMs: 60_000, indexIntervalBytes: 1 << 20 }));
        const before = log.segments.length;
        for (let i = 0; i < 7; i++) log.append(b(), { assignOffsets: true });
        assert.ok(log.segments.length >= before + 2, 'rolled by size');
        assert.ok(log.segments.slice(before).every((s) => s.size <= size * 3));
        // time: segment.ms measured from the first batch's timestamp
        log.updateConfig(config({ segmentMs: 60_000, indexIntervalBytes: 1 << 20 }));
        log.roll();
        const n = log.segments.length;
        log.append(b(), { assignOffsets: true });
        clock.advance(30_000);
        log.append(b(), { assignOffsets: true });
        assert.equal(log.segments.length, n);
        clock.advance(31_000);
        log.append(b(), { assignOffsets: true });
        assert.equal(log.segments.length, n + 1, 'rolled by time');
        // relative offset overflow (follower append with a big gap)
        const far = log.logEndOffset + 3_000_000_000n;
        log.append(makeBatch(1, { baseOffset: far }), { assignOffsets: false });
        assert.equal(log.activeSegment.baseOffset, far);
        assert.equal(log.logEndOffset, far + 1n);
        assert.deepEqual(decodeBatches(log.read(far, { maxBytes: 100 }).records).map((x) => x.baseOffset), [far]);
        log.close();
      } finally {
        rmDir(dir);
      }
    });
  });
}

test('append patches offsets/epoch/LogAppendTime, validates sizes first, follower offsets', () => {
  const dir = tempDir();
  try {
    const clock = manualClock(5_000_000);
    const log = PartitionLog.open({ dir, config: config({ maxMessageBytes: 2000, messageTimestampType: 'LogAppendTime' }), clock });
    const two = Buffer.concat([makeBatch(3), makeBatch(2)]);
    const info = log.append(two, { assignOffsets: true, leaderEpoch: 7 });
    assert.deepEqual([info.firstOffset, info.lastOffset, info.logAppendTime, info.recordCount], [0n, 4n, 5_000_000n, 5]);
    const bs = decodeBatches(log.read(0n, { maxBytes: 1 << 20 }).records); // decode checks the CRCs
    assert.deepEqual(bs.map((b) => [b.baseOffset, b.partitionLeaderEpoch, b.timestampType, b.maxTimestamp]), [
      [0n, 7, TimestampType.LogAppendTime, 5_000_000n],
      [3n, 7, TimestampType.LogAppendTime, 5_000_000n],
    ]);
    assert.deepEqual(log.leaderEpochEntries, [{ epoch: 7, startOffset: 0n }]);
    // too large: nothing written, even for the first (small) batch
    const big = Buffer.concat([makeBatch(1), makeBatch(1, { valueSize: 3000 })]);
    assert.throws(() => log.append(big, { assignOffsets: true }), (e: unknown) => e instanceof SluiceError && e.code === 'RECORD_TOO_LARGE');
    assert.equal(log.logEndOffset, 5n);
    // follower: offsets must not go backwards
    assert.throws(() => log.append(makeBatch(1, { baseOffset: 4n }), { assignOffsets: false }), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
    log.append(makeBatch(2, { baseOffset: 5n, partitionLeaderEpoch: 9 }), { assignOffsets: false });
    assert.equal(log.logEndOffset, 7n);
    assert.equal(log.latestEpoch, 9);
    log.close();
  } finally {
    rmDir(dir);
  }
});

test('offsetForTimestamp, scanBatches, a batch larger than segment.bytes', () => {
  const dir = tempDir();
  try {
    const log = PartitionLog.open({ dir, config: config({ segmentBytes: 600, indexIntervalBytes: 100 }) });
    for (let i = 0; i < 20; i++) {
      const recs = [0, 1, 2].map((j) => ({ key: `k${i}`, value: `v${i}-${j}`, timestamp: 10_000 + i * 100 + j * 10 }));
      log.append(encodeBatch(recs), { assignOffsets: true });
    }
    assert.ok(log.segments.length > 3);
    assert.deepEqual(log.offsetForTimestamp(0n), { offset: 0n, timestamp: 10_000n });
    assert.deepEqual(log.offsetForTimestamp(10_500n), { offset: 15n, timestamp: 10_500n });
    assert.deepEqual(log.offsetForTimestamp(10_511n), { offset: 17n, timestamp: 10_520n });
    assert.deepEqual(log.offsetForTimestamp(11_920n), { offset: 59n, timestamp: 11_920n });
    assert.equal(log.offsetForTimestamp(11_921n), null);
    const seen: bigint[] = [];
    log.scanBatches(31n, (h) => {
      seen.push(h.baseOffset);
    });
    assert.equal(seen[0], 30n);
    assert.equal(seen.length, 10);
    // one batch bigger than segment.bytes goes into its own (grown) segment
    const huge = makeBatch(1, { valueSize: 5000 });
    const info = log.append(huge, { assignOffsets: true });
    assert.equal(log.activeSegment.baseOffset, info.firstOffset);
    assert.equal(log.read(info.firstOffset, { maxBytes: 10 }).records.length, huge.length);
    log.append(makeBatch(1), { assignOffsets: true });
    assert.ok(log.activeSegment.baseOffset > info.firstOffset);
    log.close();
    const re = PartitionLog.open({ dir, config: config({ segmentBytes: 600 }) });
    assert.equal(re.logEndOffset, 62n);
    assert.deepEqual(re.offsetForTimestamp(11_920n), { offset: 59n, timestamp: 11_920n });
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('truncateTo and truncateFullyAndStartAt', () => {
  const dir = tempDir();
  try {
    const cfg = config({ segmentBytes: 1000, indexIntervalBytes: 100 });
    const log = PartitionLog.open({ dir, config: cfg });
    log.assignEpoch(1, 0n);
    for (let i = 0; i < 40; i++) {
      if (i === 20) log.assignEpoch(2, log.logEndOffset);
      log.append(makeBatch(2, { valueSize: 30 }), { assignOffsets: true });
    }
    const segs = log.segments.length;
    assert.ok(segs > 4);
    const state = log.state;
    const epochBefore = state.segmentsEpoch;
    log.truncateTo(33n); // in the middle of batch 32..33: that batch goes, the log ends at 32
    assert.equal(log.logEndOffset, 32n);
    assert.equal(log.highWatermark, 32n);
    assert.ok(log.segments.length < segs);
    assert.ok(state.segmentsEpoch > epochBefore && state.segmentsEpoch % 2 === 0);
    assert.deepEqual(log.leaderEpochEntries, [{ epoch: 1, startOffset: 0n }]);
    const kept = readAll(log);
    assert.equal(kept.length, 32);
    assert.equal(kept.at(-1)?.[0], 31n);
    const info = log.append(makeBatch(1, { tag: 'new' }), { assignOffsets: true });
    assert.equal(info.firstOffset, 32n);
    log.close();
    // nothing of the truncated data comes back, even after a crash-style reopen
    fs.unlinkSync(path.join(dir, 'clean-shutdown'));
    const re = PartitionLog.open({ dir, config: cfg });
    assert.equal(re.logEndOffset, 33n);
    assert.deepEqual(re.recoveryReport.corruptions, []);
    re.truncateFullyAndStartAt(1000n);
    assert.deepEqual([re.logStartOffset, re.logEndOffset, re.segments.length, re.sizeInBytes], [1000n, 1000n, 1, 0]);
    re.append(makeBatch(1), { assignOffsets: true });
    assert.equal(re.logEndOffset, 1001n);
    re.close();
    assert.deepEqual(segmentFiles(dir), ['00000000000000001000.log']);
  } finally {
    rmDir(dir);
  }
});

test('a reader with its own shared state view follows rolls, retention and truncation', () => {
  const dir = tempDir();
  try {
    const state = PartitionSharedState.standalone();
    const log = PartitionLog.open({ dir, config: config({ segmentBytes: 500, retentionBytes: 1500 }), state });
    const reader = new PartitionReader(dir, state);
    for (let i = 0; i < 30; i++) {
      log.append(makeBatch(1, { valueSize: 60 }), { assignOffsets: true });
      const r = reader.read(BigInt(i), { maxBytes: 1000 });
      assert.equal(readBatchHeader(r.records, 0).baseOffset, BigInt(i));
    }
    log.deleteOldSegments();
    assert.ok(log.logStartOffset > 0n);
    assert.throws(() => reader.read(0n, { maxBytes: 10 }), (e: unknown) => e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE');
    assert.equal(readBatchHeader(reader.read(log.logStartOffset, { maxBytes: 10 }).records, 0).baseOffset, log.logStartOffset);
    log.truncateTo(28n);
    assert.equal(reader.read(27n, { maxBytes: 1000 }).nextOffset, 28n);
    log.close();
  } finally {
    rmDir(dir);
  }
});

for (const ioMode of ['mmap', 'pwrite'] as IoMode[]) {
  test(`appendMany (${ioMode}): same files as one append per entry; a bad entry fails alone; stops after a roll`, () => {
    const a = tempDir();
    const b = tempDir();
    try {
      const cfg = config({ segmentBytes: 4096, indexIntervalBytes: 300, maxMessageBytes: 2000 });
      const clockA = manualClock(7_000_000);
      const clockB = manualClock(7_000_000);
      const one = PartitionLog.open({ dir: a, config: cfg, clock: clockA, ioMode });
      const many = PartitionLog.open({ dir: b, config: cfg, clock: clockB, ioMode });
      // entries of one or more batches; every 9th is too large (rejected alone)
      const entries: Buffer[] = [];
      for (let i = 0; i < 90; i++) {
        const batch = (n: number): Buffer => makeBatch(n, { tag: `e${i}`, valueSize: i % 9 === 4 ? 2500 : 30 + (i % 5) * 20, now: 1000 + i });
        entries.push(i % 3 === 0 ? Buffer.concat([batch(1), batch(2)]) : batch(1 + (i % 4)));
      }
      const expected: (bigint[] | string)[] = [];
      for (const e of entries) {
        try {
          const r = one.append(Buffer.from(e), { assignOffsets: true, leaderEpoch: 0 });
          expected.push([r.firstOffset, r.lastOffset, BigInt(r.recordCount), BigInt(r.size)]);
        } catch (err) {
          expected.push((err as SluiceError).code);
        }
      }
      const got: (bigint[] | string)[] = [];
      let rolls = 0;
      for (let i = 0; i < entries.length; ) {
        const group = entries.slice(i, i + 17).map((e) => Buffer.from(e));
        const out: (import('../../src/storage/types.js').AppendInfo | Error)[] = [];
        const segsBefore = many.segments.length;
        const n = many.appendMany(group, { assignOffsets: true, leaderEpoch: 0 }, out);
        assert.ok(n >= 1 && n <= group.length);
        if (many.segments.length !== segsBefore) {
          rolls++;
          assert.equal(many.segments.length, segsBefore + 1, 'one roll per call');
          assert.ok(out.slice(0, n - 1).every((r) => r instanceof Error), 'a call that rolled appended one entry');
        }
        const firstAppended = out.findIndex((r) => !(r instanceof Error));
        for (let k = firstAppended + 1; k < n; k++) {
          if (!(out[k] instanceof Error)) assert.equal(readBatchHeader(group[k]!, 0).batchLength + 12, group[k]!.length, 'a multi-batch entry comes first in its call');
        }
        for (const r of out.slice(0, n)) got.push(r instanceof Error ? (r as SluiceError).code : [r.firstOffset, r.lastOffset, BigInt(r.recordCount), BigInt(r.size)]);
        i += n;
      }
      assert.ok(rolls > 3, `rolled ${rolls} times`);
      assert.deepEqual(got, expected);
      assert.ok(expected.includes('RECORD_TOO_LARGE'));
      assert.equal(many.logEndOffset, one.logEndOffset);
      assert.deepEqual(readAll(many), readAll(one));
      one.close();
      many.close();
      const names = fs.readdirSync(a).filter((n) => /\.(log|index|timeindex)$/.test(n)).sort();
      assert.deepEqual(fs.readdirSync(b).filter((n) => /\.(log|index|timeindex)$/.test(n)).sort(), names);
      for (const n of names) assert.ok(fs.readFileSync(path.join(a, n)).equals(fs.readFileSync(path.join(b, n))), `${n} identical`);
    } finally {
      rmDir(a);
      rmDir(b);
    }
  });
}
