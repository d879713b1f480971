/**
 * An owner: the single writer of the partitions assigned to it. `owner-worker.ts` runs one per worker thread;
 * a unit test can drive one directly (open partitions, write entries into its append ring, run `burst`).
 *
 * It sleeps on its append ring (Atomics.waitAsync, so its event loop stays free for control messages),
 * drains it in bursts — producer-state check, `log.append` per entry — then flushes each partition whose
 * flush policy asks for it (one fdatasync for all the entries of the burst: group commit), publishes offsets
 * (the PartitionLog does, through the partition's shared state) and writes completions into the completion
 * ring. acks=1 completions go out before the flush, acks=all ones as the partition's release policy says
 * (`AcksAllRelease`: today after the flush).
 */
import * as fs from 'node:fs';
import { SluiceError } from '../errors.js';
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  PRODUCER_ID_OFFSET,
  readBatchHeader,
} from '../record/batch-header.js';
import { NEVER } from '../storage/config.js';
import { type AppendOptions as LogAppendOptions, PartitionLog } from '../storage/partition-log.js';
import type { ProducerStateManager } from '../storage/producer-state.js';
import { PartitionSharedState } from '../storage/shared-state.js';
import type { AppendInfo, LogConfig, LogSink } from '../storage/types.js';
import { SharedManualClock, systemClock } from './clock.js';
import {
  ACKS_ALL,
  ACKS_NONE,
  type AcksAllRelease,
  COMPLETION_OK_BYTES,
  type OpenPartitionRequest,
  type OwnerInit,
  type OwnerLogMessage,
  type OwnerRequest,
  STATUS_OK,
  statusOf,
  toWireError,
  type WireError,
} from './owner-protocol.js';
import { RingConsumer, RingProducer } from './ring.js';
import { OwnerStatsWriter } from './owner-stats.js';

/** A completion held until its partition's flush decision (acks=all). */
interface HeldCompletion {
  reqId: number;
  base: bigint;
  last: bigint;
  appendTime: bigint;
}

class OwnedPartition {
  config: LogConfig;
  /** acks=all completions of the current burst. */
  held: HeldCompletion[] = [];
  touched = false;
  /** How this partition's appends are made: offsets assigned here, batches stamped with its leader epoch. */
  readonly appendOptions: LogAppendOptions;

  constructor(
    readonly slot: number,
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    /** Replaced when the partition returns to service after a storage failure (see `recoverFailed`). */
    public log: PartitionLog,
    readonly state: PartitionSharedState,
    config: LogConfig,
    leaderEpoch: number,
    /** When `held` completions may go out. */
    readonly acksAllRelease: AcksAllRelease,
  ) {
    this.config = config;
    this.appendOptions = { assignOffsets: true, leaderEpoch };
  }

  /** The log's producer state: batches are checked against it before they are appended. */
  get producers(): ProducerStateManager {
    return this.log.producerState;
  }
}

/** Where an owner's log lines go (the worker entry posts them to the engine thread). */
export type OwnerLogPost = (m: OwnerLogMessage) => void;

/**
 * Completions published since the engine thread was last woken are handed over every WAKE_EVERY entries of a
 * long burst (each wake-up costs both threads a trip through their event loops).
 */
const WAKE_EVERY = 32;
/**
 * After a write this large, completions go out at once: the engine refills the ring while the owner writes
 * the next group (batching them to the end of the burst left one thread idle while the other worked, and
 * halved 64 KiB appends). Small writes leave batching to WAKE_EVERY and the end of the burst.
 */
const WAKE_AFTER_BYTES = 256 * 1024;

/** Largest group of consecutive same-partition entries written by one vectored write. */
const GROUP_BYTES = 1 << 20;
const MAX_GROUP = 64;

