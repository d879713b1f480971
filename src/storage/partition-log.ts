/**
 * The owner-side API of one partition's log: the single writer of its directory. Synchronous by design: the
 * owner thread batches appends and calls `flush()` once per burst (group commit).
 *
 * Publication protocol (PartitionSharedState): bytes are written first, then the active segment's size and
 * index entry count, then the offsets. Changes to the set of segments run inside a seqlock on
 * `segmentsEpoch`: it is odd while the owner swaps its segment list and active-segment fields, even otherwise;
 * readers retry while it is odd or when it changed during their snapshot, and re-list the directory when it
 * moved. Files are created before that window and trimmed before it, so the window is only a few µs.
 *
 * Truncation rule (SIGBUS safety): no file is ever shrunk below a position a reader may touch. Trim-at-roll and
 * trim-at-close shrink the active segment to its real size (readers only touch below the published size).
 * `truncateTo` lowers the high watermark and log end first, then zero-fills the cut bytes in place without
 * shrinking, and unlinks whole segments above the target (an unlinked file stays valid for existing mappings).
 * Readers that took their snapshot before the truncation may return bytes being zeroed (as Kafka, a fetch
 * racing a follower truncation can see data that is then removed); nothing can crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SluiceError } from '../errors.js';
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  BASE_SEQUENCE_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  type BatchHeader,
} from '../record/batch-header.js';
import { validateLogConfig } from './config.js';
import {
  CLEANER_CHECKPOINT_FILE,
  DELETED_SUFFIX,
  LEADER_EPOCH_FILE,
  LOG_START_FILE,
  fsyncDir,
  listSegmentBases,
  readOffsetCheckpoint,
  unlinkIfExists,
  writeOffsetCheckpoint,
} from './files.js';
import { LeaderEpochCache, type EpochEndOffset, type EpochEntry } from './leader-epoch.js';
import { TIME_INDEX_ENTRY } from './offset-index.js';
import { PartitionReader } from './partition-reader.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, ProducerStateManager, type ProducerBatchFields } from './producer-state.js';
import {
  cleanupLeftovers,
  emptyReport,
  recoverSegments,
  scanSegment,
  type CorruptionPolicy,
} from './recovery.js';
import { DelayedDeletes, selectSegmentsToDelete } from './retention.js';
import { clean, cleanSteps, type CleanableLog, type CleanOptions, type CleanStats } from './cleaner.js';
import { LogSegment, MAX_RELATIVE_OFFSET, type IoMode } from './segment.js';
import { RecoveryPoint } from './recovery-point.js';
import { PartitionSharedState } from './shared-state.js';
import { offsetForTimestamp } from './time-lookup.js';
import type { AppendInfo, Clock, LogConfig, LogSink, ReadOptions, ReadResult, RecoveryReport, TimestampOffset } from './types.js';

export interface PartitionLogOptions {
  /** The partition directory (created if missing). */
  dir: string;
  config: LogConfig;
  /** Where offsets and active-segment bounds are published; default: a standalone state. */
  state?: PartitionSharedState;
  clock?: Clock;
  sink?: LogSink;
  /** How appends reach the active segment: positioned writes (default) or a read/write mapping. */
  ioMode?: IoMode;
  /** High watermark follows the log end offset (single node). Default true. */
  autoHighWatermark?: boolean;
  /** What to do when a segment before the last one holds invalid data after a crash. Default 'refuse'. */
  onCorruption?: CorruptionPolicy;
  /** Unclean open: validate every segment, not just those after the recovery point (an fsck). */
  fullRecovery?: boolean;
  /** producer.id.expiration.ms: idempotent producers idle this long are forgotten. Default 1 day. */
  producerIdExpirationMs?: number;
}

export interface AppendOptions {
  /** Leader path: set consecutive base offsets. Follower path (false): offsets must follow the log. */
  assignOffsets: boolean;
  /** Written into every batch's partitionLeaderEpoch (leader path) and recorded in the epoch cache. */
  leaderEpoch?: number;
}

export interface DeleteSegmentsResult {
  deletedSegments: number;
  deletedBytes: number;
  logStartOffset: bigint;
}

/** `scanBatches` callback; return false to stop. `segmentBaseOffset` names the file holding the batch. */
export type BatchScanCallback = (header: BatchHeader, position: number, segmentBaseOffset: bigint) => boolean | void;

/**
 * Measured (bench/storage-append.ts, 64 KiB batches into a fresh preallocated segment): a memcpy into a
 * MAP_SHARED mapping pays a page fault + zero-fill per new 4 KiB page and ran at ~0.5x a plain sequential
 * fs.writeSync, while positioned writes ran at ~1.0-1.2x. A full disk also surfaces as ENOSPC with pwrite but
 * as SIGBUS with a mapping. Reads and indexes stay memory-mapped either way.
 */
export const DEFAULT_IO_MODE: IoMode = 'pwrite';

const NOOP_SINK: LogSink = { info() {}, warn() {}, error() {} };

