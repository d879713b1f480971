/**
 * Sparse index files, as Kafka lays them out (big-endian):
 *   .index      8 B/entry: relative offset int32 | position int32   (relative offset = batch last offset - base)
 *   .timeindex 12 B/entry: timestamp int64 | relative offset int32
 * The active segment's index files are preallocated to segment.index.bytes and memory-mapped read/write; at
 * roll/close they are trimmed to their entries. A sealed index is mapped read-only on demand.
 */
import * as fs from 'node:fs';
import { PAGE_SIZE, mapFile, releaseMapping } from '../../native-bindings/mmap.js';
import { fdatasyncFd } from './files.js';

export const OFFSET_INDEX_ENTRY = 8;
export const TIME_INDEX_ENTRY = 12;

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/** One index file; `entries` valid entries live at the start of `buf`. */
export class IndexFile {
  readonly file: string;
  readonly entrySize: number;
  entries: number;
  /** Max entries while writable (preallocated size / entrySize). */
  maxEntries: number;
  private fd = -1;
  private map: Buffer | null = null;
  private writable = false;
  /**
   * Bytes from the start known to have storage behind them. The preallocated file is sparse, and storing into
   * a hole of a mapping on a full disk raises SIGBUS (the process dies): a page is given storage with a
   * write(2) of zeros first, which fails with a plain ENOSPC instead.
   */
  private backedBytes = 0;

  private constructor(file: string, entrySize: number, entries: number) {
    this.file = file;
    this.entrySize = entrySize;
    this.entries = entries;
    this.maxEntries = entries;
  }

  /** A sealed index: entries = file size / entry size (a missing file counts as empty). */
  static openSealed(file: string, entrySize: number): IndexFile {
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return new IndexFile(file, entrySize, Math.floor(size / entrySize));
  }

  /** A writable index holding `entries` valid entries, preallocated to `maxBytes` (creates the file). */
  static openWritable(file: string, entrySize: number, maxBytes: number, entries: number): IndexFile {
    const idx = new IndexFile(file, entrySize, entries);
    idx.makeWritable(maxBytes);
    return idx;
  }

  get isWritable(): boolean {
    return this.writable;
  }
  get isFull(): boolean {
    return this.entries >= this.maxEntries;
  }
  get sizeInBytes(): number {
    return this.entries * this.entrySize;
  }

  /** Grows the file to its preallocated size (never shrinks: growing is always safe for mappings) and maps it. */
  makeWritable(maxBytes: number): void {
    if (this.writable) return;
    this.maxEntries = Math.max(this.entries, Math.floor(maxBytes / this.entrySize));
    const bytes = this.maxEntries * this.entrySize;
    this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    const cur = fs.fstatSync(this.fd).size;
    if (cur < bytes) fs.ftruncateSync(this.fd, bytes);
    // MADV_RANDOM: no readahead on a fault. With the default advice the first write into the preallocated
    // (sparse) file faulted in and zero-filled a whole readahead window of pages: ~1.6 ms per new index file
    // against ~10 µs for a single page, which stalled the owner on every new segment and new partition.
    this.map = mapFile(this.fd, Math.max(cur, bytes), 'rw', 'random');
    this.backedBytes = Math.ceil((this.entries * this.entrySize) / PAGE_SIZE) * PAGE_SIZE;
    this.writable = true;
  }

  /** Gives storage to the pages up to `end` (see `backedBytes`). */
  private back(end: number): void {
    const to = Math.min(Math.ceil(end / PAGE_SIZE) * PAGE_SIZE, (this.map as Buffer).length);
    for (let p = this.backedBytes; p < to; ) p += fs.writeSync(this.fd, ZERO_PAGE, 0, Math.min(ZERO_PAGE.length, to - p), p);
    this.backedBytes = to;
  }