/**
 * A partition whose log failed on a full disk (ENOSPC, or EDQUOT for a quota) refuses writes with
 * KAFKA_STORAGE_ERROR, and returns to service by itself: retries with back-off (RETRY_FIRST_MS doubling to
 * RETRY_MAX_MS) reopen the log in place once the file system has room again. The reopen is the crash-recovery
 * path — every batch after the recovery point re-validated, a torn tail cut — and then the log is cut back to
 * the end of the last append that succeeded: a write that failed half way leaves no batch behind, and every
 * acknowledged one is kept. Other I/O errors leave the partition failed until a restart, as before.
 */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;
/** Below this much free space a retry is not even tried. */
const RETRY_MIN_FREE_BYTES = 64 * 1024;

interface FailedPartition {
  p: OwnedPartition;
  /** Log end offset when the log failed: everything below it was written whole. */
  goodEnd: bigint;
  nextAttempt: number;
  delayMs: number;
}

function isDiskFull(e: Error | null): boolean {
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 4; depth++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    c = c.cause;
  }
  return false;
}

/**
 * Whether an entry can join a write group: every batch in it is whole and has no producer id (batches with
 * one go through `handleEntry`, whose idempotence checks must see the previous entry's state).
 */
function groupable(buf: Buffer): boolean {
  const len = buf.length;
  let pos = 0;
  while (pos < len) {
    if (pos + BATCH_HEADER_SIZE > len) return false;
    if (buf.readInt32BE(pos + PRODUCER_ID_OFFSET) >= 0) return false; // high word of producerId: >= 0 iff id >= 0
    const size = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE) return false;
    pos += size;
  }
  return pos === len;
}

/**
 * The config the PartitionLog gets: flushing is the owner's job (one fsync per burst for every partition that
 * needs one, acks=all completions after it), so the log itself never flushes on append.
 */
function storageConfig(c: LogConfig): LogConfig {
  return { ...c, flushMessages: NEVER, flushMs: NEVER };
}

/** segment.ms also applies to a partition that receives no appends. */
function maybeRoll(p: OwnedPartition, now: number): void {
  const seg = p.log.activeSegment;
  if (seg.size > 0 && seg.timeWaitedForRoll(now, BigInt(now)) > p.config.segmentMs) {
    p.log.roll();
  }
}

export class Owner {
  private readonly appendRing: RingConsumer;
  private readonly completions: RingProducer;
  private readonly clock: () => number;
  private readonly stats: OwnerStatsWriter;
  private readonly sink: LogSink;
  private readonly partitions = new Map<number, OwnedPartition>();
  private readonly touched: OwnedPartition[] = [];
  private closing = false;
  /** Completions published since the engine thread was last woken. */
  private unwoken = 0;
  /** The current write group: consecutive entries of one partition, none with a producer id. */
  private groupSlot = -1;
  private groupBytes = 0;
  private readonly groupBufs: Buffer[] = [];
  private readonly groupReq: number[] = [];
  private readonly groupAcks: number[] = [];
  private readonly groupOut: (AppendInfo | Error)[] = [];
  private readonly failedPartitions = new Map<number, FailedPartition>();
  private retryTimer: NodeJS.Timeout | null = null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushPeriod = 0;

  constructor(
    private readonly init: OwnerInit,
    private readonly post: OwnerLogPost,
  ) {
    this.appendRing = new RingConsumer(init.appendRing);
    this.completions = new RingProducer(init.completionRing);
    this.clock = init.clockBuffer ? ((c) => () => c.now())(SharedManualClock.attach(init.clockBuffer)) : systemClock;
    this.stats = new OwnerStatsWriter(init.statsBuffer);
    this.sink = {
      info: (obj, msg) => this.log('info', obj, msg),
      warn: (obj, msg) => this.log('warn', obj, msg),
      error: (obj, msg) => this.log('error', obj, msg),
    };
  }

  /** Starts the maintenance timer and the ring loop (the worker entry does; a unit test calls `burst`). */
  start(): Promise<void> {
    this.maintenanceTimer = setInterval(() => {
      const now = this.clock();
      for (const p of this.partitions.values()) this.maintain(p, now);
    }, Math.max(10, this.init.maintenanceIntervalMs));
    this.maintenanceTimer.unref();
    return this.ringLoop();
  }

