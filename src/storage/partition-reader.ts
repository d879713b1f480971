/**
 * Reads a partition's log from any thread, given its directory and the owner's PartitionSharedState: no round
 * trip to the owner. Each reader maps segment files read-only itself (a mapped Buffer sent through
 * postMessage would be copied) and returns whole batches as zero-copy slices of those mappings.
 *
 * Consistency: the reader snapshots the published offsets, then the active segment fields inside the owner's
 * seqlock on `segmentsEpoch` (odd = change in progress), re-listing segment files whenever the epoch moved.
 * It only touches bytes below the published active size (or below a sealed file's size), and only returns
 * batches entirely below the bound (high watermark by default) — so it never touches a page past EOF.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SluiceError } from '../errors.js';
import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD } from '../record/batch-header.js';
import { mapFile, releaseMapping } from '../../native-bindings/mmap.js';
import { INDEX_SUFFIX, LOG_SUFFIX, isEnoent, listSegmentBases, segmentFileName } from './files.js';
import { OFFSET_INDEX_ENTRY, lookupOffsetIndex } from './offset-index.js';
import type { PartitionSharedState } from './shared-state.js';
import type { ReadOptions, ReadResult } from './types.js';

const EMPTY = Buffer.alloc(0);
const MAX_REL = 0x7fffffff;
/** Smallest valid batch. */
const MIN_BATCH = 61;

interface SegmentView {
  base: bigint;
  log: Buffer;
  /** Bytes of `log` that may be read: the sealed file size (the active bound comes from the shared state). */
  logSize: number;
  index: Buffer;
  indexEntries: number;
}

interface Snapshot {
  logStart: bigint;
  leo: bigint;
  hw: bigint;
  lso: bigint;
  epoch: number;
  activeBase: bigint;
  activeSize: number;
  activeIndexEntries: number;
}

export class PartitionReader {
  readonly dir: string;
  readonly state: PartitionSharedState;
  private listedEpoch = -1;
  private bases: bigint[] = [];
  private views = new Map<bigint, SegmentView>();
  private activeView: SegmentView | null = null;

  constructor(dir: string, state: PartitionSharedState) {
    this.dir = dir;
    this.state = state;
  }

  private snapshot(): Snapshot {
    const st = this.state;
    const deadline = Date.now() + 1000;
    for (let spins = 0; ; spins++) {
      // The epoch brackets everything: a change of the segment set publishes its new log start inside the
      // window, so the offsets and the segment list always agree (a retention deletion seen with the old log
      // start made readers fail with "segment list is stale").
      const epoch = st.segmentsEpoch;
      // offsets next: the active size read after them covers every byte below them
      const hw = st.highWatermark;
      const leo = st.logEndOffset;
      const logStart = st.logStartOffset;
      const lso = st.lastStableOffset;
      if ((epoch & 1) === 0) {
        const activeBase = st.activeSegmentBaseOffset;
        const activeIndexEntries = st.activeIndexEntries;
        const activeSize = st.activeSegmentSize;
        if (st.segmentsEpoch === epoch) return { logStart, leo, hw, lso, epoch, activeBase, activeSize, activeIndexEntries };
      }
      // the owner's change window is a few µs; a dead owner must not hang readers
      if ((spins & 1023) === 1023 && Date.now() > deadline) {
        throw new SluiceError('STORAGE', `partition ${this.dir}: segment change did not complete`);
      }
    }
  }

  private relist(s: Snapshot): void {
    // files newer than the published active segment exist briefly during a roll: ignore them
    this.bases = listSegmentBases(this.dir).filter((b) => b <= s.activeBase);
    this.views.clear();
    this.activeView = null;
    this.listedEpoch = s.epoch;
  }