  /** The bytes of the valid entries (maps a sealed file read-only on first use). */
  buffer(): Buffer {
    if (!this.map) {
      const bytes = this.entries * this.entrySize;
      if (bytes === 0) return Buffer.alloc(0);
      const fd = fs.openSync(this.file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size < bytes) this.entries = Math.floor(size / this.entrySize);
        this.map = mapFile(fd, Math.min(size, bytes), 'r', 'random'); // binary searches: no readahead
      } finally {
        fs.closeSync(fd);
      }
    }
    return this.map;
  }

  appendOffsetEntry(relOffset: number, position: number): void {
    const m = this.map as Buffer;
    const p = this.entries * OFFSET_INDEX_ENTRY;
    if (p + OFFSET_INDEX_ENTRY > this.backedBytes) this.back(p + OFFSET_INDEX_ENTRY);
    m.writeInt32BE(relOffset, p);
    m.writeInt32BE(position, p + 4);
    this.entries++;
  }

  appendTimeEntry(timestamp: bigint, relOffset: number): void {
    const m = this.map as Buffer;
    const p = this.entries * TIME_INDEX_ENTRY;
    if (p + TIME_INDEX_ENTRY > this.backedBytes) this.back(p + TIME_INDEX_ENTRY);
    m.writeBigInt64BE(timestamp, p);
    m.writeInt32BE(relOffset, p + 8);
    this.entries++;
  }

  /** Keeps the first `n` entries; the dropped ones are zeroed so a crash cannot resurrect them. */
  truncateEntries(n: number): void {
    if (n >= this.entries) return;
    if (!this.writable) throw new Error(`index ${this.file} is not writable`);
    (this.map as Buffer).fill(0, n * this.entrySize, this.entries * this.entrySize);
    this.entries = n;
  }

  sync(): void {
    if (this.fd >= 0) fdatasyncFd(this.fd, this.file);
  }

  /**
   * Stops writing: trims the file to its entries and drops the writable mapping (never touched again; the
   * addon unmaps it on GC). Readers only look at entries below what was published, all below the new size.
   * Without `sync` the caller makes the file durable later (a roll syncs sealed files off the append path).
   */
  seal(sync = true): void {
    if (!this.writable) return;
    this.map = null;
    fs.ftruncateSync(this.fd, this.entries * this.entrySize);
    if (sync) fdatasyncFd(this.fd, this.file);
    fs.closeSync(this.fd);
    this.fd = -1;
    this.writable = false;
  }

  /** Drops the mapping (letting go of the file at once) and descriptor without trimming (before deleting or renaming the file). */
  release(): void {
    releaseMapping(this.map);
    this.map = null;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.writable = false;
  }
}

// ---- lookups over raw index bytes (shared by the owner and readers in other threads) ----

/**
 * Position to start scanning for `relTarget` in an offset index: the position of the last entry whose relative
 * offset is <= relTarget and whose position is below `maxPosition`, or 0. Entries map a batch's last offset to
 * the batch's start, so the batch holding relTarget starts at or after the returned position.
 */
export function lookupOffsetIndex(buf: Buffer, entries: number, relTarget: number, maxPosition = Infinity): number {
  let lo = 0;
  let hi = Math.min(entries, Math.floor(buf.length / OFFSET_INDEX_ENTRY)) - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (buf.readInt32BE(mid * OFFSET_INDEX_ENTRY) <= relTarget) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // a reader may see index entries published slightly ahead of the size: skip those
  while (found >= 0) {
    const pos = buf.readInt32BE(found * OFFSET_INDEX_ENTRY + 4);
    if (pos < maxPosition) return pos;
    found--;
  }
  return 0;
}

/** Relative offset of the last time index entry whose timestamp is strictly below `ts`, or -1. */
export function lookupTimeIndexBelow(buf: Buffer, entries: number, ts: bigint): number {
  let lo = 0;
  let hi = Math.min(entries, Math.floor(buf.length / TIME_INDEX_ENTRY)) - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (buf.readBigInt64BE(mid * TIME_INDEX_ENTRY) < ts) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? -1 : buf.readInt32BE(found * TIME_INDEX_ENTRY + 8);
}

/** Checks an offset index is usable: strictly increasing offsets and positions, all positions below logSize. */
export function checkOffsetIndex(buf: Buffer, entries: number, logSize: number): string | null {
  let prevRel = -1;
  let prevPos = -1;
  for (let i = 0; i < entries; i++) {
    const rel = buf.readInt32BE(i * OFFSET_INDEX_ENTRY);
    const pos = buf.readInt32BE(i * OFFSET_INDEX_ENTRY + 4);
    if (rel <= prevRel || pos <= prevPos || pos < 0) return `entry ${i} (${rel} → ${pos}) is not sorted`;
    if (pos >= logSize) return `entry ${i} points to position ${pos}, beyond the log size ${logSize}`;
    prevRel = rel;
    prevPos = pos;
  }
  return null;
}

/** Checks a time index: timestamps and relative offsets strictly increasing, offsets below maxRel. */
export function checkTimeIndex(buf: Buffer, entries: number, maxRel: number): string | null {
  let prevTs = -(2n ** 63n);
  let prevRel = -1;
  for (let i = 0; i < entries; i++) {
    const ts = buf.readBigInt64BE(i * TIME_INDEX_ENTRY);
    const rel = buf.readInt32BE(i * TIME_INDEX_ENTRY + 8);
    if (ts <= prevTs || rel < prevRel || rel < 0) return `entry ${i} (${ts} → ${rel}) is not sorted`;
    if (rel > maxRel) return `entry ${i} points to relative offset ${rel}, beyond the segment's last offset`;
    prevTs = ts;
    prevRel = rel;
  }
  return null;
}
