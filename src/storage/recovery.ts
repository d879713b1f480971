/**
 * Opening a partition directory: leftover-file rules, log validation after an unclean shutdown, index rebuilds.
 *
 * Rules (see PartitionLog.open):
 *  - `.cleaned` files are deleted, `.deleted` and `.tmp` files are deleted, `.swap` files are completed (the
 *    segments they replace are deleted and the swap renamed into place) — Kafka's rules.
 *  - With the clean-shutdown marker: every segment gets the cheap check below, and nothing more unless it
 *    fails. For sealed segments it reads only the last index entries and the bytes after the last one; for the
 *    last segment it checks its whole (small) indexes too. The marker says where the log ended; offsets below
 *    that which are gone (a cut at a batch boundary) are reported.
 *  - Without it: every segment from the recovery point on is validated batch by batch (structure, CRC, offsets
 *    strictly increasing, relative offsets in range) and its indexes rebuilt. Segments below the recovery point
 *    (synced and trimmed at roll) get the cheap check.
 *  - The cheap check: sane indexes, the last index entry naming the batch at its position, and valid batches
 *    (CRC included) from there exactly to the file's end. A failure escalates to a full scan of the segment.
 *  - An invalid batch in the last segment cuts the log there (a torn tail after a crash; zero bytes of the
 *    preallocated tail simply end the log). An invalid batch in an earlier segment is reported with file and
 *    position through sink.error; `onCorruption: 'refuse'` (default) then fails the open with
 *    StorageCorruptionError, `'truncate'` keeps the data before it and deletes everything after.
 *  - Every segment scanned is synced before the caller moves the recovery point past it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorruptRecordError, SluiceError } from '../errors.js';
import { BATCH_HEADER_SIZE, validateBatch } from '../record/batch-header.js';
import { mapFile } from '../../native-bindings/mmap.js';
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
  fsyncDir,
  listSegmentBases,
  parseSegmentLogName,
  segmentFileName,
  syncFile,
  fdatasyncFd,
  unlinkIfExists,
} from './files.js';
import { IndexFile, OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY, checkOffsetIndex, checkTimeIndex } from './offset-index.js';
import { LogSegment, MAX_RELATIVE_OFFSET } from './segment.js';
import type { CorruptionInfo, LogSink, RecoveryReport } from './types.js';

export type CorruptionPolicy = 'refuse' | 'truncate';

/** Open failed because a segment before the last one holds invalid data. */
export class StorageCorruptionError extends SluiceError {
  readonly file: string;
  readonly position: number;
  readonly report: RecoveryReport;
  constructor(file: string, position: number, reason: string, report: RecoveryReport, dir?: string) {
    super(
      'STORAGE',
      `corrupt log segment ${dir ? path.join(dir, file) : file} at byte ${position}: ${reason}; refusing to open the partition ` +
        `(the data after it would be lost). The 'truncate' corruption policy keeps the data before it and deletes the rest: ` +
        `onCorruption: 'truncate', or \`sluice start --on-corruption truncate\`; \`sluice verify\` lists every problem`,
    );
    this.name = 'StorageCorruptionError';
    this.file = file;
    this.position = position;
    this.report = report;
  }
}

export function emptyReport(clean: boolean): RecoveryReport {
  return {
    clean,
    truncatedBytes: 0,
    logEndOffset: 0n,
    actions: [],
    truncatedOffsets: null,
    corruptions: [],
    rebuiltIndexes: [],
    scannedSegments: 0,
    scannedBytes: 0,
  };
}

/** Builds index contents with exactly the cadence LogSegment.indexBatch uses for live appends. */
export class IndexBuilder {
  private readonly base: bigint;
  private readonly interval: number;
  private readonly maxOffsetEntries: number;
  private readonly maxTimeEntries: number;
  private readonly offsets: number[] = [];
  private readonly times: Array<[bigint, number]> = [];
  private bytesSince = 0;
  private lastTimeTs = -1n;
  maxTimestamp = -1n;
  offsetOfMaxTimestamp = -1n;
  firstBatchTimestamp = -1n;

