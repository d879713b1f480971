/**
 * One log segment on the owner side: `<base>.log` + `.index` + `.timeindex`.
 *
 * The active segment's .log is written with positioned writes (ioMode 'pwrite', the default) into a file
 * preallocated (sparse, by ftruncate) in bounded steps ahead of the writes — 1 MiB, then doubling, at most
 * 64 MiB at a time, never past segment.bytes — or, with ioMode 'mmap', preallocated to segment.bytes and
 * memory-mapped read/write (an append is a memcpy into the page cache). Readers map the file at its current
 * size and map again only when it grew past their mapping, so the steps keep that rare. Sealing trims the files to their real sizes. A sealed segment is mapped read-only
 * on demand.
 *
 * SIGBUS rule: a file is only ever shrunk (ftruncate) down to a size that is >= every position any thread may
 * touch: trim-at-seal shrinks to the real size, and readers only touch bytes below the published size, which
 * never exceeds it. Truncation of data (truncateTo) never shrinks a file: it zero-fills the cut bytes in place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapFile, releaseMapping } from '../../native-bindings/mmap.js';
import {
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
} from '../record/batch-header.js';
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, fdatasyncFd, segmentFileName } from './files.js';
import { IndexFile, OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY, lookupOffsetIndex } from './offset-index.js';

export type IoMode = 'mmap' | 'pwrite';

/** The active .log's first preallocation step, and the largest one (see `LogSegment.preallocate`). */
export const PREALLOCATE_FIRST = 1 << 20;
export const PREALLOCATE_MAX_STEP = 64 << 20;

/** Largest relative offset an index entry can hold. */
export const MAX_RELATIVE_OFFSET = 0x7fffffff;

/** Header fields the scanners need, read without allocating a BatchHeader object. */
export interface BatchPosition {
  position: number;
  size: number;
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
}

export class LogSegment {
  readonly dir: string;
  readonly baseOffset: bigint;
  readonly logFile: string;
  /** Valid bytes in the .log. */
  size: number;
  offsetIndex: IndexFile;
  timeIndex: IndexFile;
  /** Largest batch max timestamp seen in this segment, and the last offset of that batch (-1n if none). */
  maxTimestamp = -1n;
  offsetOfMaxTimestamp = -1n;
  /** Timestamp of the last time index entry (entries are added only when this grows). */
  private lastTimeIndexTs = -1n;
  /** segment.ms bookkeeping (Kafka's): the first batch's max timestamp if it has one, else the creation time. */
  firstBatchTimestamp = -1n;
  createdMs = -1;
  bytesSinceLastIndexEntry = 0;
  /** Last offset of the segment's last batch + 1; -1n until known (computed lazily for sealed segments). */
  private _nextOffset = -1n;
  /** File mtime (ms) at open; retention falls back to it when no batch carries a timestamp. */
  lastModifiedMs: number;

  private active = false;
  private ioMode: IoMode = 'mmap';
  private fd = -1;
  /** Most bytes the active .log may hold (segment.bytes, or more for a single larger batch). */
  private capacity = 0;
  /** Current (preallocated) size of the active .log file: grows in steps up to `capacity`. */
  private allocated = 0;
  /** Read/write mapping of the active .log (mmap mode). Dropped (never touched again) at seal. */
  private wmap: Buffer | null = null;
  /** Read-only mapping used for reads when there is no writable one. */
  private rmap: Buffer | null = null;