  /**
   * Whole batches starting with the one containing `offset`, as a zero-copy slice of a read-only mapping.
   * Kafka semantics: offset < log start or > log end → OFFSET_OUT_OF_RANGE; offset at the bound → empty; at
   * least one whole batch even if larger than maxBytes; never spans two segments.
   */
  read(offset: bigint, opts: ReadOptions): ReadResult {
    for (let attempt = 0; ; attempt++) {
      const s = this.snapshot();
      if (offset < s.logStart || offset > s.leo) {
        throw new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${offset} is out of range [${s.logStart}, ${s.leo}] of ${path.basename(this.dir)}`);
      }
      let bound = opts.maxOffset ?? s.hw;
      if (bound > s.leo) bound = s.leo;
      const result = (records: Buffer, nextOffset: bigint): ReadResult => ({
        records,
        nextOffset,
        highWatermark: s.hw,
        logStartOffset: s.logStart,
        logEndOffset: s.leo,
        lastStableOffset: s.lso,
      });
      if (offset >= bound) return result(EMPTY, offset);
      if (s.epoch !== this.listedEpoch) this.relist(s);
      try {
        return this.readIn(s, offset, bound, Math.max(0, opts.maxBytes), result);
      } catch (e) {
        if (!isEnoent(e) || attempt >= 3) throw e;
        // a segment was deleted (retention/compaction) after we listed: list again
        this.listedEpoch = -1;
      }
    }
  }

  private readIn(s: Snapshot, offset: bigint, bound: bigint, maxBytes: number, result: (r: Buffer, n: bigint) => ReadResult): ReadResult {
    let i = this.segmentIndexFor(offset);
    if (i < 0) {
      // the first segment starts after `offset` although logStart <= offset: a racing deletion
      const err = new Error('segment list is stale') as NodeJS.ErrnoException;
      err.code = 'ENOENT';
      throw err;
    }
    for (; i < this.bases.length; i++) {
      const base = this.bases[i] as bigint;
      const isActive = base === s.activeBase;
      const v = this.view(base, isActive, s);
      const limit = isActive ? Math.min(s.activeSize, v.log.length) : v.logSize;
      const entries = isActive ? Math.min(s.activeIndexEntries, Math.floor(v.index.length / OFFSET_INDEX_ENTRY)) : v.indexEntries;
      const log = v.log;
      const rel = offset - base;
      let pos = rel <= 0n ? 0 : lookupOffsetIndex(v.index, entries, rel > BigInt(MAX_REL) ? MAX_REL : Number(rel), limit);
      // skip batches that end before `offset`
      while (pos + MIN_BATCH <= limit) {
        const size = log.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
        const last = log.readBigInt64BE(pos) + BigInt(log.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
        if (last >= offset) break;
        pos += size;
      }
      if (pos + MIN_BATCH > limit) continue; // nothing at or after `offset` here (e.g. compacted away): next segment
      const start = pos;
      let next = offset;
      while (pos + MIN_BATCH <= limit) {
        const size = log.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
        const last = log.readBigInt64BE(pos) + BigInt(log.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
        if (last >= bound || pos + size > limit) break;
        if (pos > start && pos + size - start > maxBytes) break;
        pos += size;
        next = last + 1n;
      }
      return result(pos > start ? log.subarray(start, pos) : EMPTY, next);
    }
    return result(EMPTY, offset);
  }

  private segmentIndexFor(offset: bigint): number {
    const b = this.bases;
    let lo = 0;
    let hi = b.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((b[mid] as bigint) <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private view(base: bigint, isActive: boolean, s: Snapshot): SegmentView {
    if (isActive) {
      const v = this.activeView;
      // remap when the owner grew the file past our mapping or the index got more entries than we mapped
      if (v && v.base === base && v.log.length >= s.activeSize && v.index.length >= s.activeIndexEntries * OFFSET_INDEX_ENTRY) return v;
      const nv = this.mapSegment(base);
      if (nv.log.length < s.activeSize) throw new SluiceError('STORAGE', `active segment of ${this.dir} is smaller than its published size`);
      this.activeView = nv;
      return nv;
    }
    let v = this.views.get(base);
    if (!v) {
      v = this.mapSegment(base);
      this.views.set(base, v);
    }
    return v;
  }

  private mapSegment(base: bigint): SegmentView {
    const logFd = fs.openSync(path.join(this.dir, segmentFileName(base, LOG_SUFFIX)), 'r');
    let log: Buffer;
    let logSize: number;
    try {
      logSize = fs.fstatSync(logFd).size;
      log = mapFile(logFd, logSize, 'r');
    } finally {
      fs.closeSync(logFd);
    }
    let index: Buffer = EMPTY;
    try {
      const idxFd = fs.openSync(path.join(this.dir, segmentFileName(base, INDEX_SUFFIX)), 'r');
      try {
        // binary searches only; the active index is a preallocated sparse file: no readahead (zero-filled holes)
        index = mapFile(idxFd, fs.fstatSync(idxFd).size, 'r', 'random');
      } finally {
        fs.closeSync(idxFd);
      }
    } catch (e) {
      if (!isEnoent(e)) throw e; // no index: scan from the start of the segment
    }
    return { base, log, logSize, index, indexEntries: Math.floor(index.length / OFFSET_INDEX_ENTRY) };
  }

  /**
   * Drops every mapping this reader holds (they are unmapped once no slice references them). With `release`
   * (the partition is being deleted) they let go of their files at once: a slice still held reads zeros.
   */
  close(release = false): void {
    if (release) {
      for (const v of [...this.views.values(), this.activeView]) {
        if (!v) continue;
        releaseMapping(v.log);
        releaseMapping(v.index);
      }
    }
    this.views.clear();
    this.activeView = null;
    this.bases = [];
    this.listedEpoch = -1;
  }
}
