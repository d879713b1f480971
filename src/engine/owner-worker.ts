/**
 * An owner worker: the single writer of the partitions assigned to it.
 *
 * It sleeps on its append ring (Atomics.waitAsync, so its event loop stays free for control messages),
 * drains it in bursts — producer-state check, `log.append` per entry — then flushes each partition whose
 * flush policy asks for it (one fdatasync for all the entries of the burst: group commit), publishes offsets
 * (the PartitionLog does, through the partition's shared state) and writes completions into the completion
 * ring. acks=1 completions go out before the flush, acks=all ones after it.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SluiceError } from '../errors.js';
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  PRODUCER_ID_OFFSET,
  readBatchHeader,
} from '../record/batch-header.js';
import { NEVER } from '../storage/config.js';
import { PartitionLog } from '../storage/partition-log.js';
import type { ProducerStateManager } from '../storage/producer-state.js';
import { PartitionSharedState } from '../storage/shared-state.js';
import type { AppendInfo, LogConfig, LogSink } from '../storage/types.js';
import { SharedManualClock, systemClock } from './clock.js';
import {
  ACKS_ALL,
  ACKS_NONE,
  COMPLETION_OK_BYTES,
  type OpenPartitionRequest,
  type OwnerInit,
  type OwnerLogMessage,
  type OwnerRequest,
  type OwnerRequestMessage,
  type OwnerResponse,
  STATUS_OK,
  statusOf,
  toWireError,
  type WireError,
} from './owner-protocol.js';
import { RingConsumer, RingProducer } from './ring.js';
import { OwnerStatsWriter } from './owner-stats.js';

if (!parentPort) throw new Error('owner-worker must run in a worker thread');
const port = parentPort;
const init = workerData as OwnerInit;
const appendRing = new RingConsumer(init.appendRing);
const completions = new RingProducer(init.completionRing);
const clock: () => number = init.clockBuffer ? ((c) => () => c.now())(SharedManualClock.attach(init.clockBuffer)) : systemClock;
const stats = new OwnerStatsWriter(init.statsBuffer);

/** Every flush goes through here: the fdatasync time lands in the owner's shared stats (read at metrics scrape). */
function timedFlush(plog: PartitionLog): void {
  if (plog.unflushedMessages === 0) return plog.flush(); // nothing to sync: not a flush worth timing
  const t0 = performance.now();
  plog.flush();
  stats.recordFlush((performance.now() - t0) / 1000);
}

function log(level: OwnerLogMessage['log'], obj: object, msg: string): void {
  const m: OwnerLogMessage = { log: level, obj: { owner: init.ownerIndex, ...obj }, msg };
  port.postMessage(m);
}

const sink: LogSink = {
  info: (obj, msg) => log('info', obj, msg),
  warn: (obj, msg) => log('warn', obj, msg),
  error: (obj, msg) => log('error', obj, msg),
};

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

  constructor(
    readonly slot: number,
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    /** Replaced when the partition returns to service after a storage failure (see `recoverFailed`). */
    public log: PartitionLog,
    readonly state: PartitionSharedState,
    config: LogConfig,
  ) {
    this.config = config;
  }

  /** The log's producer state: batches are checked against it before they are appended. */
  get producers(): ProducerStateManager {
    return this.log.producerState;
  }
}

const partitions = new Map<number, OwnedPartition>();
const touched: OwnedPartition[] = [];
let closing = false;

// ------------------------------------------------------------------ completions