  private constructor(dir: string, baseOffset: bigint, size: number, offsetIndex: IndexFile, timeIndex: IndexFile, mtime: number) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.logFile = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    this.size = size;
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.lastModifiedMs = mtime;
  }

  static indexFile(dir: string, base: bigint): string {
    return path.join(dir, segmentFileName(base, INDEX_SUFFIX));
  }
  static timeIndexFile(dir: string, base: bigint): string {
    return path.join(dir, segmentFileName(base, TIME_INDEX_SUFFIX));
  }

  /** Opens an existing segment without reading its contents (sizes and the last time index entry only). */
  static openExisting(dir: string, baseOffset: bigint): LogSegment {
    const logFile = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    const st = fs.statSync(logFile);
    const seg = new LogSegment(
      dir,
      baseOffset,
      st.size,
      IndexFile.openSealed(LogSegment.indexFile(dir, baseOffset), OFFSET_INDEX_ENTRY),
      IndexFile.openSealed(LogSegment.timeIndexFile(dir, baseOffset), TIME_INDEX_ENTRY),
      st.mtimeMs,
    );
    seg.loadMaxTimestampFromIndex();
    return seg;
  }

  /** Creates a new empty active segment (files created and preallocated). */
  static create(dir: string, baseOffset: bigint, segmentBytes: number, indexBytes: number, ioMode: IoMode, now: number): LogSegment {
    const logFile = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    // a leftover file with this name (e.g. from a truncation) holds nothing valid: start from zero bytes
    fs.writeFileSync(logFile, Buffer.alloc(0));
    for (const f of [LogSegment.indexFile(dir, baseOffset), LogSegment.timeIndexFile(dir, baseOffset)]) fs.writeFileSync(f, Buffer.alloc(0));
    const seg = new LogSegment(
      dir,
      baseOffset,
      0,
      IndexFile.openSealed(LogSegment.indexFile(dir, baseOffset), OFFSET_INDEX_ENTRY),
      IndexFile.openSealed(LogSegment.timeIndexFile(dir, baseOffset), TIME_INDEX_ENTRY),
      now,
    );
    seg._nextOffset = baseOffset;
    seg.activate(segmentBytes, indexBytes, ioMode, now);
    return seg;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Preallocates and maps the segment for appends. `nextOffset` must be known (set by recovery/open). */
  activate(segmentBytes: number, indexBytes: number, ioMode: IoMode, now: number): void {
    if (this.active) return;
    this.ioMode = ioMode;
    this.rmap = null; // may be a trimmed-size mapping; never mix it with the grown file
    if (this.fd < 0) this.fd = fs.openSync(this.logFile, fs.constants.O_RDWR);
    const fileSize = fs.fstatSync(this.fd).size;
    this.capacity = Math.max(segmentBytes, this.size, fileSize);
    this.allocated = fileSize;
    this.preallocate(Math.min(this.capacity, this.size + 1));
    if (ioMode === 'mmap' && !this.wmap) this.wmap = mapFile(this.fd, this.allocated, 'rw');
    this.offsetIndex.makeWritable(indexBytes);
    this.timeIndex.makeWritable(indexBytes);
    this.active = true;
    if (this.createdMs < 0) this.createdMs = now;
    if (this.size > 0 && this.firstBatchTimestamp < 0n) this.firstBatchTimestamp = this.batchAt(0).maxTimestamp;
    const idx = this.offsetIndex;
    const lastIndexPos = idx.entries > 0 ? idx.buffer().readInt32BE((idx.entries - 1) * OFFSET_INDEX_ENTRY + 4) : 0;
    this.bytesSinceLastIndexEntry = this.size - lastIndexPos;
  }

  /** Room for `bytes` more at the end; false if the preallocated file is full. */
  hasRoom(bytes: number): boolean {
    return this.size + bytes <= this.capacity;
  }

  /** Raises the capacity (only used for a single batch larger than segment.bytes). */
  grow(minCapacity: number): void {
    if (minCapacity > this.capacity) this.capacity = minCapacity;
  }

  /**
   * Makes the file at least `end` bytes long (capped at the capacity), one step ahead: 1 MiB first, then as much
   * again as it has, at most PREALLOCATE_MAX_STEP at a time. Growing a file is always safe for mappings.
   */
  private preallocate(end: number): void {
    if (end <= this.allocated) return;
    // mmap mode maps the whole capacity at once: appends through a mapping grown step by step measured slower
    // (median 0.11 against 0.15 of a plain write), and that mode is not the default
    const step =
      this.ioMode === 'mmap' ? this.capacity : this.allocated === 0 ? PREALLOCATE_FIRST : Math.min(this.allocated, PREALLOCATE_MAX_STEP);
    const target = Math.max(end, Math.min(this.capacity, this.allocated + step));
    fs.ftruncateSync(this.fd, target);
    this.allocated = target;
    if (this.active && this.ioMode === 'mmap') this.wmap = mapFile(this.fd, target, 'rw');
    this.rmap = null;
  }

  /** Copies src[start, end) to the end of the segment. */
  write(src: Buffer, start: number, end: number): void {
    this.preallocate(this.size + (end - start));
    if (this.wmap) src.copy(this.wmap, this.size, start, end);
    else {
      let off = start;
      while (off < end) off += fs.writeSync(this.fd, src, off, end - off, this.size + (off - start));
    }
    this.size += end - start;
  }

  /** Writes `bufs` back to back at the end of the segment: one vectored write (pwrite mode), or copies. */
  writev(bufs: readonly Buffer[]): void {
    const n = bufs.length;
    if (n === 0) return;
    if (n === 1) {
      const b = bufs[0] as Buffer;
      this.write(b, 0, b.length);
      return;
    }
    let total = 0;
    for (const b of bufs) total += b.length;
    this.preallocate(this.size + total);
    if (this.wmap) {
      for (const b of bufs) {
        b.copy(this.wmap, this.size);
        this.size += b.length;
      }
      return;
    }
    let done = fs.writevSync(this.fd, bufs as Buffer[], this.size);
    if (done < total) {
      // short write: finish the rest buffer by buffer
      let skip = done;
      for (const b of bufs) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        for (let off = skip; off < b.length; ) {
          const w = fs.writeSync(this.fd, b, off, b.length - off, this.size + done);
          off += w;
          done += w;
        }
        skip = 0;
      }
    }
    this.size += total;
  }

  /** Zero-fills bytes [from, to) of the active segment in place (never shrinks the file). */
  zeroRange(from: number, to: number): void {
    if (to <= from) return;
    if (this.wmap) {
      this.wmap.fill(0, from, to);
      return;
    }
    const zeros = Buffer.alloc(Math.min(1 << 20, to - from));
    for (let p = from; p < to; ) {
      const n = Math.min(zeros.length, to - p);
      p += fs.writeSync(this.fd, zeros, 0, n, p);
    }
  }

  /** Updates index/time index/max timestamp for a batch just written at `position` (Kafka's cadence). */
  indexBatch(position: number, size: number, lastOffset: bigint, maxTimestamp: bigint, indexIntervalBytes: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      if (!this.offsetIndex.isFull) this.offsetIndex.appendOffsetEntry(Number(lastOffset - this.baseOffset), position);
      this.maybeAppendTimeEntry(false);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += size;
    this._nextOffset = lastOffset + 1n;
    if (position === 0) this.firstBatchTimestamp = maxTimestamp;
  }

  /** How long this segment has been "open" for segment.ms, as Kafka measures it. */
  timeWaitedForRoll(now: number, incomingMaxTimestamp: bigint): number {
    if (this.firstBatchTimestamp >= 0n) {
      const d = incomingMaxTimestamp - this.firstBatchTimestamp;
      return d > 0n ? Number(d) : 0;
    }
    return now - this.createdMs;
  }

  /** One slot of the time index stays free for the final entry written at seal. */
  private maybeAppendTimeEntry(final: boolean): void {
    const ti = this.timeIndex;
    if (this.maxTimestamp <= this.lastTimeIndexTs || this.maxTimestamp < 0n) return;
    if (ti.entries >= ti.maxEntries - (final ? 0 : 1)) return;
    ti.appendTimeEntry(this.maxTimestamp, Number(this.offsetOfMaxTimestamp - this.baseOffset));
    this.lastTimeIndexTs = this.maxTimestamp;
  }

  /** True when an index cannot take another entry (a roll condition). */
  get indexFull(): boolean {
    return this.offsetIndex.isFull || this.timeIndex.entries >= this.timeIndex.maxEntries - 1;
  }

  get nextOffset(): bigint {
    if (this._nextOffset < 0n) this._nextOffset = this.computeNextOffset();
    return this._nextOffset;
  }
  set nextOffset(v: bigint) {
    this._nextOffset = v;
  }

  /** Last offset + 1 found by a short scan from the last index entry (the "clean open" path). */
  private computeNextOffset(): bigint {
    if (this.size === 0) return this.baseOffset;
    const idx = this.offsetIndex;
    let pos = idx.entries > 0 ? lookupOffsetIndex(idx.buffer(), idx.entries, MAX_RELATIVE_OFFSET, this.size) : 0;
    const view = this.view();
    let next = this.baseOffset;
    while (pos + LOG_OVERHEAD <= this.size) {
      const size = view.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
      if (size < LOG_OVERHEAD + 49 || pos + size > this.size) break;
      next = view.readBigInt64BE(pos + BASE_OFFSET_OFFSET) + BigInt(view.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)) + 1n;
      pos += size;
    }
    return next;
  }

  /** Sets maxTimestamp from the last time index entry (written at seal/close). */
  loadMaxTimestampFromIndex(): void {
    const ti = this.timeIndex;
    if (ti.entries === 0) return;
    const b = ti.buffer();
    const p = (ti.entries - 1) * TIME_INDEX_ENTRY;
    this.maxTimestamp = b.readBigInt64BE(p);
    this.offsetOfMaxTimestamp = this.baseOffset + BigInt(b.readInt32BE(p + 8));
    this.lastTimeIndexTs = this.maxTimestamp;
  }

  /** Largest timestamp for retention: the newest batch timestamp, else the file's mtime (as Kafka). */
  get largestTimestamp(): number {
    return this.maxTimestamp >= 0n ? Number(this.maxTimestamp) : this.lastModifiedMs;
  }

  /** Bytes [0, >= size) of the .log; valid only below `size`. Never cache it past a seal or truncation. */
  view(): Buffer {
    if (this.wmap) return this.wmap;
    if (this.rmap && this.rmap.length >= this.size) return this.rmap;
    if (this.size === 0) return Buffer.alloc(0);
    const fd = this.fd >= 0 ? this.fd : fs.openSync(this.logFile, 'r');
    try {
      this.rmap = mapFile(fd, fs.fstatSync(fd).size, 'r');
    } finally {
      if (fd !== this.fd) fs.closeSync(fd);
    }
    return this.rmap;
  }

  /** Reads one batch's shallow header fields at `pos` (which must be a valid batch start below size). */
  batchAt(pos: number, view: Buffer = this.view()): BatchPosition {
    const size = view.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
    const baseOffset = view.readBigInt64BE(pos + BASE_OFFSET_OFFSET);
    return {
      position: pos,
      size,
      baseOffset,
      lastOffset: baseOffset + BigInt(view.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)),
      maxTimestamp: view.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET),
    };
  }

  /** Position of the first batch whose last offset is >= offset, or `size` if none. */
  positionOf(offset: bigint): number {
    if (offset <= this.baseOffset) return 0;
    const rel = offset - this.baseOffset;
    const idx = this.offsetIndex;
    let pos = idx.entries > 0 ? lookupOffsetIndex(idx.buffer(), idx.entries, rel > BigInt(MAX_RELATIVE_OFFSET) ? MAX_RELATIVE_OFFSET : Number(rel), this.size) : 0;
    const view = this.view();
    while (pos + LOG_OVERHEAD <= this.size) {
      const b = this.batchAt(pos, view);
      if (b.lastOffset >= offset) return pos;
      pos += b.size;
    }
    return this.size;
  }

  /** fdatasync of the .log only (indexes are rebuilt by recovery, so a group commit needs just this). */
  syncData(): void {
    if (this.fd >= 0) fdatasyncFd(this.fd, this.logFile);
  }

  /** fdatasync of the .log and both indexes (also writes back dirty pages of the shared mappings). */
  sync(): void {
    if (this.fd >= 0) fdatasyncFd(this.fd, this.logFile);
    this.offsetIndex.sync();
    this.timeIndex.sync();
  }

  /**
   * Stops appending: writes the final time index entry, trims the .log and indexes to their real sizes,
   * syncs (unless `sync` is false: the caller then makes `files` durable later), and drops the writable
   * mappings.
   */
  seal(sync = true): void {
    if (!this.active) return;
    this.maybeAppendTimeEntry(true);
    releaseMapping(this.wmap); // never touched again: the file shrinks below its length next
    this.wmap = null;
    this.rmap = null;
    fs.ftruncateSync(this.fd, this.size);
    if (sync) fdatasyncFd(this.fd, this.logFile);
    fs.closeSync(this.fd);
    this.fd = -1;
    this.offsetIndex.seal(sync);
    this.timeIndex.seal(sync);
    this.active = false;
    this.capacity = this.size;
    this.allocated = this.size;
  }

  /** The segment's three files (.log, .index, .timeindex). */
  get files(): string[] {
    return [this.logFile, this.offsetIndex.file, this.timeIndex.file];
  }

  /**
   * Drops mappings and descriptors without trimming (before the files are renamed or deleted). The mappings
   * let go of the file at once: a mapping left to the garbage collector keeps a deleted file's blocks allocated.
   */
  release(): void {
    releaseMapping(this.wmap);
    releaseMapping(this.rmap);
    this.wmap = null;
    this.rmap = null;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.offsetIndex.release();
    this.timeIndex.release();
    this.active = false;
  }

  /** Renames the segment's three files by appending `suffix` (e.g. `.deleted`); returns the new paths. */
  renameAll(suffix: string): string[] {
    this.release();
    const out: string[] = [];
    for (const f of [this.logFile, this.offsetIndex.file, this.timeIndex.file]) {
      try {
        fs.renameSync(f, f + suffix);
        out.push(f + suffix);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return out;
  }

  /** Recomputes the time bookkeeping after indexes were rebuilt or truncated. */
  resetTimeBookkeeping(maxTimestamp: bigint, offsetOfMax: bigint): void {
    this.maxTimestamp = maxTimestamp;
    this.offsetOfMaxTimestamp = offsetOfMax;
    const ti = this.timeIndex;
    this.lastTimeIndexTs = ti.entries > 0 ? ti.buffer().readBigInt64BE((ti.entries - 1) * TIME_INDEX_ENTRY) : -1n;
  }
}
