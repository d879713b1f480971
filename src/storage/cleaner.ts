/**
 * Log compaction (cleanup.policy=compact), Kafka's rules:
 *  - only sealed segments, and only those entirely below the active segment, the last stable offset and the
 *    first segment younger than min.compaction.lag.ms; runs when dirty bytes (after the
 *    cleaner-offset-checkpoint) / cleanable bytes >= min.cleanable.dirty.ratio, or when a cleanable segment
 *    holds tombstones whose delete horizon has passed (Kafka's latestDeleteHorizon), new writes or not;
 *  - keeps the last record of every key (records without a key are kept); the offset map is built from the
 *    dirty range, non-transactional records only, so an aborted transaction never shadows anything;
 *  - tombstones: the first clean that keeps one stamps its batch with a delete horizon (attributes bit 6,
 *    baseTimestamp = now + delete.retention.ms, as Kafka 3); a later clean after the horizon drops it; a
 *    rewritten batch keeps the stamp only while it still holds a tombstone;
 *  - transactional and control batches are copied as they are; a rewritten batch keeps its codec, producer
 *    id/epoch/sequence, partition leader epoch, offsets and last offset delta; a producer's last batch whose
 *    records all go is kept empty (Kafka does this so the producer's sequence state survives);
 *  - output per group of segments goes to `.cleaned`, is synced, renamed `.swap`, then swapped in (sources
 *    renamed `.deleted`, swap renamed over the first source's name); recovery completes a `.swap` and drops a
 *    `.cleaned` after a crash.
 * `cleanSteps` is a generator that yields after about `maxBytesPerStep` bytes so the owner can interleave
 * appends; appends only touch the active segment, and a swap aborts safely if retention or truncation
 * changed the segments meanwhile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SluiceError } from '../errors.js';
import {
  BATCH_HEADER_SIZE,
  DELETE_HORIZON_MASK,
  LOG_OVERHEAD,
  isControl,
  isTransactional,
  readBatchHeader,
} from '../record/batch-header.js';
import { buildBatch, decodeBatch } from '../record/batch.js';
import type { LogRecord } from '../record/types.js';
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
  fsyncDir,
  segmentFileName,
  unlinkIfExists,
} from './files.js';
import { IndexBuilder } from './recovery.js';
import { LogSegment, MAX_RELATIVE_OFFSET } from './segment.js';
import type { LogConfig } from './types.js';

/**
 * What compaction needs of a partition's log (PartitionLog implements it): the sealed segments to read, the
 * bounds it may clean up to, and the three writes it makes (swap cleaned segments in, delete the replaced
 * files later, move the cleaner checkpoint).
 */
export interface CleanableLog {
  readonly dir: string;
  readonly config: LogConfig;
  readonly logStartOffset: bigint;
  readonly lastStableOffset: bigint;
  /** First offset not yet cleaned (cleaner-offset-checkpoint). */
  readonly cleanerCheckpoint: bigint;
  /** Oldest first; the last one is active (never cleaned). */
  readonly segments: readonly LogSegment[];
  /**
   * Replaces `oldSegs` (consecutive, sealed) by the segment `swapIn` opens, inside the segments seqlock;
   * throws a SluiceError, before calling `swapIn`, if they are no longer in the log.
   */
  replaceSegments(oldSegs: readonly LogSegment[], swapIn: () => LogSegment): void;
  /** Deletes `files` after file.delete.delay.ms. */
  scheduleDelete(files: string[], now: number): void;
  writeCleanerCheckpoint(offset: bigint): void;
}

export interface CleanOptions {
  /** Yield (in cleanSteps) after roughly this many bytes read. Default 4 MiB. */
  maxBytesPerStep?: number;
  /** Ignore min.cleanable.dirty.ratio (e.g. an operator-triggered compaction). */
  force?: boolean;
}

export interface CleanStats {
  /** Source segments rewritten (unchanged single segments are skipped and not counted). */
  segmentsCleaned: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  batchesRemoved: number;
  /** Dirty ratio that triggered the clean. */
  dirtyRatio: number;
  /** The new cleaner checkpoint: first offset not yet cleaned. */
  cleanedUpTo: bigint;
  /** True if the swap was abandoned because the segments changed meanwhile. */
  aborted: boolean;
}