function writeCompletion(reqId: number, status: number, payload: Buffer | null, base = 0n, last = 0n, appendTime = 0n, logStart = 0n): void {
  const len = status === STATUS_OK ? COMPLETION_OK_BYTES : (payload as Buffer).length;
  let pos = completions.reserve(len);
  while (pos < 0) {
    // The engine thread drains completions on its event loop; block this (worker) thread until it does.
    wakeEngine();
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
  // Wake-ups are batched (each costs both threads a trip through their event loops); a long burst still
  // hands completions over every WAKE_EVERY entries, and after every large write (see `wroteBytes`).
  if (++unwoken >= WAKE_EVERY) wakeEngine();
}

/** Completions published since the engine thread was last woken. */
let unwoken = 0;
const WAKE_EVERY = 32;
/**
 * After a write this large, completions go out at once: the engine refills the ring while the owner writes
 * the next group (batching them to the end of the burst left one thread idle while the other worked, and
 * halved 64 KiB appends). Small writes leave batching to WAKE_EVERY and the end of the burst.
 */
const WAKE_AFTER_BYTES = 256 * 1024;

function wroteBytes(n: number): void {
  if (n >= WAKE_AFTER_BYTES) wakeEngine();
}

function wakeEngine(): void {
  if (unwoken === 0) return;
  unwoken = 0;
  completions.wake();
}

function completeError(reqId: number, acks: number, err: WireError): void {
  if (acks === ACKS_NONE) {
    log('debug', { code: err.code }, `acks=0 append failed: ${err.message}`);
    return;
  }
  const msg = Buffer.from(err.message.slice(0, 4000), 'utf8');
  writeCompletion(reqId, statusOf(err.code), msg);
}

// ------------------------------------------------------------------ the burst

function touch(p: OwnedPartition): void {
  if (!p.touched) {
    p.touched = true;
    touched.push(p);
  }
}

/** One ring entry: idempotence check, append, completion (or hold it for the flush). */
function handleEntry(slot: number, reqId: number, acks: number, buf: Buffer): void {
  const p = partitions.get(slot);
  if (p === undefined) {
    completeError(reqId, acks, { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `partition slot ${slot} is not open on this owner` });
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
            writeCompletion(reqId, STATUS_OK, null, c.batch.firstOffset, c.batch.lastOffset, -1n, p.state.logStartOffset);
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
        if (acks !== ACKS_NONE) writeCompletion(reqId, STATUS_OK, null, dupFirst, dupLast, -1n, p.state.logStartOffset);
        return;
      }
      if (dups > 0) data = Buffer.concat(keep);
    }
    const info: AppendInfo = p.log.append(data, { assignOffsets: true, leaderEpoch: 0 });
    touch(p);
    if (acks === ACKS_NONE) return;
    if (acks === ACKS_ALL) p.held.push({ reqId, base: info.firstOffset, last: info.lastOffset, appendTime: info.logAppendTime });
    else writeCompletion(reqId, STATUS_OK, null, info.firstOffset, info.lastOffset, info.logAppendTime, p.state.logStartOffset);
  } catch (e) {
    completeError(reqId, acks, toWireError(e));
    noteFailure(p);
  }
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

/** Largest group of consecutive same-partition entries written by one vectored write. */
const GROUP_BYTES = 1 << 20;
const MAX_GROUP = 64;
/** The current write group: consecutive entries of one partition, none with a producer id. */
let groupSlot = -1;
let groupBytes = 0;
const groupBufs: Buffer[] = [];
const groupReq: number[] = [];
const groupAcks: number[] = [];
const groupOut: (AppendInfo | Error)[] = [];

/** Appends the current group (one writev per segment touched), then completes or holds each entry. */
function flushGroup(): void {
  const n = groupBufs.length;
  if (n === 0) return;
  const p = partitions.get(groupSlot) as OwnedPartition;
  let i = 0;
  while (i < n) {
    const bufs = i === 0 ? groupBufs : groupBufs.slice(i);
    groupOut.length = 0;
    let consumed: number;
    try {
      consumed = p.log.appendMany(bufs, { assignOffsets: true, leaderEpoch: 0 }, groupOut);
      touch(p);
    } catch (e) {
      const err = toWireError(e);
      for (let j = i; j < n; j++) completeError(groupReq[j] as number, groupAcks[j] as number, err);
      noteFailure(p);
      break;
    }
    const logStart = p.state.logStartOffset;
    for (let j = 0; j < consumed; j++) {
      const reqId = groupReq[i + j] as number;
      const acks = groupAcks[i + j] as number;
      const r = groupOut[j] as AppendInfo | Error;
      if (r instanceof Error) completeError(reqId, acks, toWireError(r));
      else if (acks === ACKS_NONE) continue;
      else if (acks === ACKS_ALL) p.held.push({ reqId, base: r.firstOffset, last: r.lastOffset, appendTime: r.logAppendTime });
      else writeCompletion(reqId, STATUS_OK, null, r.firstOffset, r.lastOffset, r.logAppendTime, logStart);
    }
    i += consumed;
  }
  wroteBytes(groupBytes);
  groupBufs.length = 0;
  groupReq.length = 0;
  groupAcks.length = 0;
  groupOut.length = 0;
  groupSlot = -1;
  groupBytes = 0;
}