export class PartitionLog implements CleanableLog {
  readonly dir: string;
  readonly state: PartitionSharedState;
  readonly clock: Clock;
  readonly sink: LogSink;
  readonly ioMode: IoMode;
  readonly recoveryReport: RecoveryReport;
  /** Oldest first; the last one is active. */
  private segs: LogSegment[];
  private _config: LogConfig;
  private _logStart: bigint;
  private _leo: bigint;
  private _hw: bigint;
  private autoHw: boolean;
  private _size: number;
  private _unflushed = 0;
  private _lastFlush: number;
  private closed = false;
  private failed: Error | null = null;
  private readonly delayedDeletes = new DelayedDeletes();
  /** The recovery point and the rolled segments it waits for (see `rollTo`). */
  private readonly recoveryPoint: RecoveryPoint;
  private readonly epochs: LeaderEpochCache;
  private _reader: PartitionReader | null = null;
  /** First offset not yet cleaned by compaction (cleaner-offset-checkpoint). */
  private _cleanerCheckpoint: bigint;
  /**
   * Idempotent producers of this partition. The log records every batch it appends and keeps the state and its
   * snapshots consistent with rolls, truncation and the log start; the owner checks batches against it first.
   */
  readonly producerState: ProducerStateManager;

  private constructor(o: PartitionLogOptions, segments: LogSegment[], report: RecoveryReport, epochs: LeaderEpochCache) {
    this.dir = o.dir;
    this.state = o.state ?? PartitionSharedState.standalone();
    this.clock = o.clock ?? Date.now;
    this.sink = o.sink ?? NOOP_SINK;
    this.ioMode = o.ioMode ?? DEFAULT_IO_MODE;
    this._config = o.config;
    this.autoHw = o.autoHighWatermark ?? true;
    this.segs = segments;
    this.recoveryReport = report;
    this.epochs = epochs;
    this._size = segments.reduce((n, s) => n + s.size, 0);
    this._leo = this.active.nextOffset;
    const first = (segments[0] as LogSegment).baseOffset;
    const lsCk = readOffsetCheckpoint(path.join(this.dir, LOG_START_FILE));
    this._logStart = lsCk !== null && lsCk > first ? (lsCk < this._leo ? lsCk : this._leo) : first;
    this._hw = this.autoHw ? this._leo : this._logStart;
    this._lastFlush = this.clock();
    const cc = readOffsetCheckpoint(path.join(this.dir, CLEANER_CHECKPOINT_FILE));
    this._cleanerCheckpoint = cc !== null && cc > this._logStart ? cc : this._logStart;
    this.recoveryPoint = new RecoveryPoint(this.dir, this.sink, () => !this.closed && !this.failed);
    this.producerState = new ProducerStateManager(this.dir, o.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS, this.sink);
  }

  /** Opens (or creates) the partition directory, recovers it if needed, and publishes its state. */
  static open(o: PartitionLogOptions): PartitionLog {
    validateLogConfig(o.config);
    const dir = o.dir;
    const sink = o.sink ?? NOOP_SINK;
    const clock = o.clock ?? Date.now;
    const ioMode = o.ioMode ?? DEFAULT_IO_MODE;
    fs.mkdirSync(dir, { recursive: true });
    const clean = RecoveryPoint.hasCleanShutdownMarker(dir);
    const report = emptyReport(clean);
    cleanupLeftovers(dir, sink, report);
    const config = o.config;
    let bases = listSegmentBases(dir);
    const fresh = bases.length === 0;
    let segments: LogSegment[];
    if (fresh) {
      const start = readOffsetCheckpoint(path.join(dir, LOG_START_FILE)) ?? 0n;
      segments = [LogSegment.create(dir, start, config.segmentBytes, config.segmentIndexBytes, ioMode, clock())];
      bases = [start];
    } else {
      segments = bases.map((b) => LogSegment.openExisting(dir, b));
      // a clean shutdown is no proof the files were not changed since: the cheap check runs on every open
      const rp = o.fullRecovery && !clean ? -1n : RecoveryPoint.read(dir) ?? -1n;
      segments = recoverSegments({
        dir,
        segments,
        clean,
        recoveryPoint: rp,
        cleanEndOffset: clean ? RecoveryPoint.cleanShutdownEnd(dir) : null,
        indexIntervalBytes: config.indexIntervalBytes,
        segmentIndexBytes: config.segmentIndexBytes,
        onCorruption: o.onCorruption ?? 'refuse',
        sink,
        report,
      });
      const last = segments[segments.length - 1] as LogSegment;
      last.activate(config.segmentBytes, config.segmentIndexBytes, ioMode, clock());
      // everything now on disk was validated and the scanned segments synced: the next crash rescans less
      if (!clean || report.truncatedBytes > 0 || report.corruptions.length > 0 || (rp >= 0n && rp > last.nextOffset)) {
        fsyncDir(dir);
        RecoveryPoint.write(dir, last.baseOffset);
      }
    }
    // the marker goes only now: if this open crashes, the next one must still treat the directory as clean
    if (clean) RecoveryPoint.removeCleanShutdownMarker(dir);
    const epochs = LeaderEpochCache.load(path.join(dir, LEADER_EPOCH_FILE));
    const log = new PartitionLog({ ...o, sink, clock, ioMode }, segments, report, epochs);
    epochs.truncateFromEnd(log._leo);
    epochs.truncateFromStart(log._logStart);
    report.logEndOffset = log._leo;
    if (report.actions.length) sink.info({ dir, report: report.actions }, clean ? 'opened partition log' : 'recovered partition log');
    log.loadProducerState();
    log.publishSegmentsChange(() => {});
    log.publishOffsets();
    return log;
  }

