import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches } from '../../src/record/batch.js';
import { SluiceError } from '../../src/errors.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { StorageCorruptionError } from '../../src/storage/recovery.js';
import { PartitionReader } from '../../src/storage/partition-reader.js';
import { PartitionSharedState } from '../../src/storage/shared-state.js';
import { readBatchHeader } from '../../src/record/batch-header.js';
import type { IoMode } from '../../src/storage/segment.js';
import { config, makeBatch, recordingSink, rmDir, segmentFiles, snapshotDir, tempDir } from './helpers.js';

const CFG = config({ segmentBytes: 1500, indexIntervalBytes: 200, retentionMs: -1 });

/** A log with several segments, left open (not closed); returns it with the bytes of every batch appended. */
function buildOpenLog(dir: string, batches = 40, ioMode: IoMode = 'pwrite'): { log: PartitionLog; written: Buffer[] } {
  const log = PartitionLog.open({ dir, config: CFG, ioMode });
  const written: Buffer[] = [];
  for (let i = 0; i < batches; i++) {
    const b = makeBatch(1 + (i % 3), { tag: `b${i}`, valueSize: 30 });
    log.append(b, { assignOffsets: true });
    written.push(Buffer.from(b)); // patched in place with its offset by append
  }
  return { log, written };
}

/** All bytes of the log, read through its reader. */
function allBytes(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  for (let o = log.logStartOffset; o < log.highWatermark; ) {
    const r = log.read(o, { maxBytes: 1 << 20 });
    parts.push(Buffer.from(r.records));
    o = r.nextOffset;
  }
  return Buffer.concat(parts);
}

function activeLogFile(dir: string): string {
  return path.join(dir, segmentFiles(dir).at(-1) as string);
}

for (const ioMode of ['pwrite', 'mmap'] as IoMode[]) {
  test(`crash without close (${ioMode}): the preallocated zero tail is not corruption; everything survives`, async () => {
    const dir = tempDir();
    const copy = dir + '-copy';
    try {
      const { log, written } = buildOpenLog(dir, 40, ioMode);
      // rolled segments are synced in the background; the recovery point moves once they are durable
      while (log.pendingRolledSyncs > 0) await new Promise((r) => setTimeout(r, 5));
      snapshotDir(dir, copy); // what kill -9 leaves: page cache contents, no marker, preallocated files
      assert.equal(fs.statSync(activeLogFile(copy)).size, CFG.segmentBytes, 'active segment is preallocated');
      const sink = recordingSink();
      const re = PartitionLog.open({ dir: copy, config: CFG, sink, ioMode });
      const rep = re.recoveryReport;
      assert.equal(rep.clean, false);
      assert.equal(rep.truncatedBytes, 0);
      assert.deepEqual(rep.corruptions, []);
      assert.equal(rep.truncatedOffsets, null);
      assert.equal(rep.scannedSegments, 1, 'only the last segment (after the recovery point) is scanned');
      assert.equal(re.logEndOffset, log.logEndOffset);
      assert.ok(allBytes(re).equals(Buffer.concat(written)), 'byte for byte');
      assert.equal(sink.lines.filter((l) => l.level !== 'info').length, 0);
      re.append(makeBatch(1), { assignOffsets: true });
      re.close();
      log.close();
    } finally {
      rmDir(dir);
      rmDir(copy);
    }
  });
}