/** Drains the append ring until it is empty, then flushes and completes. */
function burst(): void {
  for (;;) {
    const e = appendRing.next();
    if (e === null) break;
    const buf = appendRing.data.subarray(e.pos, e.pos + e.len);
    const slot = e.b;
    if (slot !== groupSlot || groupBytes + buf.length > GROUP_BYTES || groupBufs.length >= MAX_GROUP) flushGroup();
    if (partitions.has(slot) && groupable(buf)) {
      groupSlot = slot;
      groupBufs.push(buf);
      groupReq.push(e.a);
      groupAcks.push(e.c);
      groupBytes += buf.length;
    } else {
      flushGroup(); // per-partition order: the group's entries come first
      handleEntry(slot, e.a, e.c, buf);
      wroteBytes(buf.length);
    }
    // Hand space back early on long bursts so the engine thread keeps writing meanwhile (the group's bytes
    // are written first: released space may be overwritten at once).
    if (appendRing.unreleasedBytes >= appendRing.capacity >>> 2) {
      flushGroup();
      appendRing.release();
      wakeEngine();
    }
  }
  flushGroup();
  appendRing.release();
  for (const p of touched) {
    p.touched = false;
    let err: WireError | null = null;
    try {
      if (p.log.unflushedMessages >= p.config.flushMessages) timedFlush(p.log);
    } catch (e) {
      err = toWireError(e);
      log('error', { topic: p.topic, partition: p.partition, err: err.message }, 'flush failed');
      noteFailure(p);
    }
    const held = p.held;
    if (held.length) {
      p.held = [];
      const logStart = p.state.logStartOffset;
      for (const h of held) {
        if (err) completeError(h.reqId, ACKS_ALL, err);
        else writeCompletion(h.reqId, STATUS_OK, null, h.base, h.last, h.appendTime, logStart);
      }
    }
  }
  touched.length = 0;
  wakeEngine();
}

async function ringLoop(): Promise<void> {
  while (!closing) {
    burst();
    if (!appendRing.hasData()) await appendRing.waitForData();
  }
}

// ------------------------------------------------------------------ control

/** Opens (or reopens after a storage failure) a partition's log with this owner's settings. */
function openLog(dir: string, config: LogConfig, state: PartitionSharedState): PartitionLog {
  return PartitionLog.open({
    dir,
    config: storageConfig(config),
    state,
    clock,
    sink,
    producerIdExpirationMs: init.producerIdExpirationMs,
    onCorruption: init.onCorruption,
  });
}

function openPartition(r: OpenPartitionRequest): void {
  if (partitions.has(r.slot)) throw new SluiceError('INVALID_ARGUMENT', `slot ${r.slot} is already open`);
  const state = new PartitionSharedState(r.stateBuffer, r.stateIndex, init.watchBuffer);
  const plog = openLog(r.dir, r.config, state);
  const report = plog.recoveryReport;
  if (report.truncatedBytes > 0 || report.corruptions.length > 0) {
    log(
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
    log('info', { topic: r.topic, partition: r.partition, scannedBytes: report.scannedBytes }, 'recovered partition after an unclean shutdown');
  }
  partitions.set(r.slot, new OwnedPartition(r.slot, r.topic, r.partition, r.dir, plog, state, r.config));
  rescheduleFlushTimer();
}

// ------------------------------------------------------------------ storage failures

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

const failedPartitions = new Map<number, FailedPartition>();
let retryTimer: NodeJS.Timeout | null = null;

function isDiskFull(e: Error | null): boolean {
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 4; depth++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    c = c.cause;
  }
  return false;
}