  constructor(base: bigint, indexIntervalBytes: number, segmentIndexBytes: number) {
    this.base = base;
    this.interval = indexIntervalBytes;
    this.maxOffsetEntries = Math.floor(segmentIndexBytes / OFFSET_INDEX_ENTRY);
    this.maxTimeEntries = Math.floor(segmentIndexBytes / TIME_INDEX_ENTRY);
  }

  add(position: number, size: number, lastOffset: bigint, maxTimestamp: bigint): void {
    if (position === 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    if (this.bytesSince > this.interval) {
      if (this.offsets.length / 2 < this.maxOffsetEntries) this.offsets.push(Number(lastOffset - this.base), position);
      this.maybeTime(false);
      this.bytesSince = 0;
    }
    this.bytesSince += size;
  }

  private maybeTime(final: boolean): void {
    if (this.maxTimestamp <= this.lastTimeTs || this.maxTimestamp < 0n) return;
    if (this.times.length >= this.maxTimeEntries - (final ? 0 : 1)) return;
    this.times.push([this.maxTimestamp, Number(this.offsetOfMaxTimestamp - this.base)]);
    this.lastTimeTs = this.maxTimestamp;
  }

  /** Index file contents; `sealed` adds the final time index entry a seal writes. */
  finish(sealed: boolean): { offsetIndex: Buffer; timeIndex: Buffer } {
    if (sealed) this.maybeTime(true);
    const off = Buffer.alloc(this.offsets.length * 4);
    for (let i = 0; i < this.offsets.length; i++) off.writeInt32BE(this.offsets[i] as number, i * 4);
    const time = Buffer.alloc(this.times.length * TIME_INDEX_ENTRY);
    this.times.forEach(([ts, rel], i) => {
      time.writeBigInt64BE(ts, i * TIME_INDEX_ENTRY);
      time.writeInt32BE(rel, i * TIME_INDEX_ENTRY + 8);
    });
    return { offsetIndex: off, timeIndex: time };
  }
}

export interface ScanResult {
  /** End of the last valid batch. */
  validEnd: number;
  /** Last offset + 1 of the last valid batch (the segment base if none). */
  nextOffset: bigint;
  /** Last offset of the last valid batch, or `prevLastOffset` if none. */
  lastOffset: bigint;
  builder: IndexBuilder;
  /** The first invalid data, if any (null also when the data simply ends in zero bytes). */
  problem: { position: number; reason: string; claimedLastOffset: bigint | null } | null;
  /** End of the non-zero bytes after validEnd (what a cut removes); validEnd when the tail is all zero. */
  garbageEnd: number;
}

function allZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

/** End of non-zero data from `from`, stopping after 64 KiB of zero pages (the preallocated tail is sparse). */
function nonZeroExtent(buf: Buffer, from: number, limit: number): number {
  const PAGE = 4096;
  let end = from;
  let zeroRun = 0;
  for (let p = from; p < limit && zeroRun < 16; p += PAGE) {
    const q = Math.min(limit, p + PAGE);
    if (allZero(buf, p, q)) zeroRun++;
    else {
      zeroRun = 0;
      let last = q - 1;
      while (last >= p && buf[last] === 0) last--;
      end = last + 1;
    }
  }
  return end;
}

/**
 * Validates the batches of `view[0, limit)` for a segment based at `base`, building its indexes on the way.
 * Stops at the first invalid batch or at zero bytes.
 */
export function scanSegment(view: Buffer, limit: number, base: bigint, prevLastOffset: bigint, indexIntervalBytes: number, segmentIndexBytes: number): ScanResult {
  const builder = new IndexBuilder(base, indexIntervalBytes, segmentIndexBytes);
  let pos = 0;
  let last = prevLastOffset;
  let next = base;
  let problem: ScanResult['problem'] = null;
  while (pos < limit) {
    // a valid batch never starts with 61 zero bytes (magic is 2): this is the unwritten (preallocated) tail
    if (allZero(view, pos, Math.min(limit, pos + BATCH_HEADER_SIZE))) break;
    let size: number;
    try {
      size = validateBatch(view, pos, limit);
    } catch (e) {
      const reason = e instanceof CorruptRecordError ? e.message.replace(/ \(at byte \d+\)$/, '') : String(e);
      let claimed: bigint | null = null;
      if (pos + 27 <= limit) {
        // base offset and lastOffsetDelta of a torn batch are usually still there: report what it claimed
        const b = view.readBigInt64BE(pos) + BigInt(view.readInt32BE(pos + 23));
        if (b > last && b - last < 0x7fffffffn) claimed = b;
      }
      problem = { position: pos, reason, claimedLastOffset: claimed };
      break;
    }
    const baseOffset = view.readBigInt64BE(pos);
    const lastOffset = baseOffset + BigInt(view.readInt32BE(pos + 23));
    if (baseOffset < base || baseOffset <= last) {
      problem = { position: pos, reason: `batch base offset ${baseOffset} does not follow offset ${last > base - 1n ? last : base - 1n}`, claimedLastOffset: null };
      break;
    }
    if (lastOffset - base > BigInt(MAX_RELATIVE_OFFSET)) {
      problem = { position: pos, reason: `batch last offset ${lastOffset} overflows the segment's relative offsets`, claimedLastOffset: null };
      break;
    }
    builder.add(pos, size, lastOffset, view.readBigInt64BE(pos + 35));
    last = lastOffset;
    next = lastOffset + 1n;
    pos += size;
  }
  const garbageEnd = pos < limit ? nonZeroExtent(view, pos, limit) : pos;
  return { validEnd: pos, nextOffset: next, lastOffset: last, builder, problem, garbageEnd };
}

/** Writes rebuilt index contents (durably) and reopens the segment's index files; reports if they changed. */
export function installIndexes(seg: LogSegment, built: { offsetIndex: Buffer; timeIndex: Buffer }, report: RecoveryReport, why: string | null): void {
  const files: Array<[string, Buffer]> = [
    [seg.offsetIndex.file, built.offsetIndex],
    [seg.timeIndex.file, built.timeIndex],
  ];
  seg.offsetIndex.release();
  seg.timeIndex.release();
  for (const [file, content] of files) {
    let old: Buffer | null = null;
    try {
      old = fs.readFileSync(file);
    } catch {
      old = null;
    }
    const same = old !== null && old.length >= content.length && old.subarray(0, content.length).equals(content) && allZero(old, content.length, old.length);
    if (!same) {
      const name = path.basename(file);
      report.rebuiltIndexes.push(name);
      report.actions.push(`rebuilt ${name}${old === null ? ' (missing)' : why ? ` (${why})` : ' (did not match the log)'}`);
    }
    // Exactly the entries (also drops a stale preallocated tail), into a new file renamed over the old one: a
    // reader's mapping of the old index (a partition reopened in place after a full disk) keeps its pages, where
    // truncating the file under it would make its next lookup a SIGBUS, and a write that fails leaves it whole.
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      if (content.length) fs.writeSync(fd, content);
      fdatasyncFd(fd, tmp);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }
  fsyncDir(path.dirname(seg.offsetIndex.file));
  seg.offsetIndex = IndexFile.openSealed(seg.offsetIndex.file, OFFSET_INDEX_ENTRY);
  seg.timeIndex = IndexFile.openSealed(seg.timeIndex.file, TIME_INDEX_ENTRY);
}

/** Bytes [from, from + length) of a file (fewer if it is shorter). */
function readRange(file: string, from: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  const fd = fs.openSync(file, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = fs.readSync(fd, buf, got, length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** Entries [from, entries) of an index file (whole entries only): read, not mapped, when only the last few. */
function indexEntries(idx: IndexFile, from: number): Buffer {
  const bytes = from === 0 ? idx.buffer() : readRange(idx.file, from * idx.entrySize, (idx.entries - from) * idx.entrySize);
  return bytes.subarray(0, bytes.length - (bytes.length % idx.entrySize));
}

/** A read-only mapping of a whole file (empty Buffer for an empty file). */
export function mapWholeFile(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    return mapFile(fd, fs.fstatSync(fd).size, 'r');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Applies Kafka's leftover-file rules in `dir`: deletes `.cleaned`, `.deleted` and `.tmp` files and completes
 * `.swap` files (deleting the segments a swap replaces).
 */
export function cleanupLeftovers(dir: string, sink: LogSink, report: RecoveryReport): void {
  const names = fs.readdirSync(dir);
  for (const name of names) {
    if (name.endsWith(CLEANED_SUFFIX) || name.endsWith(DELETED_SUFFIX) || name.endsWith('.tmp')) {
      unlinkIfExists(path.join(dir, name));
      report.actions.push(`removed leftover ${name}`);
    }
  }
  // complete swaps: the log swap first decides which old segments it replaces
  const swaps = names.filter((n) => n.endsWith(LOG_SUFFIX + SWAP_SUFFIX)).sort();
  for (const swapName of swaps) {
    const base = parseSegmentLogName(swapName.slice(0, -SWAP_SUFFIX.length));
    if (base === null) continue;
    const swapFile = path.join(dir, swapName);
    const view = mapWholeFile(swapFile);
    const scan = scanSegment(view, view.length, base, base - 1n, 4096, 10485760);
    const end = scan.nextOffset;
    for (const b of listSegmentBases(dir)) {
      if (b > base && b < end) {
        for (const suf of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) unlinkIfExists(path.join(dir, segmentFileName(b, suf)));
        report.actions.push(`deleted segment ${segmentFileName(b, LOG_SUFFIX)} replaced by ${swapName}`);
      }
    }
    fs.renameSync(swapFile, path.join(dir, segmentFileName(base, LOG_SUFFIX)));
    report.actions.push(`completed swap ${swapName}`);
    sink.warn({ dir, file: swapName }, 'completed an interrupted segment swap');
  }
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(INDEX_SUFFIX + SWAP_SUFFIX) || name.endsWith(TIME_INDEX_SUFFIX + SWAP_SUFFIX)) {
      fs.renameSync(path.join(dir, name), path.join(dir, name.slice(0, -SWAP_SUFFIX.length)));
      report.actions.push(`completed swap ${name}`);
    }
  }
  // index files whose log is gone are useless
  const logs = new Set(listSegmentBases(dir).map((b) => b.toString()));
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d{20})\.(index|timeindex)$/.exec(name);
    if (m && !logs.has(BigInt(m[1] as string).toString())) {
      unlinkIfExists(path.join(dir, name));
      report.actions.push(`removed orphan index ${name}`);
    }
  }
  fsyncDir(dir);
}

export interface RecoverOptions {
  dir: string;
  segments: LogSegment[];
  /**
   * The directory was shut down cleanly: every segment, the last one too, gets the cheap check (a failed
   * check escalates to a full scan of that segment). Otherwise segments from `recoveryPoint` on are scanned.
   */
  clean: boolean;
  /** Everything below this offset was synced and trimmed (segments based below it get the cheap check). */
  recoveryPoint: bigint;
  /** The log end offset the clean-shutdown marker recorded, if any: offsets below it that are gone are reported. */
  cleanEndOffset: bigint | null;
  indexIntervalBytes: number;
  segmentIndexBytes: number;
  onCorruption: CorruptionPolicy;
  sink: LogSink;
  report: RecoveryReport;
}

function indexFilesExist(seg: LogSegment): boolean {
  return fs.existsSync(seg.offsetIndex.file) && fs.existsSync(seg.timeIndex.file);
}

/** A cheap check passed: the segment's exact next offset, found by the tail scan. */
interface CheapCheckOk {
  problem: null;
  nextOffset: bigint;
}

/**
 * Cheap check of a segment: sane indexes and valid batches (CRC included) from the last index entry exactly
 * to the file's end, the entry naming the batch found there, and (`activeTail`) no index entry missing over
 * that tail. `wholeIndex` checks every index entry; otherwise only the last ones (a clean open of a sealed
 * segment reads no more than that and the tail).
 */
function cheapCheck(seg: LogSegment, segmentIndexBytes: number, indexIntervalBytes: number, wholeIndex: boolean, activeTail: boolean): CheapCheckOk | { problem: string } {
  if (!indexFilesExist(seg)) return { problem: 'index file missing' };
  const oi = seg.offsetIndex;
  const oiFrom = wholeIndex ? 0 : Math.max(0, oi.entries - 1);
  const oiBuf = indexEntries(oi, oiFrom);
  const bad = checkOffsetIndex(oiBuf, oiBuf.length / OFFSET_INDEX_ENTRY, seg.size);
  if (bad) return { problem: `${path.basename(oi.file)}: ${bad}` };
  const lastPos = oiBuf.length > 0 ? oiBuf.readInt32BE(oiBuf.length - OFFSET_INDEX_ENTRY + 4) : 0;
  // a read is cheaper than a mapping for the few KiB a tail usually is; a long one (no index entry) is mapped
  const tailBytes = seg.size - lastPos;
  const bytes = tailBytes <= 1 << 20 ? readRange(seg.logFile, lastPos, tailBytes) : mapWholeFile(seg.logFile).subarray(lastPos, seg.size);
  const tail = scanSegment(bytes, bytes.length, seg.baseOffset, seg.baseOffset - 1n, indexIntervalBytes, segmentIndexBytes);
  if (tail.problem || tail.validEnd !== seg.size - lastPos) {
    const at = lastPos + (tail.problem ? tail.problem.position : tail.validEnd);
    return { problem: `tail from byte ${lastPos} does not end at the file end (${tail.problem ? tail.problem.reason : 'zero bytes'} at byte ${at} of ${seg.size})` };
  }
  if (oiBuf.length > 0) {
    const rel = oiBuf.readInt32BE(oiBuf.length - OFFSET_INDEX_ENTRY);
    const first = seg.batchAt(0, bytes);
    if (first.lastOffset !== seg.baseOffset + BigInt(rel)) {
      return { problem: `${path.basename(oi.file)}: last entry names offset ${seg.baseOffset + BigInt(rel)} but the batch at byte ${lastPos} ends at ${first.lastOffset}` };
    }
  }
  // appends index every index.interval.bytes: an entry the tail should have is missing (a short index file).
  // Only for the segment appends continue in: a sealed one reads correctly without it, and one indexed before
  // index.interval.bytes was lowered would fail this on every open.
  if (activeTail && tail.builder.finish(false).offsetIndex.length > 0) return { problem: `${path.basename(oi.file)}: entries missing after byte ${lastPos}` };
  const ti = seg.timeIndex;
  const tiFrom = wholeIndex ? 0 : Math.max(0, ti.entries - 1);
  const tiBuf = indexEntries(ti, tiFrom);
  const badTime = checkTimeIndex(tiBuf, tiBuf.length / TIME_INDEX_ENTRY, Number(tail.lastOffset - seg.baseOffset));
  if (badTime) return { problem: `${path.basename(ti.file)}: ${badTime}` };
  return { problem: null, nextOffset: tail.nextOffset };
}

/**
 * Validates segments at open (see the module comment). Mutates `segments` (may drop trailing ones) and the
 * report. Each kept segment ends up with exact `size` and `nextOffset` and sane indexes, and every segment
 * that was scanned is synced (validated is not durable: a recovery point may only move past synced bytes).
 */
export function recoverSegments(o: RecoverOptions): LogSegment[] {
  const { segments, report, sink } = o;
  let prevLast = -1n;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as LogSegment;
    const isLast = i === segments.length - 1;
    const name = path.basename(seg.logFile);
    const full = !o.clean && (isLast || seg.baseOffset >= o.recoveryPoint);
    let why: string | null = null;
    if (!full) {
      const check = cheapCheck(seg, o.segmentIndexBytes, o.indexIntervalBytes, !o.clean || isLast, isLast);
      if (check.problem === null) {
        seg.nextOffset = check.nextOffset;
        prevLast = seg.nextOffset - 1n;
        continue;
      }
      why = check.problem;
      report.actions.push(`${name}: ${why}; validating the whole segment`);
    }
    report.scannedSegments++;
    const view = mapWholeFile(seg.logFile);
    const fileSize = view.length;
    const scan = scanSegment(view, fileSize, seg.baseOffset, prevLast, o.indexIntervalBytes, o.segmentIndexBytes);
    report.scannedBytes += scan.validEnd;
    const cutBytes = scan.garbageEnd - scan.validEnd;
    if (scan.problem || cutBytes > 0) {
      const position = scan.problem ? scan.problem.position : scan.validEnd;
      const reason = scan.problem ? scan.problem.reason : 'non-zero bytes after the last valid batch';
      const info: CorruptionInfo = { file: name, position, reason, inTail: isLast };
      report.corruptions.push(info);
      if (!isLast) {
        sink.error({ dir: o.dir, file: name, position, reason }, 'corrupt data in a log segment before the last one');
        if (o.onCorruption === 'refuse') {
          report.actions.push(`${name}: invalid batch at byte ${position} (${reason}); open refused`);
          throw new StorageCorruptionError(name, position, reason, report, o.dir);
        }
      }
      const laterBytes = segments.slice(i + 1).reduce((n, s) => n + s.size, 0);
      const lastLater = segments.length > i + 1 ? (segments[segments.length - 1] as LogSegment).nextOffset : null;
      const claimedEnd = scan.problem?.claimedLastOffset != null ? scan.problem.claimedLastOffset + 1n : scan.nextOffset;
      let to = lastLater !== null && lastLater > claimedEnd ? lastLater : claimedEnd;
      if (o.cleanEndOffset !== null && o.cleanEndOffset > to) to = o.cleanEndOffset;
      report.truncatedBytes += cutBytes + laterBytes;
      if (to > scan.nextOffset) report.truncatedOffsets = { from: scan.nextOffset, to };
      const dropped = to > scan.nextOffset ? `; offsets ${scan.nextOffset}..${to - 1n} dropped` : '';
      const line = `${name}: cut ${cutBytes} bytes at byte ${scan.validEnd} (${reason})` +
        (segments.length > i + 1 ? `; deleted ${segments.length - i - 1} later segment(s), ${laterBytes} bytes` : '') + dropped;
      report.actions.push(line);
      const fields = { dir: o.dir, file: name, position: scan.validEnd, bytes: cutBytes, reason, ...(report.truncatedOffsets ? { offsets: { from: String(report.truncatedOffsets.from), to: String(report.truncatedOffsets.to) } } : {}) };
      (isLast ? sink.warn : sink.error).call(sink, fields, 'truncated the log after invalid data');
      for (const later of segments.splice(i + 1)) {
        later.release();
        for (const f of [later.logFile, later.offsetIndex.file, later.timeIndex.file]) unlinkIfExists(f);
      }
    }
    // Shrinking here is safe: nothing was published for this directory yet beyond the valid end.
    if (fileSize !== scan.validEnd) {
      fs.truncateSync(seg.logFile, scan.validEnd);
      if (cutBytes === 0 && !isLast) report.actions.push(`${name}: trimmed the zero tail from ${fileSize} to ${scan.validEnd} bytes`);
    }
    seg.size = scan.validEnd;
    seg.nextOffset = scan.nextOffset;
    // a clean shutdown sealed every segment, the last one too (final time-index entry included)
    installIndexes(seg, scan.builder.finish(!isLast || o.clean), report, why);
    seg.resetTimeBookkeeping(scan.builder.maxTimestamp, scan.builder.offsetOfMaxTimestamp);
    seg.firstBatchTimestamp = scan.builder.firstBatchTimestamp;
    syncFile(seg.logFile);
    prevLast = scan.lastOffset;
    if (isLast || segments.length === i + 1) break;
  }
  const last = segments[segments.length - 1] as LogSegment;
  if (o.cleanEndOffset !== null && last.nextOffset < o.cleanEndOffset && report.truncatedOffsets === null) {
    // the files end on a batch boundary below where the log ended at shutdown: whole batches are gone
    const name = path.basename(last.logFile);
    const reason = `the log ends at offset ${last.nextOffset} but ended at ${o.cleanEndOffset} at the clean shutdown`;
    report.corruptions.push({ file: name, position: last.size, reason, inTail: true });
    report.truncatedOffsets = { from: last.nextOffset, to: o.cleanEndOffset };
    report.actions.push(`${name}: ${reason}; offsets ${last.nextOffset}..${o.cleanEndOffset - 1n} are missing`);
    sink.warn({ dir: o.dir, file: name, position: last.size, reason, offsets: { from: String(last.nextOffset), to: String(o.cleanEndOffset) } }, 'records missing from the end of the log');
  }
  return segments;
}