  /** Every flush goes through here: the fdatasync time lands in the owner's shared stats (read at metrics scrape). */
  private timedFlush(plog: PartitionLog): void {
    if (plog.unflushedMessages === 0) return plog.flush(); // nothing to sync: not a flush worth timing
    const t0 = performance.now();
    plog.flush();
    this.stats.recordFlush((performance.now() - t0) / 1000);
  }

  private log(level: OwnerLogMessage['log'], obj: object, msg: string): void {
    this.post({ log: level, obj: { owner: this.init.ownerIndex, ...obj }, msg });
  }

  // ------------------------------------------------------------------ completions

  private writeCompletion(reqId: number, status: number, payload: Buffer | null, base = 0n, last = 0n, appendTime = 0n, logStart = 0n): void {
    const completions = this.completions;
    const len = status === STATUS_OK ? COMPLETION_OK_BYTES : (payload as Buffer).length;
    let pos = completions.reserve(len);
    while (pos < 0) {
      // The engine thread drains completions on its event loop; block this (worker) thread until it does.
      this.wakeEngine();
      completions.waitForSpaceSync(50);
      pos = completions.reserve(len);
    }
    const d = completions.data;
    if (status === STATUS_OK) {
      d.writeBigInt64LE(base, pos);
      d.writeBigInt64LE(last, pos + 8);
      d.writeBigInt64LE(appendTime, pos + 16);
      d.writeBigInt64LE(logStart, pos + 24);
    } else {
      d.set(payload as Buffer, pos);
    }
    completions.publish(len, reqId, status, 0);
    // Wake-ups are batched; a long burst still hands completions over every WAKE_EVERY entries, and after
    // every large write (see `wroteBytes`).
    if (++this.unwoken >= WAKE_EVERY) this.wakeEngine();
  }

  private wroteBytes(n: number): void {
    if (n >= WAKE_AFTER_BYTES) this.wakeEngine();
  }

  private wakeEngine(): void {
    if (this.unwoken === 0) return;
    this.unwoken = 0;
    this.completions.wake();
  }

  private completeError(reqId: number, acks: number, err: WireError): void {
    if (acks === ACKS_NONE) {
      this.log('debug', { code: err.code }, `acks=0 append failed: ${err.message}`);
      return;
    }
    const msg = Buffer.from(err.message.slice(0, 4000), 'utf8');
    this.writeCompletion(reqId, statusOf(err.code), msg);
  }

  // ------------------------------------------------------------------ the burst

  private touch(p: OwnedPartition): void {
    if (!p.touched) {
      p.touched = true;
      this.touched.push(p);
    }
  }