/** Called after any failed operation on `p`: schedules its recovery if its log failed on a full disk. */
function noteFailure(p: OwnedPartition): void {
  const failure = p.log.failure;
  if (failure === null || failedPartitions.has(p.slot) || !isDiskFull(failure)) return;
  failedPartitions.set(p.slot, { p, goodEnd: p.log.logEndOffset, nextAttempt: Date.now() + RETRY_FIRST_MS, delayMs: RETRY_FIRST_MS });
  log('warn', { topic: p.topic, partition: p.partition, err: failure.message }, 'partition is out of disk space: writes fail until it has room again');
  scheduleRetry();
}

function scheduleRetry(): void {
  if (retryTimer || failedPartitions.size === 0 || closing) return;
  let next = Infinity;
  for (const f of failedPartitions.values()) next = Math.min(next, f.nextAttempt);
  retryTimer = setTimeout(retryFailed, Math.max(0, next - Date.now()));
  retryTimer.unref();
}

function retryFailed(): void {
  retryTimer = null;
  burst(); // entries already in the ring go first, against the failed log
  const now = Date.now();
  for (const f of [...failedPartitions.values()]) {
    if (f.nextAttempt > now) continue;
    if (partitions.get(f.p.slot) !== f.p) {
      failedPartitions.delete(f.p.slot); // closed or deleted meanwhile
      continue;
    }
    if (recoverFailed(f)) failedPartitions.delete(f.p.slot);
    else {
      f.delayMs = Math.min(RETRY_MAX_MS, f.delayMs * 2);
      f.nextAttempt = Date.now() + f.delayMs;
    }
  }
  scheduleRetry();
}

/** One attempt to bring a failed partition back: true when it serves writes again. */
function recoverFailed(f: FailedPartition): boolean {
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
    plog = openLog(p.dir, p.config, p.state);
  } catch (e) {
    log('debug', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'partition still cannot reopen');
    return false;
  }
  try {
    const end = plog.logEndOffset;
    // a write that failed part way may have left whole batches that were never acknowledged: cut them
    if (end > f.goodEnd) plog.truncateTo(f.goodEnd);
    if (plog.logEndOffset !== f.goodEnd) {
      log('error', { topic: p.topic, partition: p.partition, expected: String(f.goodEnd), found: String(plog.logEndOffset) }, 'partition reopened with a different log end');
    }
    // the reopened log loaded its producer state (snapshot + replay) and truncateTo rebuilt it after a cut
    p.log = plog;
  } catch (e) {
    // the old (failed) log stays in place, refusing writes; the next attempt reopens again
    plog.discard({ reopen: true });
    log('debug', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'partition reopened but could not be cut back');
    return false;
  }
  log('info', { topic: p.topic, partition: p.partition, logEndOffset: String(p.log.logEndOffset) }, 'partition is back in service after running out of disk space');
  return true;
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

function closePartition(p: OwnedPartition, clean: boolean): void {
  partitions.delete(p.slot);
  try {
    if (clean) timedFlush(p.log);
  } finally {
    p.log.close();
    p.state.markClosed();
  }
}

function part(slot: number): OwnedPartition {
  const p = partitions.get(slot);
  if (!p) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `partition slot ${slot} is not open on this owner`);
  return p;
}

/**
 * Compaction in bounded steps; the ring is drained between steps so appends keep flowing while a partition
 * is cleaned (the cleaner only rewrites sealed segments).
 */
function compact(p: OwnedPartition, now: number): void {
  if (!p.config.cleanupPolicy.compact) return;
  const steps = p.log.cleanSteps(now);
  let r = steps.next();
  while (!r.done) {
    burst();
    r = steps.next();
  }
  const stats = r.value;
  if (stats && stats.segmentsCleaned > 0) {
    log('info', { topic: p.topic, partition: p.partition, ...stats, cleanedUpTo: String(stats.cleanedUpTo) }, 'compacted partition');
  }
}