const DEFAULT_STEP = 4 << 20;

interface Plan {
  cleanable: LogSegment[];
  firstDirty: bigint;
  endOffset: bigint;
  dirtyRatio: number;
}

/** Earliest delete horizon of a segment's batches (headers only; cached while the segment is unchanged), or null. */
const horizons = new WeakMap<LogSegment, { size: number; horizon: bigint | null }>();
function earliestDeleteHorizon(seg: LogSegment): bigint | null {
  const cached = horizons.get(seg);
  if (cached && cached.size === seg.size) return cached.horizon;
  let horizon: bigint | null = null;
  const view = seg.view();
  for (let pos = 0; pos + BATCH_HEADER_SIZE <= seg.size; ) {
    const h = readBatchHeader(view, pos);
    if ((h.attributes & DELETE_HORIZON_MASK) !== 0 && !isControl(h.attributes) && !isTransactional(h.attributes)) {
      if (horizon === null || h.baseTimestamp < horizon) horizon = h.baseTimestamp;
    }
    pos += h.batchLength + LOG_OVERHEAD;
  }
  horizons.set(seg, { size: seg.size, horizon });
  return horizon;
}

/** Which segments are cleanable now, or null if compaction should not run (Kafka's selection rules). */
export function planClean(log: CleanableLog, now: number, force = false): Plan | null {
  const cfg = log.config;
  if (!cfg.cleanupPolicy.compact) return null;
  const segs = log.segments;
  const firstDirty = log.cleanerCheckpoint > log.logStartOffset ? log.cleanerCheckpoint : log.logStartOffset;
  const lso = log.lastStableOffset;
  const cleanable: LogSegment[] = [];
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let endOffset = firstDirty;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i] as LogSegment;
    const nextBase = (segs[i + 1] as LogSegment).baseOffset;
    if (nextBase > lso) break;
    if (cfg.minCompactionLagMs > 0 && now - seg.largestTimestamp < cfg.minCompactionLagMs) break;
    cleanable.push(seg);
    if (nextBase <= firstDirty) cleanBytes += seg.size;
    else dirtyBytes += seg.size;
    endOffset = nextBase;
  }
  if (cleanable.length === 0) return null;
  const ratio = dirtyBytes / Math.max(1, cleanBytes + dirtyBytes);
  const dirtyDue = endOffset > firstDirty && (force || (dirtyBytes > 0 && ratio >= cfg.minCleanableDirtyRatio));
  if (!dirtyDue) {
    // Nothing (or too little) new, but tombstones past their horizon still have to go.
    const t = BigInt(Math.trunc(now));
    if (!cleanable.some((seg) => (earliestDeleteHorizon(seg) ?? t + 1n) <= t)) return null;
  }
  return { cleanable, firstDirty, endOffset: endOffset > firstDirty ? endOffset : firstDirty, dirtyRatio: ratio };
}

function keyOf(r: LogRecord): string | null {
  return r.key === null ? null : r.key.toString('latin1');
}