  // ------------------------------------------------------------------ accessors

  get config(): LogConfig {
    return this._config;
  }
  get logStartOffset(): bigint {
    return this._logStart;
  }
  get logEndOffset(): bigint {
    return this._leo;
  }
  get highWatermark(): bigint {
    return this._hw;
  }
  /** Transactional batches are refused (record/validate.ts): every offset below the high watermark is stable. */
  get lastStableOffset(): bigint {
    return this._hw;
  }
  get sizeInBytes(): number {
    return this._size;
  }
  get unflushedMessages(): number {
    return this._unflushed;
  }
  get lastFlushTime(): number {
    return this._lastFlush;
  }
  /** Oldest first; the last one is active. */
  get segments(): readonly LogSegment[] {
    return this.segs;
  }
  get cleanerCheckpoint(): bigint {
    return this._cleanerCheckpoint;
  }
  get activeSegment(): LogSegment {
    return this.active;
  }
  /** Rolled segments whose background sync has not finished (the recovery point waits for them). */
  get pendingRolledSyncs(): number {
    return this.recoveryPoint.pendingSyncs;
  }
  get leaderEpochEntries(): readonly EpochEntry[] {
    return this.epochs.entries;
  }
  get latestEpoch(): number {
    return this.epochs.latestEpoch;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** The I/O error after which this log refuses writes, or null. */
  get failure(): Error | null {
    return this.failed;
  }

  /** A reader over this log (maps files itself, as a reader in another thread would). */
  get reader(): PartitionReader {
    if (!this._reader) this._reader = new PartitionReader(this.dir, this.state);
    return this._reader;
  }

  /** Reads from the owner thread (same semantics as PartitionReader.read). */
  read(offset: bigint, opts: ReadOptions): ReadResult {
    return this.reader.read(offset, opts);
  }

  private get active(): LogSegment {
    return this.segs[this.segs.length - 1] as LogSegment;
  }

  /** Throws the STORAGE (or CLOSED) error an append would: lets callers refuse before consulting other state. */
  ensureWritable(): void {
    if (this.closed) throw new SluiceError('CLOSED', `partition log ${this.dir} is closed`);
    if (this.failed) throw new SluiceError('STORAGE', `partition log ${this.dir} failed earlier: ${this.failed.message}`, { cause: this.failed });
  }

  /** Runs `fn` and turns I/O failures into STORAGE errors; the log refuses further writes after one. */
  private io<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SluiceError) throw e;
      this.failed = e as Error;
      this.sink.error({ dir: this.dir, err: String(e) }, `storage failure during ${what}`);
      throw new SluiceError('STORAGE', `${what} failed in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  // ------------------------------------------------------------------ publication

  private publishOffsets(): void {
    this.state.publishOffsets(this._logStart, this._leo, this._hw, this.lastStableOffset);
  }

  /** Seqlock around a change of the segment list (see the module comment). */
  private publishSegmentsChange(mutate: () => void): void {
    if (this.state.segmentsEpoch & 1) this.state.bumpSegmentsEpoch(); // a previous owner died mid-change
    this.state.bumpSegmentsEpoch();
    try {
      mutate();
    } finally {
      const a = this.active;
      this.state.publishActive(a.baseOffset, a.size, a.offsetIndex.entries);
      this.state.bumpSegmentsEpoch();
    }
  }

  /** Replication: sets the high watermark (clamped to [logStart, LEO]). */
  setHighWatermark(offset: bigint): void {
    let hw = offset > this._leo ? this._leo : offset;
    if (hw < this._logStart) hw = this._logStart;
    this._hw = hw;
    this.publishOffsets();
  }

  /** Applies a new config (topic config change). Index/segment sizes apply from the next roll. */
  updateConfig(config: LogConfig): void {
    validateLogConfig(config);
    this._config = config;
  }

  // ------------------------------------------------------------------ append

  /**
   * Appends one or more concatenated, already validated RecordBatch v2 buffers. With `assignOffsets` the
   * batches are patched in place (base offset, leader epoch; LogAppendTime topics get the append time and a
   * new CRC) — the caller's buffer is modified. Without it (follower) base offsets must be increasing and not
   * below the log end (gaps are allowed: a compacted leader's log has them).
   */
  append(batches: Buffer, opts: AppendOptions): AppendInfo {
    const out: (AppendInfo | Error)[] = [];
    this.appendMany([batches], opts, out);
    const r = out[0] as AppendInfo | Error;
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * Appends several entries (each one or more concatenated batches, as for `append`) in order, with one
   * vectored write per segment touched instead of one write per entry (the buffers are not copied). Each
   * entry gets its own result in `out`: its AppendInfo, or the validation error that rejected it alone
   * (nothing of it is written). Returns how many entries it consumed (the caller passes the rest again): a
   * call stops before an entry that holds several batches or that would roll the active segment, unless it is
   * the call's first entry, and stops after an entry that rolled, so a roll or a multi-batch entry always gets
   * a call of its own, exactly as with `append`. Throws (for all the entries of the call) when the log is
   * closed or failed, or on an I/O error, after which the log refuses writes.
   */
  appendMany(entries: readonly Buffer[], opts: AppendOptions, out: (AppendInfo | Error)[]): number {
    this.ensureWritable();
    const cfg = this._config;
    const assign = opts.assignOffsets;
    // pass 1: check every entry before writing anything; a bad entry is rejected alone
    const valid: boolean[] = [];
    const counts: number[] = [];
    let expected = this._leo;
    let anyValid = false;
    for (const batches of entries) {
      const len = batches.length;
      let pos = 0;
      let exp = expected;
      let recordCount = 0;
      let batchCount = 0;
      let err: Error | null = null;
      while (pos < len) {
        if (pos + BATCH_HEADER_SIZE > len) {
          err = new SluiceError('CORRUPT_RECORD', `truncated batch at byte ${pos} of the append`);
          break;
        }
        const size = batches.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
        if (size < BATCH_HEADER_SIZE || pos + size > len) {
          err = new SluiceError('CORRUPT_RECORD', `bad batch length at byte ${pos} of the append`);
          break;
        }
        if (size > cfg.maxMessageBytes) {
          err = new SluiceError('RECORD_TOO_LARGE', `batch of ${size} bytes exceeds max.message.bytes ${cfg.maxMessageBytes}`);
          break;
        }
        const delta = batches.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
        if (delta < 0) {
          err = new SluiceError('CORRUPT_RECORD', `negative lastOffsetDelta at byte ${pos} of the append`);
          break;
        }
        if (!assign) {
          const base = batches.readBigInt64BE(pos);
          if (base < exp) {
            err = new SluiceError('INVALID_ARGUMENT', `batch base offset ${base} is below the expected offset ${exp} (log end ${this._leo})`);
            break;
          }
          exp = base + BigInt(delta) + 1n;
        }
        recordCount += batches.readInt32BE(pos + RECORD_COUNT_OFFSET);
        batchCount++;
        pos += size;
      }
      if (err === null && batchCount === 0) err = new SluiceError('INVALID_ARGUMENT', 'append needs at least one batch');
      out.push(err as Error);
      valid.push(err === null);
      counts.push(recordCount);
      if (err === null) {
        expected = exp;
        anyValid = true;
      }
    }
    if (!anyValid) return entries.length;

    return this.io('append', () => {
      const now = this.clock();
      // followers keep the leader's timestamps: only the leader path stamps LogAppendTime
      const logAppendTime = assign && cfg.messageTimestampType === 'LogAppendTime' ? BigInt(now) : -1n;
      const epoch = opts.leaderEpoch;
      let next = this._leo;
      let seg = this.active;
      // bytes laid out for `seg` but not yet written: whole subarrays of the entries, written by one writev
      const pending: Buffer[] = [];
      let pendingBytes = 0;
      let consumed = entries.length;
      let firstOfAll = -1n;
      let processed = 0;
      // Producer state learns of a batch only once its bytes are written: a batch whose write failed must not be
      // taken for a duplicate when the producer retries it (it would be acknowledged with offsets holding nothing).
      const produced: { h: ProducerBatchFields; base: bigint }[] = [];
      for (let i = 0; i < entries.length; i++) {
        if (!valid[i]) continue;
        const batches = entries[i] as Buffer;
        const len = batches.length;
        if (processed > 0) {
          // Rolls and multi-batch entries only ever come first in a call (the call then holds just that entry):
          // stop before an entry that is not a single batch, or whose batch does not belong in `seg`.
          const size = batches.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
          const base = assign ? next : batches.readBigInt64BE(0);
          const last = base + BigInt(batches.readInt32BE(LAST_OFFSET_DELTA_OFFSET));
          if (size !== len || this.shouldRoll(seg, seg.size + pendingBytes, size, base, last, batches.readBigInt64BE(MAX_TIMESTAMP_OFFSET), now)) {
            consumed = i;
            break;
          }
        }
        processed++;
        let firstOffset = -1n;
        let maxTimestamp = -1n;
        let rolled = false;
        let runStart = 0; // start (in `batches`) of the bytes not yet laid out for `seg`
        for (let p = 0; p < len; ) {
          const size = batches.readInt32BE(p + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
          const delta = batches.readInt32BE(p + LAST_OFFSET_DELTA_OFFSET);
          let base: bigint;
          if (assign) {
            base = next;
            setBaseOffset(batches, p, base);
            if (epoch !== undefined) setPartitionLeaderEpoch(batches, p, epoch);
          } else {
            base = batches.readBigInt64BE(p);
          }
          if (logAppendTime >= 0n) setLogAppendTime(batches, p, logAppendTime);
          const last = base + BigInt(delta);
          const batchMaxTs = batches.readBigInt64BE(p + MAX_TIMESTAMP_OFFSET);
          if (firstOffset < 0n) firstOffset = base;
          if (!assign) {
            const be = batches.readInt32BE(p + PARTITION_LEADER_EPOCH_OFFSET);
            if (be > this.epochs.latestEpoch) this.epochs.assign(be, base);
          }
          // roll before this batch if it does not belong in the active segment
          const bytesInSeg = seg.size + pendingBytes + (p - runStart);
          if (this.shouldRoll(seg, bytesInSeg, size, base, last, batchMaxTs, now)) {
            if (p > runStart) pending.push(batches.subarray(runStart, p));
            seg.writev(pending);
            pending.length = 0;
            pendingBytes = 0;
            seg = this.rollTo(base, size);
            rolled = true;
            runStart = p;
          } else if (!seg.hasRoom(bytesInSeg - seg.size + size)) {
            // a single batch larger than segment.bytes in an empty segment: grow the preallocation
            if (p > runStart) pending.push(batches.subarray(runStart, p));
            seg.writev(pending);
            pending.length = 0;
            pendingBytes = 0;
            runStart = p;
            seg.grow(seg.size + size);
          }
          seg.indexBatch(seg.size + pendingBytes + (p - runStart), size, last, batchMaxTs, cfg.indexIntervalBytes);
          if (batchMaxTs > maxTimestamp) maxTimestamp = batchMaxTs;
          next = last + 1n;
          const producerId = batches.readBigInt64BE(p + PRODUCER_ID_OFFSET);
          if (producerId >= 0n) {
            produced.push({
              h: {
                producerId,
                producerEpoch: batches.readInt16BE(p + PRODUCER_EPOCH_OFFSET),
                baseSequence: batches.readInt32BE(p + BASE_SEQUENCE_OFFSET),
                lastOffsetDelta: delta,
              },
              base,
            });
          }
          p += size;
        }
        if (len > runStart) {
          pending.push(runStart === 0 ? batches : batches.subarray(runStart, len));
          pendingBytes += len - runStart;
        }
        if (firstOfAll < 0n) firstOfAll = firstOffset;
        this._size += len;
        this._unflushed += counts[i] as number;
        out[i] = { firstOffset, lastOffset: next - 1n, logAppendTime, maxTimestamp, recordCount: counts[i] as number, size: len };
        if (rolled) {
          consumed = i + 1;
          break;
        }
      }
      seg.writev(pending);
      for (const u of produced) this.producerState.update(u.h, u.base, BigInt(now));
      if (assign && epoch !== undefined && epoch > this.epochs.latestEpoch) this.epochs.assign(epoch, firstOfAll);
      this._leo = next;
      if (this._unflushed >= cfg.flushMessages || now - this._lastFlush >= cfg.flushMs) this.flush();
      if (this.autoHw) this._hw = next;
      this.state.publishActive(seg.baseOffset, seg.size, seg.offsetIndex.entries);
      this.publishOffsets();
      return consumed;
    });
  }

  private shouldRoll(seg: LogSegment, segSize: number, size: number, base: bigint, last: bigint, maxTs: bigint, now: number): boolean {
    const cfg = this._config;
    if (last - seg.baseOffset > BigInt(MAX_RELATIVE_OFFSET) || base < seg.baseOffset) return true;
    if (segSize === 0) return false;
    return (
      segSize + size > cfg.segmentBytes ||
      seg.indexFull ||
      seg.timeWaitedForRoll(now, maxTs) > cfg.segmentMs
    );
  }

  /**
   * Makes every appended byte durable: one fdatasync of the active .log (covers the shared mapping's pages),
   * after the segments sealed by rolls whose background sync has not finished yet.
   */
  flush(): void {
    this.ensureWritable();
    this.io('flush', () => {
      this.recoveryPoint.syncNow();
      if (this._unflushed > 0) this.active.syncData();
      this._unflushed = 0;
      this._lastFlush = this.clock();
    });
  }

  /** Rolls to a new segment at the log end offset (no-op if the active segment is empty). */
  roll(): void {
    this.ensureWritable();
    if (this.active.size === 0) return;
    this.io('roll', () => {
      this.rollTo(this._leo, 0);
      this.state.publishActive(this.active.baseOffset, this.active.size, this.active.offsetIndex.entries);
    });
  }

  /** Seals the active segment and starts one at `base`; an empty active segment is replaced instead. */
  private rollTo(base: bigint, firstBatchSize: number): LogSegment {
    const cfg = this._config;
    const old = this.active;
    const now = this.clock();
    const oldEmpty = old.size === 0;
    // Trim now (before readers can see the new segment); the fdatasync of up to segment.bytes of dirty data
    // runs in the background (measured: 1.3 s for a 1 GiB segment, during which the owner appended nothing).
    // flush() and close() finish it synchronously, so a flush policy's guarantee is unchanged.
    if (!oldEmpty) old.seal(false);
    if (oldEmpty) old.release();
    const created = LogSegment.create(this.dir, base, Math.max(cfg.segmentBytes, firstBatchSize), cfg.segmentIndexBytes, this.ioMode, now);
    this.publishSegmentsChange(() => {
      if (oldEmpty) this.segs.pop();
      this.segs.push(created);
    });
    if (oldEmpty && old.baseOffset !== base) {
      for (const f of [old.logFile, old.offsetIndex.file, old.timeIndex.file]) unlinkIfExists(f);
    }
    if (!oldEmpty) {
      // the producer state of the log below the new segment (Kafka snapshots at every roll)
      this.producerState.snapshot(base);
      // once synced, everything below the new segment can be skipped by recovery after a crash
      this.recoveryPoint.syncInBackground(old.files, base);
      this.sink.info({ dir: this.dir, segment: old.baseOffset.toString(), bytes: old.size }, 'rolled segment');
    }
    this.delayedDeletes.removeExpired(now);
    return created;
  }

  // ------------------------------------------------------------------ truncation

  /**
   * Replication: removes every offset >= `offset`. A batch containing `offset` goes entirely, and the log then
   * ends at that batch's base offset (Kafka would claim `offset` and leave a hole). Lowers the high watermark
   * and log end first. No-op if offset >= log end.
   */
  truncateTo(offset: bigint): void {
    this.ensureWritable();
    if (offset >= this._leo) return;
    if (offset < this._logStart) {
      this.truncateFullyAndStartAt(offset);
      return;
    }
    this.io('truncate', () => {
      // rolled segments become durable first: a late background sync must not move the recovery point
      // past the cut
      this.recoveryPoint.syncNow();
      const cfg = this._config;
      if (this._hw > offset) this._hw = offset;
      this._leo = offset;
      this.publishOffsets(); // readers stop before the cut from now on
      let keepIdx = 0;
      for (let i = this.segs.length - 1; i >= 0; i--) {
        if ((this.segs[i] as LogSegment).baseOffset <= offset) {
          keepIdx = i;
          break;
        }
      }
      const target = this.segs[keepIdx] as LogSegment;
      const removed = this.segs.slice(keepIdx + 1);
      const oldActive = this.active;
      if (target !== oldActive) {
        // the target segment becomes active again: re-grow its preallocation (growing is always safe)
        target.nextOffset = -1n;
        oldActive.release();
        target.activate(cfg.segmentBytes, cfg.segmentIndexBytes, this.ioMode, this.clock());
      }
      const cut = target.positionOf(offset);
      // a cut inside a batch removes the whole batch: the log then ends at that batch's base offset
      if (cut < target.size) {
        const cutBase = target.batchAt(cut).baseOffset;
        if (cutBase < offset) offset = cutBase > target.baseOffset ? cutBase : target.baseOffset;
      }
      const oldSize = target.size;
      target.zeroRange(cut, oldSize);
      target.size = cut;
      // rebuild the target's indexes over what stays (rare: header reads only)
      const view = target.view();
      const scan = scanSegment(view, cut, target.baseOffset, target.baseOffset - 1n, cfg.indexIntervalBytes, cfg.segmentIndexBytes);
      this.rewriteActiveIndexes(target, scan.builder.finish(false));
      target.resetTimeBookkeeping(scan.builder.maxTimestamp, scan.builder.offsetOfMaxTimestamp);
      target.firstBatchTimestamp = scan.builder.firstBatchTimestamp;
      target.nextOffset = offset;
      if (this._hw > offset) this._hw = offset;
      this._leo = offset;
      this.publishSegmentsChange(() => {
        this.segs.length = keepIdx + 1;
        for (const s of removed) {
          s.release();
          for (const f of [s.logFile, s.offsetIndex.file, s.timeIndex.file]) unlinkIfExists(f);
        }
      });
      this._size = this.segs.reduce((n, s) => n + s.size, 0);
      this.publishOffsets();
      target.sync();
      fsyncDir(this.dir);
      if (removed.length) this.recoveryPoint.write(target.baseOffset);
      if (this._cleanerCheckpoint > offset) this.writeCleanerCheckpoint(offset);
      this.epochs.truncateFromEnd(offset);
      this.loadProducerState(); // snapshots above the cut go; the state is rebuilt for what is left
      this.sink.info({ dir: this.dir, offset: offset.toString(), bytes: oldSize - cut, segments: removed.length }, 'truncated log');
    });
  }

  /** Replaces the active segment's index contents in place (entries rewritten through its mapping). */
  private rewriteActiveIndexes(seg: LogSegment, built: { offsetIndex: Buffer; timeIndex: Buffer }): void {
    seg.offsetIndex.truncateEntries(0);
    seg.timeIndex.truncateEntries(0);
    for (let p = 0; p < built.offsetIndex.length; p += 8) seg.offsetIndex.appendOffsetEntry(built.offsetIndex.readInt32BE(p), built.offsetIndex.readInt32BE(p + 4));
    for (let p = 0; p < built.timeIndex.length; p += TIME_INDEX_ENTRY) seg.timeIndex.appendTimeEntry(built.timeIndex.readBigInt64BE(p), built.timeIndex.readInt32BE(p + 8));
    const lastPos = seg.offsetIndex.entries > 0 ? built.offsetIndex.readInt32BE(built.offsetIndex.length - 4) : 0;
    seg.bytesSinceLastIndexEntry = seg.size - lastPos;
  }

  /** Deletes every segment and starts an empty log at `offset` (follower far behind / ahead of the leader). */
  truncateFullyAndStartAt(offset: bigint): void {
    this.ensureWritable();
    this.io('truncateFully', () => {
      this.recoveryPoint.syncNow();
      const cfg = this._config;
      this._hw = offset;
      this._leo = offset;
      this._logStart = offset;
      const old = this.segs;
      for (const s of old) s.release();
      // files of the old segments go first (the new segment may reuse a base offset's name)
      for (const s of old) for (const f of [s.logFile, s.offsetIndex.file, s.timeIndex.file]) unlinkIfExists(f);
      const created = LogSegment.create(this.dir, offset, cfg.segmentBytes, cfg.segmentIndexBytes, this.ioMode, this.clock());
      this.publishSegmentsChange(() => {
        this.segs = [created];
        this.publishOffsets(); // the new log start inside the window (see deleteOldSegments)
      });
      this._size = 0;
      fsyncDir(this.dir);
      writeOffsetCheckpoint(path.join(this.dir, LOG_START_FILE), offset);
      this.recoveryPoint.write(offset);
      this.writeCleanerCheckpoint(offset);
      this.epochs.clear();
      this.producerState.truncateFully();
      this.publishOffsets();
      this.sink.info({ dir: this.dir, offset: offset.toString() }, 'truncated the whole log');
    });
  }

  // ------------------------------------------------------------------ retention

  /**
   * Kafka DeleteRecords: advances the log start offset to `offset` (which must be <= the high watermark) and
   * deletes segments entirely below it. Returns the new log start offset (the low watermark).
   */
  deleteRecordsBefore(offset: bigint): bigint {
    this.ensureWritable();
    if (offset > this._hw || offset < 0n) {
      throw new SluiceError('OFFSET_OUT_OF_RANGE', `cannot delete records before ${offset}: high watermark is ${this._hw}`);
    }
    if (offset <= this._logStart) return this._logStart;
    this.io('deleteRecords', () => {
      this._logStart = offset;
      writeOffsetCheckpoint(path.join(this.dir, LOG_START_FILE), offset);
      this.epochs.truncateFromStart(offset);
      if (this._cleanerCheckpoint < offset) this.writeCleanerCheckpoint(offset);
      this.producerState.onLogStartOffsetIncremented(offset, this._leo);
      this.publishOffsets();
    });
    this.deleteOldSegments(this.clock());
    return this._logStart;
  }

  /**
   * Retention: deletes the oldest segments breaching retention.ms (by their largest timestamp),
   * retention.bytes, or the log start offset — as Kafka, only segments entirely below the high watermark; if
   * every segment qualifies, a new empty active segment is rolled first. Files are renamed `.deleted` and
   * removed after file.delete.delay.ms.
   */
  deleteOldSegments(now: number = this.clock()): DeleteSegmentsResult {
    this.ensureWritable();
    return this.io('deleteOldSegments', () => {
      this.delayedDeletes.removeExpired(now);
      const n = selectSegmentsToDelete(this.segs, {
        config: this._config,
        now,
        highWatermark: this._hw,
        logEndOffset: this._leo,
        logStartOffset: this._logStart,
      });
      if (n === 0) return { deletedSegments: 0, deletedBytes: 0, logStartOffset: this._logStart };
      if (n === this.segs.length) this.rollTo(this._leo, 0);
      const doomed = this.segs.slice(0, n);
      const deletedBytes = doomed.reduce((b, s) => b + s.size, 0);
      const renamed: string[] = [];
      this.publishSegmentsChange(() => {
        this.segs = this.segs.slice(n);
        for (const s of doomed) renamed.push(...s.renameAll(DELETED_SUFFIX));
        const first = (this.segs[0] as LogSegment).baseOffset;
        if (first > this._logStart) this._logStart = first;
        this.publishOffsets(); // inside the window: readers never see the new segment list with the old log start
      });
      fsyncDir(this.dir);
      this._size -= deletedBytes;
      this.delayedDeletes.schedule(renamed, now + this._config.fileDeleteDelayMs);
      this.delayedDeletes.removeExpired(now);
      this.epochs.truncateFromStart(this._logStart);
      if (this._cleanerCheckpoint < this._logStart) this.writeCleanerCheckpoint(this._logStart);
      this.producerState.onLogStartOffsetIncremented(this._logStart, this._leo);
      this.publishOffsets();
      this.sink.info(
        { dir: this.dir, segments: doomed.map((s) => s.baseOffset.toString()), bytes: deletedBytes, logStartOffset: this._logStart.toString() },
        'deleted old segments',
      );
      return { deletedSegments: n, deletedBytes, logStartOffset: this._logStart };
    });
  }

  /** @internal CleanableLog: the cleaner moves the checkpoint through this. */
  writeCleanerCheckpoint(offset: bigint): void {
    this._cleanerCheckpoint = offset;
    writeOffsetCheckpoint(path.join(this.dir, CLEANER_CHECKPOINT_FILE), offset);
  }

  /**
   * @internal CleanableLog: the cleaner swaps cleaned segments in through this; `swapIn` renames files and
   * opens the replacement, inside the segments seqlock.
   */
  replaceSegments(oldSegs: readonly LogSegment[], swapIn: () => LogSegment): void {
    const first = this.segs.indexOf(oldSegs[0] as LogSegment);
    if (first < 0 || oldSegs.some((s, i) => this.segs[first + i] !== s) || first + oldSegs.length >= this.segs.length) {
      throw new SluiceError('STORAGE', 'segments changed while cleaning');
    }
    this.publishSegmentsChange(() => {
      this.segs.splice(first, oldSegs.length, swapIn());
    });
    this._size = this.segs.reduce((n, s) => n + s.size, 0);
  }

  /** @internal CleanableLog: files of segments the cleaner replaced, deleted after file.delete.delay.ms. */
  scheduleDelete(files: string[], now: number): void {
    this.delayedDeletes.schedule(files, now + this._config.fileDeleteDelayMs);
    this.delayedDeletes.removeExpired(now);
  }

  // ------------------------------------------------------------------ compaction

  /** Compacts the log synchronously (see cleaner.ts); null when there is nothing to do. */
  clean(now: number = this.clock(), opts: CleanOptions = {}): CleanStats | null {
    this.ensureWritable();
    return this.io('clean', () => clean(this, now, opts));
  }

  /** Compaction in steps: call next() between appends until done (never blocks appends for long). */
  cleanSteps(now: number = this.clock(), opts: CleanOptions = {}): Generator<void, CleanStats | null, void> {
    this.ensureWritable();
    return cleanSteps(this, now, opts);
  }

  // ------------------------------------------------------------------ leader epochs

  /** Records that `epoch` starts at `startOffset` (a new leader). */
  assignEpoch(epoch: number, startOffset: bigint): void {
    this.epochs.assign(epoch, startOffset);
  }

  /** OffsetsForLeaderEpoch: the largest epoch <= `epoch` and the offset where it ended. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this._leo);
  }

  // ------------------------------------------------------------------ producer state

  /** Rebuilds the producer state of the log as it is now (open, truncation). */
  private loadProducerState(): void {
    this.producerState.load(this._logStart, this._leo, this.clock(), (from, visit) => this.scanBatches(from, (h) => visit(h)));
  }

  /**
   * Forgets producers idle for producer.id.expiration.ms (the owner's maintenance) and snapshots the table
   * without them, so a reopen does not bring them back; returns how many went.
   */
  removeExpiredProducers(now: number = this.clock()): number {
    this.ensureWritable();
    const n = this.producerState.removeExpired(now);
    if (n > 0) this.io('snapshot producer state', () => this.producerState.snapshot(this._leo));
    return n;
  }

  // ------------------------------------------------------------------ lookups

  /** Visits batch headers from the batch containing `fromOffset` to the log end. */
  scanBatches(fromOffset: bigint, cb: BatchScanCallback): void {
    let i = this.segmentIndexFor(fromOffset);
    if (i < 0) i = 0;
    for (; i < this.segs.length; i++) {
      const seg = this.segs[i] as LogSegment;
      const view = seg.view();
      for (let pos = seg.positionOf(fromOffset); pos + BATCH_HEADER_SIZE <= seg.size; ) {
        const h = readBatchHeader(view, pos);
        if (cb(h, pos, seg.baseOffset) === false) return;
        pos += h.batchLength + LOG_OVERHEAD;
      }
    }
  }

  /** Index of the last segment whose base is <= offset, or -1. */
  private segmentIndexFor(offset: bigint): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.segs[mid] as LogSegment).baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * ListOffsets by timestamp: the first offset at or after the log start whose record timestamp is >= `ts`,
   * with that record's timestamp; null if none. (-1/-2 sentinels are the caller's.)
   */
  offsetForTimestamp(ts: bigint): TimestampOffset | null {
    return offsetForTimestamp(this.segs, this._logStart, ts);
  }

  // ------------------------------------------------------------------ close

  /** Flushes, trims the active segment and its indexes, and writes the clean-shutdown marker (last). */
  close(): void {
    if (this.closed) return;
    if (this.failed) {
      for (const s of this.segs) s.release();
      this.closed = true;
      this.state.markClosed();
      return;
    }
    this.io('close', () => {
      this.recoveryPoint.syncNow();
      const a = this.active;
      a.seal(); // trim + fdatasync; readers only touch below the published size
      for (const s of this.segs) s.release();
      this.delayedDeletes.removeAll();
      this.producerState.snapshot(this._leo); // a clean reopen replays nothing
      this.recoveryPoint.markCleanShutdown(this._leo);
    });
    this.closed = true;
    this._reader?.close();
    this._reader = null;
    this.state.markClosed();
  }

  /**
   * Closes a log whose files are about to be deleted, or reopened after a failure: nothing is written (no trim,
   * sync or marker, which a full disk would refuse), and every mapping lets go of its file at once (deleting
   * the files then frees their space).
   */
  discard(opts: { reopen?: boolean } = {}): void {
    if (this.closed) return;
    for (const s of this.segs) s.release();
    this._reader?.close(true);
    this._reader = null;
    // A log reopened in place refuses writes as failed (KAFKA_STORAGE_ERROR) from here on, and leaves its
    // shared state open: readers go on with the new log.
    if (opts.reopen) {
      this.failed ??= new Error('the log was reopened');
      return;
    }
    this.closed = true;
    this.state.markClosed();
  }
}