function maintain(p: OwnedPartition, now: number): void {
  try {
    p.log.deleteOldSegments(now);
    const expired = p.log.removeExpiredProducers(now);
    if (expired > 0) log('info', { topic: p.topic, partition: p.partition, expired }, 'expired idle producer ids');
    compact(p, now);
    maybeRoll(p, now);
    if (p.log.unflushedMessages > 0 && now - p.log.lastFlushTime >= p.config.flushMs) timedFlush(p.log);
  } catch (e) {
    if (failedPartitions.has(p.slot)) return; // out of disk space: already reported, and being retried
    log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'maintenance failed');
    noteFailure(p);
  }
}

function handle(req: OwnerRequest): unknown {
  // Everything written into the ring before this request was sent is applied first.
  burst();
  switch (req.op) {
    case 'open':
      openPartition(req);
      return null;
    case 'close-partition': {
      const p = part(req.slot);
      if (req.forDelete) {
        // its files are deleted next: write nothing (the disk may be full) and let go of them at once
        partitions.delete(p.slot);
        p.log.discard();
      } else closePartition(p, true);
      return null;
    }
    case 'config': {
      const p = part(req.slot);
      p.config = req.config;
      p.log.updateConfig(storageConfig(req.config));
      rescheduleFlushTimer();
      return null;
    }
    case 'offset-for-time':
      return part(req.slot).log.offsetForTimestamp(req.timestamp);
    case 'delete-records':
      return part(req.slot).log.deleteRecordsBefore(req.offset);
    case 'sizes':
      return req.slots.map((s) => partitions.get(s)?.log.sizeInBytes ?? 0);
    case 'maintenance': {
      const now = clock();
      for (const p of partitions.values()) maintain(p, now);
      return null;
    }
    case 'flush':
      for (const p of partitions.values()) timedFlush(p.log);
      return null;
    case 'close': {
      closing = true;
      let first: unknown = null;
      for (const p of [...partitions.values()]) {
        try {
          closePartition(p, true);
        } catch (e) {
          first ??= e;
          log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'close failed');
        }
      }
      clearInterval(maintenanceTimer);
      if (flushTimer) clearInterval(flushTimer);
      if (retryTimer) clearTimeout(retryTimer);
      if (first) throw first;
      return null;
    }
  }
}

port.on('message', (m: OwnerRequestMessage) => {
  let res: OwnerResponse;
  try {
    res = { id: m.id, ok: true, value: handle(m.req) };
  } catch (e) {
    res = { id: m.id, ok: false, error: toWireError(e) };
  }
  port.postMessage(res);
});

// ------------------------------------------------------------------ timers

const maintenanceTimer = setInterval(() => {
  const now = clock();
  for (const p of partitions.values()) maintain(p, now);
}, Math.max(10, init.maintenanceIntervalMs));
maintenanceTimer.unref();

let flushTimer: NodeJS.Timeout | null = null;
let flushPeriod = 0;

/** flush.ms and segment.ms need a timer even when no appends arrive; its period follows the smallest flush.ms. */
function rescheduleFlushTimer(): void {
  let min = 1000;
  for (const p of partitions.values()) if (p.config.flushMs < min) min = p.config.flushMs;
  const period = Math.max(5, min);
  if (flushTimer && period === flushPeriod) return;
  if (flushTimer) clearInterval(flushTimer);
  flushPeriod = period;
  flushTimer = setInterval(() => {
    const now = clock();
    for (const p of partitions.values()) {
      try {
        if (p.log.unflushedMessages > 0 && now - p.log.lastFlushTime >= p.config.flushMs) timedFlush(p.log);
        maybeRoll(p, now);
      } catch (e) {
        if (failedPartitions.has(p.slot)) continue;
        log('error', { topic: p.topic, partition: p.partition, err: (e as Error).message }, 'timed flush failed');
        noteFailure(p);
      }
    }
  }, period);
  flushTimer.unref();
}

port.postMessage({ ready: true });
ringLoop().catch((e: unknown) => {
  log('error', { err: (e as Error).message }, 'owner ring loop failed');
  throw e;
});