test('torn tail: a half-written last batch is cut and reported; the prefix is intact', () => {
  const dir = tempDir();
  const copy = dir + '-copy';
  try {
    const { log, written } = buildOpenLog(dir);
    const activeSize = log.activeSegment.size;
    const lastLen = (written.at(-1) as Buffer).length;
    const lastBase = decodeBatches(written.at(-1) as Buffer)[0]?.baseOffset as bigint;
    snapshotDir(dir, copy);
    fs.truncateSync(activeLogFile(copy), activeSize - Math.floor(lastLen / 2));
    const sink = recordingSink();
    const re = PartitionLog.open({ dir: copy, config: CFG, sink });
    const rep = re.recoveryReport;
    assert.equal(rep.truncatedBytes, lastLen - Math.floor(lastLen / 2));
    assert.equal(re.logEndOffset, lastBase);
    assert.equal(rep.truncatedOffsets?.from, lastBase);
    assert.equal(rep.truncatedOffsets?.to, log.logEndOffset);
    assert.equal(rep.corruptions.length, 1);
    assert.equal(rep.corruptions[0]?.inTail, true);
    assert.match(rep.actions.join('\n'), /cut \d+ bytes/);
    assert.ok(sink.lines.some((l) => l.level === 'warn' && /truncated/.test(l.msg)));
    assert.ok(allBytes(re).equals(Buffer.concat(written.slice(0, -1))));
    re.close();
    log.close();
  } finally {
    rmDir(dir);
    rmDir(copy);
  }
});

test('flipped bytes in the tail of the active segment and in its indexes', () => {
  const dir = tempDir();
  const copy = dir + '-copy';
  try {
    const { log, written } = buildOpenLog(dir);
    const active = log.activeSegment;
    const n = decodeBatches(log.read(active.baseOffset, { maxBytes: 1 << 20 }).records).length;
    assert.ok(n >= 3);
    // the second-to-last batch of the active segment gets a flipped byte in its records
    const victimLen = (written.at(-2) as Buffer).length;
    const victimPos = active.size - (written.at(-1) as Buffer).length - victimLen;
    const victimBase = decodeBatches(written.at(-2) as Buffer)[0]?.baseOffset as bigint;
    snapshotDir(dir, copy);
    const fd = fs.openSync(activeLogFile(copy), 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, victimPos + victimLen - 3);
    fs.closeSync(fd);
    // and garbage in the .index and .timeindex (unsorted entries)
    const base = path.basename(activeLogFile(copy), '.log');
    fs.writeFileSync(path.join(copy, base + '.index'), Buffer.from([0, 0, 0, 9, 0, 0, 0, 50, 0, 0, 0, 1, 0, 0, 0, 10]));
    fs.writeFileSync(path.join(copy, base + '.timeindex'), Buffer.alloc(24, 0x7f));
    const re = PartitionLog.open({ dir: copy, config: CFG });
    const rep = re.recoveryReport;
    assert.equal(re.logEndOffset, victimBase);
    assert.equal(rep.corruptions[0]?.position, victimPos);
    assert.match(rep.corruptions[0]?.reason ?? '', /CRC/);
    assert.ok(rep.truncatedBytes >= victimLen);
    assert.deepEqual(rep.rebuiltIndexes.sort(), [base + '.index', base + '.timeindex']);
    assert.ok(allBytes(re).equals(Buffer.concat(written.slice(0, -2))));
    // lookups through the rebuilt index work at every offset
    for (let o = 0n; o < re.logEndOffset; o++) {
      const b = decodeBatches(re.read(o, { maxBytes: 1 }).records)[0];
      assert.ok(b && b.baseOffset <= o && o <= b.lastOffset);
    }
    re.close();
    log.close();
  } finally {
    rmDir(dir);
    rmDir(copy);
  }
});