  /** One ring entry: idempotence check, append, completion (or hold it for the flush). */
  private handleEntry(slot: number, reqId: number, acks: number, buf: Buffer): void {
    const p = this.partitions.get(slot);
    if (p === undefined) {
      this.completeError(reqId, acks, { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `partition slot ${slot} is not open on this owner` });
      return;
    }
    try {
      // A failed log refuses first: its producer state may not be consulted (a retry must not pass for a duplicate).
      p.log.ensureWritable();
      // Idempotence: check every batch from a producer before writing anything of this entry (the log records
      // the ones it appends).
      let data = buf;
      const first = readBatchHeader(buf, 0);
      const single = first.batchLength + LOG_OVERHEAD === buf.length;
      if (single) {
        if (first.producerId >= 0n) {
          const c = p.producers.check(first);
          if (c.kind === 'duplicate') {
            if (acks !== ACKS_NONE) {
              this.writeCompletion(reqId, STATUS_OK, null, c.batch.firstOffset, c.batch.lastOffset, -1n, p.state.logStartOffset);
            }
            return;
          }
        }
      } else {
        // Several batches: drop duplicates, reject the whole entry on any sequence error.
        const keep: Buffer[] = [];
        let dups = 0;
        let dupFirst = -1n;
        let dupLast = -1n;
        for (let pos = 0; pos < buf.length; ) {
          const h = readBatchHeader(buf, pos);
          const size = h.batchLength + LOG_OVERHEAD;
          if (h.producerId >= 0n) {
            const c = p.producers.check(h);
            if (c.kind === 'duplicate') {
              dups++;
              if (dupFirst < 0n) dupFirst = c.batch.firstOffset;
              dupLast = c.batch.lastOffset;
              pos += size;
              continue;
            }
          }
          keep.push(buf.subarray(pos, pos + size));
          pos += size;
        }
        if (keep.length === 0) {
          // every batch was a retry: nothing to write
          if (acks !== ACKS_NONE) this.writeCompletion(reqId, STATUS_OK, null, dupFirst, dupLast, -1n, p.state.logStartOffset);
          return;
        }
        if (dups > 0) data = Buffer.concat(keep);
      }
      const info: AppendInfo = p.log.append(data, p.appendOptions);
      this.touch(p);
      if (acks === ACKS_NONE) return;
      if (acks === ACKS_ALL) p.held.push({ reqId, base: info.firstOffset, last: info.lastOffset, appendTime: info.logAppendTime });
      else this.writeCompletion(reqId, STATUS_OK, null, info.firstOffset, info.lastOffset, info.logAppendTime, p.state.logStartOffset);
    } catch (e) {
      this.completeError(reqId, acks, toWireError(e));
      this.noteFailure(p);
    }
  }

  /** Appends the current group (one writev per segment touched), then completes or holds each entry. */
  private flushGroup(): void {
    const groupBufs = this.groupBufs;
    const n = groupBufs.length;
    if (n === 0) return;
    const groupReq = this.groupReq;
    const groupAcks = this.groupAcks;
    const groupOut = this.groupOut;
    const p = this.partitions.get(this.groupSlot) as OwnedPartition;
    let i = 0;
    while (i < n) {
      const bufs = i === 0 ? groupBufs : groupBufs.slice(i);
      groupOut.length = 0;
      let consumed: number;
      try {
        consumed = p.log.appendMany(bufs, p.appendOptions, groupOut);
        this.touch(p);
      } catch (e) {
        const err = toWireError(e);
        for (let j = i; j < n; j++) this.completeError(groupReq[j] as number, groupAcks[j] as number, err);
        this.noteFailure(p);
        break;
      }
      const logStart = p.state.logStartOffset;
      for (let j = 0; j < consumed; j++) {
        const reqId = groupReq[i + j] as number;
        const acks = groupAcks[i + j] as number;
        const r = groupOut[j] as AppendInfo | Error;
        if (r instanceof Error) this.completeError(reqId, acks, toWireError(r));
        else if (acks === ACKS_NONE) continue;
        else if (acks === ACKS_ALL) p.held.push({ reqId, base: r.firstOffset, last: r.lastOffset, appendTime: r.logAppendTime });
        else this.writeCompletion(reqId, STATUS_OK, null, r.firstOffset, r.lastOffset, r.logAppendTime, logStart);
      }
      i += consumed;
    }
    this.wroteBytes(this.groupBytes);
    groupBufs.length = 0;
    groupReq.length = 0;
    groupAcks.length = 0;
    groupOut.length = 0;
    this.groupSlot = -1;
    this.groupBytes = 0;
  }