/** Runs a whole clean synchronously. */
export function clean(log: CleanableLog, now: number, opts: CleanOptions = {}): CleanStats | null {
  const gen = cleanSteps(log, now, opts);
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

/** A clean in steps: call next() between appends until it is done. */
export function* cleanSteps(log: CleanableLog, now: number, opts: CleanOptions = {}): Generator<void, CleanStats | null, void> {
  const plan = planClean(log, now, opts.force ?? false);
  if (!plan) return null;
  const step = opts.maxBytesPerStep ?? DEFAULT_STEP;
  const cfg = log.config;
  const stats: CleanStats = {
    segmentsCleaned: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    batchesRemoved: 0,
    dirtyRatio: plan.dirtyRatio,
    cleanedUpTo: plan.endOffset,
    aborted: false,
  };

  // 1. offset map over the dirty range: key -> last offset
  const latest = new Map<string, bigint>();
  let sinceYield = 0;
  for (const seg of plan.cleanable) {
    if (seg.nextOffset <= plan.firstDirty) continue;
    const view = seg.view();
    for (let pos = seg.positionOf(plan.firstDirty); pos + BATCH_HEADER_SIZE <= seg.size; ) {
      const h = readBatchHeader(view, pos);
      const size = h.batchLength + LOG_OVERHEAD;
      if (!isControl(h.attributes) && !isTransactional(h.attributes)) {
        for (const r of decodeBatch(view, pos).records) {
          const k = keyOf(r);
          if (k !== null && r.offset >= plan.firstDirty) latest.set(k, r.offset);
        }
      }
      pos += size;
      sinceYield += size;
      if (sinceYield >= step) {
        sinceYield = 0;
        yield;
      }
    }
  }
  // each producer's last batch in the cleanable range (headers only)
  const lastBatchOfProducer = new Map<bigint, bigint>();
  for (const seg of plan.cleanable) {
    const view = seg.view();
    for (let pos = 0; pos + BATCH_HEADER_SIZE <= seg.size; ) {
      const h = readBatchHeader(view, pos);
      if (h.producerId >= 0n) lastBatchOfProducer.set(h.producerId, h.baseOffset);
      pos += h.batchLength + LOG_OVERHEAD;
    }
  }
  const horizonIfStamped = BigInt(now) + BigInt(cfg.deleteRetentionMs);

  // 2. groups of consecutive segments that fit one segment
  const groups: LogSegment[][] = [];
  let cur: LogSegment[] = [];
  let curBytes = 0;
  for (const seg of plan.cleanable) {
    const first = cur[0];
    if (first && (curBytes + seg.size > cfg.segmentBytes || seg.nextOffset - 1n - first.baseOffset > BigInt(MAX_RELATIVE_OFFSET))) {
      groups.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(seg);
    curBytes += seg.size;
  }
  if (cur.length) groups.push(cur);

  // 3. rewrite each group into .cleaned, then swap it in
  for (const group of groups) {
    const base = (group[0] as LogSegment).baseOffset;
    const dir = log.dir;
    const cleanedLog = path.join(dir, segmentFileName(base, LOG_SUFFIX + CLEANED_SUFFIX));
    const cleanedIdx = path.join(dir, segmentFileName(base, INDEX_SUFFIX + CLEANED_SUFFIX));
    const cleanedTidx = path.join(dir, segmentFileName(base, TIME_INDEX_SUFFIX + CLEANED_SUFFIX));
    const fd = fs.openSync(cleanedLog, 'w');
    const builder = new IndexBuilder(base, cfg.indexIntervalBytes, cfg.segmentIndexBytes);
    let outPos = 0;
    let changed = group.length > 1;
    const write = (b: Buffer, lastOffset: bigint, maxTs: bigint): void => {
      let off = 0;
      while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off, outPos + off);
      builder.add(outPos, b.length, lastOffset, maxTs);
      outPos += b.length;
    };
    let ok = false;
    try {
      for (const seg of group) {
        const view = seg.view();
        for (let pos = 0; pos + BATCH_HEADER_SIZE <= seg.size; ) {
          const h = readBatchHeader(view, pos);
          const size = h.batchLength + LOG_OVERHEAD;
          const lastOffset = h.baseOffset + BigInt(h.lastOffsetDelta);
          stats.bytesRead += size;
          sinceYield += size;
          const original = view.subarray(pos, pos + size);
          pos += size;
          if (isControl(h.attributes) || isTransactional(h.attributes)) {
            write(original, lastOffset, h.maxTimestamp);
            continue;
          }
          const decoded = decodeBatch(original, 0);
          const hasHorizon = (h.attributes & DELETE_HORIZON_MASK) !== 0;
          const keep: LogRecord[] = [];
          let tombstonesKept = 0;
          for (const r of decoded.records) {
            const k = keyOf(r);
            if (k !== null) {
              const l = latest.get(k);
              if (l !== undefined && r.offset < l) {
                stats.recordsRemoved++;
                continue;
              }
              if (r.value === null) {
                if (hasHorizon && BigInt(now) >= h.baseTimestamp) {
                  stats.recordsRemoved++;
                  stats.tombstonesRemoved++;
                  continue;
                }
                tombstonesKept++;
              }
            }
            keep.push(r);
          }
          const stamp = tombstonesKept > 0 && !hasHorizon;
          // the stamp stays only on a batch that still holds tombstones (else it would trigger cleans forever)
          const horizon = tombstonesKept === 0 ? null : stamp ? horizonIfStamped : h.baseTimestamp;
          if (keep.length === decoded.records.length && !stamp && (horizon !== null || !hasHorizon)) {
            write(original, lastOffset, h.maxTimestamp);
            continue;
          }
          changed = true;
          const producerLast = h.producerId >= 0n && lastBatchOfProducer.get(h.producerId) === h.baseOffset;
          if (keep.length === 0 && !producerLast) {
            stats.batchesRemoved++;
            continue;
          }
          const rebuilt = buildBatch(
            {
              baseOffset: h.baseOffset,
              lastOffsetDelta: h.lastOffsetDelta,
              partitionLeaderEpoch: h.partitionLeaderEpoch,
              attributes: horizon === null ? h.attributes & ~DELETE_HORIZON_MASK : h.attributes | DELETE_HORIZON_MASK,
              ...(horizon === null ? {} : { baseTimestamp: horizon }),
              maxTimestamp: h.maxTimestamp,
              producerId: h.producerId,
              producerEpoch: h.producerEpoch,
              baseSequence: h.baseSequence,
            },
            keep,
          );
          write(rebuilt, lastOffset, h.maxTimestamp);
        }
        if (sinceYield >= step) {
          sinceYield = 0;
          yield;
        }
      }
      ok = true;
    } finally {
      if (!ok) {
        fs.closeSync(fd);
        for (const f of [cleanedLog, cleanedIdx, cleanedTidx]) unlinkIfExists(f);
      }
    }
    if (!changed) {
      // a single segment with nothing to drop: leave it as it is
      fs.closeSync(fd);
      unlinkIfExists(cleanedLog);
      continue;
    }
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    const built = builder.finish(true);
    for (const [file, content] of [[cleanedIdx, built.offsetIndex], [cleanedTidx, built.timeIndex]] as const) {
      const ifd = fs.openSync(file, 'w');
      try {
        if (content.length) fs.writeSync(ifd, content);
        fs.fdatasyncSync(ifd);
      } finally {
        fs.closeSync(ifd);
      }
    }
    // the group may have changed while we yielded (retention, truncation): then drop our output
    const stillThere = group.every((s) => log.segments.includes(s)) && !group.some((s) => s.isActive);
    if (!stillThere) {
      for (const f of [cleanedLog, cleanedIdx, cleanedTidx]) unlinkIfExists(f);
      stats.aborted = true;
      return stats;
    }
    // .cleaned -> .swap: from here a crash completes the swap on open
    const swaps = [cleanedIdx, cleanedTidx, cleanedLog].map((f) => {
      const s = f.slice(0, -CLEANED_SUFFIX.length) + SWAP_SUFFIX;
      fs.renameSync(f, s);
      return s;
    });
    fsyncDir(log.dir);
    const deleted: string[] = [];
    let replacement: LogSegment | null = null;
    try {
      log.replaceSegments(group, () => {
        for (const s of group.slice(1)) deleted.push(...s.renameAll(DELETED_SUFFIX));
        (group[0] as LogSegment).release();
        // indexes first, the log last: the log swap is what recovery keys on
        for (const s of swaps) fs.renameSync(s, s.slice(0, -SWAP_SUFFIX.length));
        replacement = LogSegment.openExisting(log.dir, base);
        return replacement;
      });
    } catch (e) {
      if (e instanceof SluiceError && !replacement) {
        for (const s of swaps) unlinkIfExists(s);
        stats.aborted = true;
        return stats;
      }
      throw e;
    }
    fsyncDir(log.dir);
    log.scheduleDelete(deleted, now);
    stats.segmentsCleaned += group.length;
    stats.bytesWritten += outPos;
  }
  log.writeCleanerCheckpoint(plan.endOffset);
  return stats;
}