test('corruption in an earlier segment: refused with file and position, or truncated there on request', () => {
  const dir = tempDir();
  const copy = dir + '-copy';
  try {
    const { log } = buildOpenLog(dir, 60);
    assert.ok(log.segments.length >= 4);
    const victim = log.segments[1]!;
    const name = path.basename(victim.logFile);
    // the last batch of segment 1 (after its last index entry: caught even by the cheap check)
    let pos = 0;
    let lastPos = 0;
    log.scanBatches(victim.baseOffset, (h, p, segBase) => {
      if (segBase !== victim.baseOffset) return false;
      lastPos = p;
      pos = p + h.batchLength + 12;
    });
    assert.equal(pos, victim.size);
    const lastBase = log.segments[1]!.batchAt(lastPos).baseOffset;
    snapshotDir(dir, copy);
    const fd = fs.openSync(path.join(copy, name), 'r+');
    fs.writeSync(fd, Buffer.from([0x00, 0x00]), 0, 2, lastPos + 30);
    fs.closeSync(fd);
    const keep = copy + '-2';
    snapshotDir(copy, keep);
    const sink = recordingSink();
    assert.throws(
      () => PartitionLog.open({ dir: copy, config: CFG, sink }),
      (e: unknown) => e instanceof StorageCorruptionError && e.code === 'STORAGE' && e.file === name && e.position === lastPos && e.report.corruptions.length === 1,
    );
    const err = sink.lines.find((l) => l.level === 'error');
    assert.ok(err);
    assert.deepEqual([(err.obj as { file: string }).file, (err.obj as { position: number }).position], [name, lastPos]);
    // nothing was changed by the refusal
    assert.deepEqual(segmentFiles(copy), segmentFiles(dir));
    const re = PartitionLog.open({ dir: keep, config: CFG, onCorruption: 'truncate', sink: recordingSink() });
    assert.equal(re.logEndOffset, lastBase);
    assert.equal(re.segments.length, 2);
    assert.deepEqual(re.recoveryReport.corruptions.map((c) => [c.file, c.position, c.inTail]), [[name, lastPos, false]]);
    assert.ok(re.recoveryReport.truncatedBytes > 0);
    re.close();
    rmDir(keep);
    // a flip in the middle of a synced segment is found by a full recovery (fsck) pass
    const mid = copy + '-3';
    snapshotDir(dir, mid);
    const fd2 = fs.openSync(path.join(mid, path.basename(log.segments[0]!.logFile)), 'r+');
    fs.writeSync(fd2, Buffer.from([0xee]), 0, 1, 70);
    fs.closeSync(fd2);
    assert.throws(() => PartitionLog.open({ dir: mid, config: CFG, fullRecovery: true }), (e: unknown) => e instanceof SluiceError && e.code === 'STORAGE' && /at byte 0/.test(e.message));
    rmDir(mid);
    log.close();
  } finally {
    rmDir(dir);
    rmDir(copy);
  }
});