  /** Drains the append ring until it is empty, then flushes and completes. */
  burst(): void {
    const appendRing = this.appendRing;
    for (;;) {
      const e = appendRing.next();
      if (e === null) break;
      const buf = appendRing.data.subarray(e.pos, e.pos + e.len);
      const slot = e.b;
      if (slot !== this.groupSlot || this.groupBytes + buf.length > GROUP_BYTES || this.groupBufs.length >= MAX_GROUP) this.flushGroup();
      if (this.partitions.has(slot) && groupable(buf)) {
        this.groupSlot = slot;
        this.groupBufs.push(buf);
        this.groupReq.push(e.a);
        this.groupAcks.push(e.c);
        this.groupBytes += buf.length;
      } else {
        this.flushGroup(); // per-partition order: the group's entries come first
        this.handleEntry(slot, e.a, e.c, buf);
        this.wroteBytes(buf.length);
      }
      // Hand space back early on long bursts so the engine thread keeps writing meanwhile (the group's bytes
      // are written first: released space may be overwritten at once).
      if (appendRing.unreleasedBytes >= appendRing.capacity >>> 2) {
        this.flushGroup();
        appendRing.release();
        this.wakeEngine();
      }
    }
    this.flushGroup();
    appendRing.release();
    const touched = this.touched;
    for (const p of touched) {
      p.touched = false;
      let err: WireError | null = null;
      try {
        if (p.log.unflushedMessages >= p.config.flushMessages) this.timedFlush(p.log);
      } catch (e) {
        err = toWireError(e);
        this.log('error', { topic: p.topic, partition: p.partition, err: err.message }, 'flush failed');
        this.noteFailure(p);
      }
      if (p.held.length !== 0) this.releaseHeld(p, err);
    }
    touched.length = 0;
    this.wakeEngine();
  }

  /** Completes the acks=all appends of `p` that its release policy lets go (`err`: the burst's flush failed). */
  private releaseHeld(p: OwnedPartition, err: WireError | null): void {
    switch (p.acksAllRelease) {
      case 'flushed': {
        const held = p.held;
        p.held = [];
        const logStart = p.state.logStartOffset;
        for (const h of held) {
          if (err) this.completeError(h.reqId, ACKS_ALL, err);
          else this.writeCompletion(h.reqId, STATUS_OK, null, h.base, h.last, h.appendTime, logStart);
        }
        return;
      }
    }
  }

  private async ringLoop(): Promise<void> {
    while (!this.closing) {
      this.burst();
      if (!this.appendRing.hasData()) await this.appendRing.waitForData();
    }
  }

  // ------------------------------------------------------------------ control

  /** Opens (or reopens after a storage failure) a partition's log with this owner's settings. */
  private openLog(dir: string, config: LogConfig, state: PartitionSharedState): PartitionLog {
    return PartitionLog.open({
      dir,
      config: storageConfig(config),
      state,
      clock: this.clock,
      sink: this.sink,
      producerIdExpirationMs: this.init.producerIdExpirationMs,
      onCorruption: this.init.onCorruption,
    });
  }

  private openPartition(r: OpenPartitionRequest): void {
    if (this.partitions.has(r.slot)) throw new SluiceError('INVALID_ARGUMENT', `slot ${r.slot} is already open`);
    const state = new PartitionSharedState(r.stateBuffer, r.stateIndex, this.init.watchBuffer);
    const plog = this.openLog(r.dir, r.config, state);
    const report = plog.recoveryReport;
    if (report.truncatedBytes > 0 || report.corruptions.length > 0) {
      this.log(
        'warn',
        {
          topic: r.topic,
          partition: r.partition,
          truncatedBytes: report.truncatedBytes,
          truncatedOffsets: report.truncatedOffsets && { from: String(report.truncatedOffsets.from), to: String(report.truncatedOffsets.to) },
          corruptions: report.corruptions,
          actions: report.actions,
        },
        'recovery truncated the log',
      );
    } else if (!report.clean && report.scannedBytes > 0) {
      this.log('info', { topic: r.topic, partition: r.partition, scannedBytes: report.scannedBytes }, 'recovered partition after an unclean shutdown');
    }
    this.partitions.set(r.slot, new OwnedPartition(r.slot, r.topic, r.partition, r.dir, plog, state, r.config, r.leaderEpoch, r.acksAllRelease));
    this.rescheduleFlushTimer();
  }

  // ------------------------------------------------------------------ storage failures

  /** Called after any failed operation on `p`: schedules its recovery if its log failed on a full disk. */
  private noteFailure(p: OwnedPartition): void {
    const failure = p.log.failure;
    if (failure === null || this.failedPartitions.has(p.slot) || !isDiskFull(failure)) return;
    this.failedPartitions.set(p.slot, { p, goodEnd: p.log.logEndOffset, nextAttempt: Date.now() + RETRY_FIRST_MS, delayMs: RETRY_FIRST_MS });
    this.log('warn', { topic: p.topic, partition: p.partition, err: failure.message }, 'partition is out of disk space: writes fail until it has room again');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.failedPartitions.size === 0 || this.closing) return;
    let next = Infinity;
    for (const f of this.failedPartitions.values()) next = Math.min(next, f.nextAttempt);
    this.retryTimer = setTimeout(() => this.retryFailed(), Math.max(0, next - Date.now()));
    this.retryTimer.unref();
  }

  private retryFailed(): void {
    this.retryTimer = null;
    this.burst(); // entries already in the ring go first, against the failed log
    const now = Date.now();
    for (const f of [...this.failedPartitions.values()]) {
      if (f.nextAttempt > now) continue;
      if (this.partitions.get(f.p.slot) !== f.p) {
        this.failedPartitions.delete(f.p.slot); // closed or deleted meanwhile
        continue;
      }
      if (this.recoverFailed(f)) this.failedPartitions.delete(f.p.slot);
      else {
        f.delayMs = Math.min(RETRY_MAX_MS, f.delayMs * 2);
        f.nextAttempt = Date.now() + f.delayMs;
      }
    }
    this.scheduleRetry();
  }

  /** One attempt to bring a failed partition back: true when it serves writes again. */
  private recoverFailed(f: FailedPartition): boolean {
    const p = f.p;
    try {
      const fsStat = fs.statfsSync(p.dir);
      if (fsStat.bavail * fsStat.bsize < RETRY_MIN_FREE_BYTES) return false;
    } catch {
      // no statfs here: just try
    }
    const old = p.log;
    old.discard({ reopen: true });
    let plog: PartitionLog;
    try {
      plog = this.openLog(p.dir, p.config, p.state);
    } catch (e) {
      this.log('debug', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'partition still cannot reopen');
      return false;
    }
    try {
      const end = plog.logEndOffset;
      // a write that failed part way may have left whole batches that were never acknowledged: cut them
      if (end > f.goodEnd) plog.truncateTo(f.goodEnd);
      if (plog.logEndOffset !== f.goodEnd) {
        this.log('error', { topic: p.topic, partition: p.partition, expected: String(f.goodEnd), found: String(plog.logEndOffset) }, 'partition reopened with a different log end');
      }
      // the reopened log loaded its producer state (snapshot + replay) and truncateTo rebuilt it after a cut
      p.log = plog;
    } catch (e) {
      // the old (failed) log stays in place, refusing writes; the next attempt reopens again
      plog.discard({ reopen: true });
      this.log('debug', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'partition reopened but could not be cut back');
      return false;
    }
    this.log('info', { topic: p.topic, partition: p.partition, logEndOffset: String(p.log.logEndOffset) }, 'partition is back in service after running out of disk space');
    return true;
  }

  private closePartition(p: OwnedPartition, clean: boolean): void {
    this.partitions.delete(p.slot);
    try {
      if (clean) this.timedFlush(p.log);
    } finally {
      p.log.close();
      p.state.markClosed();
    }
  }

  private part(slot: number): OwnedPartition {
    const p = this.partitions.get(slot);
    if (!p) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `partition slot ${slot} is not open on this owner`);
    return p;
  }

  /**
   * Compaction in bounded steps; the ring is drained between steps so appends keep flowing while a partition
   * is cleaned (the cleaner only rewrites sealed segments).
   */
  private compact(p: OwnedPartition, now: number): void {
    if (!p.config.cleanupPolicy.compact) return;
    const steps = p.log.cleanSteps(now);
    let r = steps.next();
    while (!r.done) {
      this.burst();
      r = steps.next();
    }
    const stats = r.value;
    if (stats && stats.segmentsCleaned > 0) {
      this.log('info', { topic: p.topic, partition: p.partition, ...stats, cleanedUpTo: String(stats.cleanedUpTo) }, 'compacted partition');
    }
  }

  private maintain(p: OwnedPartition, now: number): void {
    try {
      p.log.deleteOldSegments(now);
      const expired = p.log.removeExpiredProducers(now);
      if (expired > 0) this.log('info', { topic: p.topic, partition: p.partition, expired }, 'expired idle producer ids');
      this.compact(p, now);
      maybeRoll(p, now);
      if (p.log.unflushedMessages > 0 && now - p.log.lastFlushTime >= p.config.flushMs) this.timedFlush(p.log);
    } catch (e) {
      if (this.failedPartitions.has(p.slot)) return; // out of disk space: already reported, and being retried
      this.log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'maintenance failed');
      this.noteFailure(p);
    }
  }

  /** A control request; the result crosses back to the engine thread as the response's value. */
  handle(req: OwnerRequest): unknown {
    // Everything written into the ring before this request was sent is applied first.
    this.burst();
    switch (req.op) {
      case 'open':
        this.openPartition(req);
        return null;
      case 'close-partition': {
        const p = this.part(req.slot);
        if (req.forDelete) {
          // its files are deleted next: write nothing (the disk may be full) and let go of them at once
          this.partitions.delete(p.slot);
          p.log.discard();
        } else this.closePartition(p, true);
        return null;
      }
      case 'config': {
        const p = this.part(req.slot);
        p.config = req.config;
        p.log.updateConfig(storageConfig(req.config));
        this.rescheduleFlushTimer();
        return null;
      }
      case 'offset-for-time':
        return this.part(req.slot).log.offsetForTimestamp(req.timestamp);
      case 'delete-records':
        return this.part(req.slot).log.deleteRecordsBefore(req.offset);
      case 'sizes':
        return req.slots.map((s) => this.partitions.get(s)?.log.sizeInBytes ?? 0);
      case 'maintenance': {
        const now = this.clock();
        for (const p of this.partitions.values()) this.maintain(p, now);
        return null;
      }
      case 'flush':
        for (const p of this.partitions.values()) this.timedFlush(p.log);
        return null;
      case 'close': {
        this.closing = true;
        let first: unknown = null;
        for (const p of [...this.partitions.values()]) {
          try {
            this.closePartition(p, true);
          } catch (e) {
            first ??= e;
            this.log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'close failed');
          }
        }
        if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
        if (this.flushTimer) clearInterval(this.flushTimer);
        if (this.retryTimer) clearTimeout(this.retryTimer);
        if (first) throw first;
        return null;
      }
    }
  }

  // ------------------------------------------------------------------ timers

  /** flush.ms and segment.ms need a timer even when no appends arrive; its period follows the smallest flush.ms. */
  private rescheduleFlushTimer(): void {
    let min = 1000;
    for (const p of this.partitions.values()) if (p.config.flushMs < min) min = p.config.flushMs;
    const period = Math.max(5, min);
    if (this.flushTimer && period === this.flushPeriod) return;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushPeriod = period;
    this.flushTimer = setInterval(() => {
      const now = this.clock();
      for (const p of this.partitions.values()) {
        try {
          if (p.log.unflushedMessages > 0 && now - p.log.lastFlushTime >= p.config.flushMs) this.timedFlush(p.log);
          maybeRoll(p, now);
        } catch (e) {
          if (this.failedPartitions.has(p.slot)) continue;
          this.log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'timed flush failed');
          this.noteFailure(p);
        }
      }
    }, period);
    this.flushTimer.unref();
  }
}