test('clean open rebuilds a missing or out-of-bounds index; leftovers are cleaned', () => {
  const dir = tempDir();
  try {
    const { log, written } = buildOpenLog(dir);
    const first = path.basename(log.segments[0]!.logFile, '.log');
    const last = path.basename(log.activeSegment.logFile, '.log');
    log.close();
    fs.unlinkSync(path.join(dir, first + '.index'));
    fs.unlinkSync(path.join(dir, first + '.timeindex'));
    const idx = path.join(dir, last + '.index');
    fs.appendFileSync(idx, Buffer.from([0, 0, 0x7f, 0, 0, 0, 0x7f, 0])); // last entry beyond the log
    fs.writeFileSync(path.join(dir, first + '.log.cleaned'), 'junk');
    fs.writeFileSync(path.join(dir, '00000000000000000003.log.deleted'), 'junk');
    const re = PartitionLog.open({ dir, config: CFG });
    const rep = re.recoveryReport;
    assert.equal(rep.clean, true);
    // only what differed is reported (the last segment's time index was fine)
    assert.deepEqual(rep.rebuiltIndexes.sort(), [first + '.index', first + '.timeindex', last + '.index'].sort());
    assert.ok(!fs.existsSync(path.join(dir, first + '.log.cleaned')));
    assert.ok(!fs.existsSync(path.join(dir, '00000000000000000003.log.deleted')));
    assert.ok(allBytes(re).equals(Buffer.concat(written)));
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('an empty directory and a directory with only a .log file', () => {
  const dir = tempDir();
  try {
    const empty = PartitionLog.open({ dir: path.join(dir, 'p0'), config: CFG });
    assert.deepEqual([empty.logStartOffset, empty.logEndOffset, empty.highWatermark], [0n, 0n, 0n]);
    assert.equal(empty.read(0n, { maxBytes: 100 }).records.length, 0);
    empty.close();
    // a lone .log (no indexes, no marker)
    const b = Buffer.concat([makeBatch(2, { baseOffset: 100n }), makeBatch(3, { baseOffset: 102n })]);
    const p1 = path.join(dir, 'p1');
    fs.mkdirSync(p1);
    fs.writeFileSync(path.join(p1, '00000000000000000100.log'), b);
    const lone = PartitionLog.open({ dir: p1, config: CFG });
    assert.deepEqual([lone.logStartOffset, lone.logEndOffset], [100n, 105n]);
    assert.ok(lone.read(100n, { maxBytes: 1 << 20 }).records.equals(b));
    lone.close();
  } finally {
    rmDir(dir);
  }
});

// ---- opening with the clean-shutdown marker: the marker does not vouch for the files' contents

/** A log of several segments, closed cleanly; the batches appended, in order. */
function buildClosedLog(dir: string, batches = 40): Buffer[] {
  const { log, written } = buildOpenLog(dir, batches);
  assert.ok(log.segments.length >= 3);
  log.close();
  assert.ok(fs.existsSync(path.join(dir, 'clean-shutdown')));
  return written;
}

/** Offsets of a batch as appended. */
function span(b: Buffer): { base: bigint; last: bigint } {
  const d = decodeBatches(b)[0]!;
  return { base: d.baseOffset, last: d.lastOffset };
}

/** Every offset below the log end is readable, and an append is acknowledged at the log end and readable. */
function assertFetchable(log: PartitionLog): void {
  for (let o = log.logStartOffset; o < log.logEndOffset; o++) {
    const b = decodeBatches(log.read(o, { maxBytes: 1 }).records)[0];
    assert.ok(b && b.baseOffset <= o && o <= b.lastOffset, `offset ${o} is readable`);
  }
  const end = log.logEndOffset;
  const info = log.append(makeBatch(2, { tag: 'after' }), { assignOffsets: true });
  assert.equal(info.firstOffset, end);
  const got = decodeBatches(log.read(end, { maxBytes: 1 << 20 }).records);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.baseOffset, end);
  assert.equal(got[0]?.records[0]?.value?.toString(), 'after-0');
  assert.equal(log.highWatermark, end + 2n);
}

/** Position of the last entry of a segment's offset index. */
function lastIndexPosition(indexFile: string): number {
  const b = fs.readFileSync(indexFile);
  assert.ok(b.length >= 8, 'the index has entries');
  return b.readInt32BE(b.length - 4);
}

test('clean marker, active segment cut inside the batch its last index entry points to: the log ends at the last whole batch, the cut is reported', () => {
  const dir = tempDir();
  try {
    const written = buildClosedLog(dir);
    const file = activeLogFile(dir);
    const name = path.basename(file);
    const pos = lastIndexPosition(file.replace(/\.log$/, '.index'));
    // the batch at `pos` and everything after it are gone after the cut
    let at = 0;
    const kept: Buffer[] = [];
    const segBase = BigInt(name.slice(0, 20));
    for (const b of written) {
      if (span(b).base < segBase) continue;
      if (at >= pos) break;
      kept.push(b);
      at += b.length;
    }
    const cutBase = span(written[written.indexOf(kept.at(-1)!) + 1]!).base;
    fs.truncateSync(file, pos + 20);
    const sink = recordingSink();
    const re = PartitionLog.open({ dir, config: CFG, sink });
    const rep = re.recoveryReport;
    assert.equal(re.logEndOffset, cutBase, 'the end of the last whole batch, not the segment base');
    assert.equal(rep.clean, true);
    assert.deepEqual(rep.corruptions.map((c) => [c.file, c.position, c.inTail]), [[name, pos, true]]);
    assert.equal(rep.truncatedBytes, 20);
    assert.deepEqual(rep.truncatedOffsets, { from: cutBase, to: span(written.at(-1)!).last + 1n }, 'the marker knows where the log ended');
    const warn = sink.lines.find((l) => l.level === 'warn');
    assert.ok(warn && /truncated/.test(warn.msg));
    assert.deepEqual(warn.obj, {
      dir,
      file: name,
      position: pos,
      bytes: 20,
      reason: (warn.obj as { reason: string }).reason,
      offsets: { from: String(cutBase), to: String(span(written.at(-1)!).last + 1n) },
    });
    assert.equal(fs.statSync(file).size, 1500, 'cut, then preallocated again');
    assertFetchable(re);
    re.close();
    // the cut is durable: the next clean open finds nothing to report
    const again = PartitionLog.open({ dir, config: CFG });
    assert.deepEqual(again.recoveryReport.corruptions, []);
    assert.equal(again.recoveryReport.scannedSegments, 0);
    again.close();
  } finally {
    rmDir(dir);
  }
});

test('clean marker, garbage after the last batch is cut and reported; zero bytes after it are only trimmed', () => {
  const dir = tempDir();
  try {
    const written = buildClosedLog(dir);
    const file = activeLogFile(dir);
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, Buffer.alloc(300, 0xab));
    const re = PartitionLog.open({ dir, config: CFG, sink: recordingSink() });
    assert.equal(re.logEndOffset, span(written.at(-1)!).last + 1n);
    assert.deepEqual(re.recoveryReport.corruptions.map((c) => [c.file, c.position]), [[path.basename(file), size]]);
    assert.equal(re.recoveryReport.truncatedBytes, 300);
    assert.ok(allBytes(re).equals(Buffer.concat(written)));
    re.close();

    fs.appendFileSync(file, Buffer.alloc(4096));
    const z = PartitionLog.open({ dir, config: CFG, sink: recordingSink() });
    assert.deepEqual(z.recoveryReport.corruptions, []);
    assert.equal(z.recoveryReport.truncatedBytes, 0);
    assert.equal(z.logEndOffset, re.logEndOffset);
    assertFetchable(z);
    z.close();
  } finally {
    rmDir(dir);
  }
});

test('clean marker, active segment cut exactly at a batch boundary: the missing offsets are reported', () => {
  const dir = tempDir();
  try {
    const written = buildClosedLog(dir);
    const file = activeLogFile(dir);
    const last = written.at(-1)!;
    fs.truncateSync(file, fs.statSync(file).size - last.length);
    const sink = recordingSink();
    const re = PartitionLog.open({ dir, config: CFG, sink });
    assert.equal(re.logEndOffset, span(last).base);
    assert.deepEqual(re.recoveryReport.truncatedOffsets, { from: span(last).base, to: span(last).last + 1n });
    assert.equal(re.recoveryReport.corruptions[0]?.file, path.basename(file));
    assert.ok(sink.lines.some((l) => l.level === 'warn' && /missing/.test(l.msg)));
    assertFetchable(re);
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('clean marker, damaged indexes of the active segment are rebuilt: past the end, naming the wrong batch, missing, short', () => {
  const damages: Array<[string, (base: string) => void]> = [
    ['entry past the file end', (b) => fs.appendFileSync(b + '.index', Buffer.from([0, 0, 0x7f, 0, 0, 0, 0x7f, 0]))],
    ['last entry names another batch', (b) => {
      const idx = fs.readFileSync(b + '.index');
      idx.writeInt32BE(idx.readInt32BE(idx.length - 8) + 1, idx.length - 8);
      fs.writeFileSync(b + '.index', idx);
    }],
    ['missing .index', (b) => fs.unlinkSync(b + '.index')],
    ['short .index', (b) => fs.truncateSync(b + '.index', 0)],
    ['missing .timeindex', (b) => fs.unlinkSync(b + '.timeindex')],
  ];
  for (const [what, damage] of damages) {
    const dir = tempDir();
    try {
      const written = buildClosedLog(dir);
      const base = activeLogFile(dir).replace(/\.log$/, '');
      const before = fs.readFileSync(base + '.index');
      damage(base);
      const re = PartitionLog.open({ dir, config: CFG });
      assert.ok(re.recoveryReport.rebuiltIndexes.length > 0, `${what}: rebuilt`);
      assert.deepEqual(re.recoveryReport.corruptions, [], what);
      assert.equal(re.logEndOffset, span(written.at(-1)!).last + 1n, what);
      assert.ok(allBytes(re).equals(Buffer.concat(written)), what);
      re.close();
      assert.ok(fs.readFileSync(base + '.index').equals(before), `${what}: the same entries as appends made`);
      const again = PartitionLog.open({ dir, config: CFG });
      assertFetchable(again);
      again.close();
    } finally {
      rmDir(dir);
    }
  }
});

test('clean marker, a sealed segment whose size disagrees with its index: refused with file and byte, or cut there on request; an intact clean open scans nothing', () => {
  for (const change of ['shorter', 'longer'] as const) {
    const dir = tempDir();
    try {
      buildClosedLog(dir);
      const intact = PartitionLog.open({ dir, config: CFG });
      assert.equal(intact.recoveryReport.scannedSegments, 0, 'sealed segments are not scanned');
      assert.equal(intact.recoveryReport.scannedBytes, 0);
      intact.close();
      const victim = path.join(dir, segmentFiles(dir)[1]!);
      const name = path.basename(victim);
      const size = fs.statSync(victim).size;
      let lastBatch = 0;
      const bytes = fs.readFileSync(victim);
      for (let p = 0; p < size; p += bytes.readInt32BE(p + 8) + 12) lastBatch = p;
      if (change === 'shorter') fs.truncateSync(victim, size - 10);
      else fs.appendFileSync(victim, Buffer.alloc(100, 0x5a));
      const keep = dir + '-keep';
      snapshotDir(dir, keep);
      const sink = recordingSink();
      assert.throws(
        () => PartitionLog.open({ dir, config: CFG, sink }),
        (e: unknown) => e instanceof StorageCorruptionError && e.file === name && e.position === (change === 'shorter' ? lastBatch : size) && /truncate/.test(e.message),
      );
      assert.ok(sink.lines.some((l) => l.level === 'error' && (l.obj as { file: string }).file === name));
      const re = PartitionLog.open({ dir: keep, config: CFG, onCorruption: 'truncate', sink: recordingSink() });
      assert.equal(re.segments.length, 2, 'later segments are deleted');
      assert.equal(re.recoveryReport.corruptions[0]?.file, name);
      assertFetchable(re);
      re.close();
      rmDir(keep);
    } finally {
      rmDir(dir);
    }
  }
});

test('clean open after index.interval.bytes was lowered: sealed segments are not rescanned', () => {
  const dir = tempDir();
  try {
    const written = buildClosedLog(dir, 60);
    const re = PartitionLog.open({ dir, config: { ...CFG, indexIntervalBytes: 20 } });
    assert.ok(re.segments.length >= 4);
    assert.ok(re.recoveryReport.scannedSegments <= 1, `scanned ${re.recoveryReport.scannedSegments} segments`);
    assert.deepEqual(re.recoveryReport.corruptions, []);
    assert.ok(allBytes(re).equals(Buffer.concat(written)));
    re.close();
  } finally {
    rmDir(dir);
  }
});

test('an in-place reopen rebuilds indexes as new files: a reader mapped on the old ones keeps reading every offset', () => {
  const dir = tempDir();
  try {
    const state = PartitionSharedState.standalone();
    const log = PartitionLog.open({ dir, config: config({ indexIntervalBytes: 100 }), state });
    for (let i = 0; i < 40; i++) log.append(makeBatch(1, { valueSize: 200 }), { assignOffsets: true });
    const reader = new PartitionReader(dir, state);
    const index = path.join(dir, '00000000000000000000.index');
    for (let o = 0n; o < 40n; o += 7n) assert.equal(readBatchHeader(reader.read(o, { maxBytes: 300 }).records, 0).baseOffset, o);
    const before = fs.statSync(index).ino;
    // what the owner does to bring back a log that failed on a full disk: no marker, the active segment rescanned
    log.discard({ reopen: true });
    const again = PartitionLog.open({ dir, config: config({ indexIntervalBytes: 100 }), state });
    assert.notEqual(fs.statSync(index).ino, before, 'the rebuilt index is a new file (truncating the mapped one could fault a reader)');
    for (let o = 0n; o < 40n; o++) assert.equal(readBatchHeader(reader.read(o, { maxBytes: 300 }).records, 0).baseOffset, o);
    again.close();
  } finally {
    rmDir(dir);
  }
});
