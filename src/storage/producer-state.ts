/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager, minus transactions): for every
 * producer id, its epoch and the last few batches' sequence ranges and offsets. It belongs to the partition's
 * log (`PartitionLog.producerState`): the owner checks each batch before appending it, the log records it as
 * it appends, snapshots the table at every roll and at close, and keeps table and snapshots consistent with
 * truncation and the log start. Producers idle for `producer.id.expiration.ms` are forgotten.
 *
 * Snapshot file `<20-digit offset>.snapshot` (binary, big-endian), valid for the log below `offset`:
 *   magic "SLPS" | uint16 version (1) | int64 offset | uint32 producer count
 *   per producer: int64 producerId | int16 epoch | uint8 batch count
 *     per batch: int32 firstSeq | int32 lastSeq | int64 firstOffset | int64 lastOffset | int64 timestamp
 *   uint32 CRC-32C of everything before it
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../native-bindings/crc32c.js';
import { SluiceError } from '../errors.js';
import type { BatchHeader } from '../record/batch-header.js';
import type { LogSink } from './types.js';

/** How many recent batches per producer are kept for duplicate detection (Kafka keeps 5). */
export const PRODUCER_BATCH_HISTORY = 5;
const INT32_MAX = 0x7fffffff;
const SNAPSHOT_MAGIC = 0x534c5053; // "SLPS"
const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_SUFFIX = '.snapshot';
/** Kafka's producer.id.expiration.ms default: a producer idle for a day is forgotten. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;

/** The header fields a producer's sequence check and state update read. */
export type ProducerBatchFields = Pick<BatchHeader, 'producerId' | 'producerEpoch' | 'baseSequence' | 'lastOffsetDelta'>;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: bigint;
  lastOffset: bigint;
  /** When the log appended (or, after a restart, replayed) the batch, by the log's clock: for expiry. */
  timestamp: bigint;
}

export interface ProducerEntry {
  producerId: bigint;
  epoch: number;
  /** Oldest first, at most PRODUCER_BATCH_HISTORY. */
  batches: BatchMetadata[];
}

/** What to do with a batch. */
export type SequenceCheck =
  | { kind: 'append' }
  /** A retry of a batch already in the log: answer with its original offsets, write nothing. */
  | { kind: 'duplicate'; batch: BatchMetadata };

/** Sequence of the last record of a batch, wrapping at int32 max as Kafka does. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > INT32_MAX - lastOffsetDelta ? baseSequence + lastOffsetDelta - INT32_MAX - 1 : baseSequence + lastOffsetDelta;
}

function nextSequence(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1;
}

export class ProducerStateTable {
  private readonly producers = new Map<bigint, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }
  get(producerId: bigint): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }
  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }
  clear(): void {
    this.producers.clear();
  }

  /**
   * Checks a batch against the producer's state; throws SluiceError (INVALID_PRODUCER_EPOCH,
   * OUT_OF_ORDER_SEQUENCE, UNKNOWN_PRODUCER_ID) when it must be rejected. Changes nothing.
   */
  check(h: ProducerBatchFields): SequenceCheck {
    if (h.producerId < 0n) return { kind: 'append' };
    const e = this.producers.get(h.producerId);
    const firstSeq = h.baseSequence;
    if (!e) {
      if (firstSeq !== 0) {
        throw new SluiceError(
          'UNKNOWN_PRODUCER_ID',
          `producer ${h.producerId} is unknown to this partition and its first sequence is ${firstSeq}, not 0`,
        );
      }
      return { kind: 'append' };
    }
    if (h.producerEpoch < e.epoch) {
      throw new SluiceError(
        'INVALID_PRODUCER_EPOCH',
        `producer ${h.producerId} epoch ${h.producerEpoch} is older than the current epoch ${e.epoch} (fenced)`,
      );
    }
    if (h.producerEpoch > e.epoch) {
      if (firstSeq !== 0) {
        throw new SluiceError(
          'OUT_OF_ORDER_SEQUENCE',
          `producer ${h.producerId} started epoch ${h.producerEpoch} at sequence ${firstSeq}; a new epoch must start at 0`,
        );
      }
      return { kind: 'append' };
    }
    const lastSeq = lastSequenceOf(firstSeq, h.lastOffsetDelta);
    for (const b of e.batches) {
      if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', batch: b };
    }
    const last = e.batches.length ? e.batches[e.batches.length - 1].lastSeq : -1;
    const expected = e.batches.length ? nextSequence(last) : 0;
    if (firstSeq !== expected) {
      throw new SluiceError(
        'OUT_OF_ORDER_SEQUENCE',
        `producer ${h.producerId} epoch ${h.producerEpoch}: sequence ${firstSeq} but ${expected} was expected (last was ${last})`,
      );
    }
    return { kind: 'append' };
  }

  /** Records an appended (or replayed) batch. */
  update(h: ProducerBatchFields, firstOffset: bigint, timestamp: bigint): void {
    if (h.producerId < 0n) return;
    let e = this.producers.get(h.producerId);
    if (!e) {
      e = { producerId: h.producerId, epoch: h.producerEpoch, batches: [] };
      this.producers.set(h.producerId, e);
    } else if (h.producerEpoch !== e.epoch) {
      e.epoch = h.producerEpoch;
      e.batches = [];
    }
    e.batches.push({
      firstSeq: h.baseSequence,
      lastSeq: lastSequenceOf(h.baseSequence, h.lastOffsetDelta),
      firstOffset,
      lastOffset: firstOffset + BigInt(h.lastOffsetDelta),
      timestamp,
    });
    if (e.batches.length > PRODUCER_BATCH_HISTORY) e.batches.shift();
  }

  /**
   * Forgets producers whose last batch was appended `expirationMs` or more before `now`. Returns how many went.
   * (Kafka compares with the batch's own timestamp; Sluice with the log's clock when it appended the batch, so
   * a producer sending old CreateTime timestamps is not forgotten between two of its batches.)
   */
  removeExpired(now: number, expirationMs: number): number {
    const limit = BigInt(Math.trunc(now)) - BigInt(Math.trunc(expirationMs));
    let n = 0;
    for (const [pid, e] of this.producers) {
      const last = e.batches[e.batches.length - 1];
      if (!last || last.timestamp <= limit) {
        this.producers.delete(pid);
        n++;
      }
    }
    return n;
  }

  // ---- snapshots ----

  serialize(offset: bigint): Buffer {
    let size = 4 + 2 + 8 + 4 + 4;
    for (const e of this.producers.values()) size += 8 + 2 + 1 + e.batches.length * 32;
    const buf = Buffer.allocUnsafe(size);
    let p = 0;
    p = buf.writeUInt32BE(SNAPSHOT_MAGIC, p);
    p = buf.writeUInt16BE(SNAPSHOT_VERSION, p);
    p = buf.writeBigInt64BE(offset, p);
    p = buf.writeUInt32BE(this.producers.size, p);
    for (const e of this.producers.values()) {
      p = buf.writeBigInt64BE(e.producerId, p);
      p = buf.writeInt16BE(e.epoch, p);
      p = buf.writeUInt8(e.batches.length, p);
      for (const b of e.batches) {
        p = buf.writeInt32BE(b.firstSeq, p);
        p = buf.writeInt32BE(b.lastSeq, p);
        p = buf.writeBigInt64BE(b.firstOffset, p);
        p = buf.writeBigInt64BE(b.lastOffset, p);
        p = buf.writeBigInt64BE(b.timestamp, p);
      }
    }
    buf.writeUInt32BE(crc32c(buf, 0, p), p);
    return buf;
  }

  /** Parses a snapshot; throws on any inconsistency (bad magic, version, length or CRC). */
  static deserialize(buf: Buffer): { offset: bigint; table: ProducerStateTable } {
    if (buf.length < 22) throw new Error(`snapshot too short (${buf.length} bytes)`);
    const body = buf.length - 4;
    if (crc32c(buf, 0, body) !== buf.readUInt32BE(body)) throw new Error('snapshot CRC mismatch');
    if (buf.readUInt32BE(0) !== SNAPSHOT_MAGIC) throw new Error('not a producer-state snapshot');
    const version = buf.readUInt16BE(4);
    if (version !== SNAPSHOT_VERSION) throw new Error(`unsupported snapshot version ${version}`);
    const offset = buf.readBigInt64BE(6);
    const count = buf.readUInt32BE(14);
    const table = new ProducerStateTable();
    let p = 18;
    for (let i = 0; i < count; i++) {
      if (p + 11 > body) throw new Error('snapshot truncated');
      const producerId = buf.readBigInt64BE(p);
      const epoch = buf.readInt16BE(p + 8);
      const n = buf.readUInt8(p + 10);
      p += 11;
      if (p + n * 32 > body) throw new Error('snapshot truncated');
      const batches: BatchMetadata[] = [];
      for (let j = 0; j < n; j++, p += 32) {
        batches.push({
          firstSeq: buf.readInt32BE(p),
          lastSeq: buf.readInt32BE(p + 4),
          firstOffset: buf.readBigInt64BE(p + 8),
          lastOffset: buf.readBigInt64BE(p + 16),
          timestamp: buf.readBigInt64BE(p + 24),
        });
      }
      table.producers.set(producerId, { producerId, epoch, batches });
    }
    if (p !== body) throw new Error('snapshot has trailing bytes');
    return { offset, table };
  }
}

export function snapshotFileName(offset: bigint): string {
  return `${offset.toString().padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

/** Snapshot offsets present in `dir`, newest first. */
export function listSnapshots(dir: string): bigint[] {
  const out: bigint[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith(SNAPSHOT_SUFFIX) && /^\d{20}\.snapshot$/.test(name)) out.push(BigInt(name.slice(0, 20)));
  }
  return out.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/** Writes a snapshot durably (tmp + fsync + rename) and keeps only the newest `keep` snapshots. */
export function writeSnapshot(dir: string, table: ProducerStateTable, offset: bigint, keep = 2): void {
  const final = join(dir, snapshotFileName(offset));
  const tmp = `${final}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, table.serialize(offset));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, final);
  const all = listSnapshots(dir);
  for (const old of all.slice(keep)) {
    try {
      unlinkSync(join(dir, snapshotFileName(old)));
    } catch {
      // already gone
    }
  }
}

/** Deletes snapshots above `offset` (the log was truncated below them). */
export function deleteSnapshotsAbove(dir: string, offset: bigint): void {
  for (const o of listSnapshots(dir)) if (o > offset) unlinkSync(join(dir, snapshotFileName(o)));
}

/**
 * Loads the newest valid snapshot at or below `maxOffset`; invalid files are reported through `onInvalid`
 * and skipped. Returns null when there is none.
 */
export function loadSnapshot(
  dir: string,
  maxOffset: bigint,
  onInvalid?: (file: string, reason: string) => void,
): { offset: bigint; table: ProducerStateTable } | null {
  for (const o of listSnapshots(dir)) {
    if (o > maxOffset) continue;
    const file = join(dir, snapshotFileName(o));
    try {
      const r = ProducerStateTable.deserialize(readFileSync(file));
      if (r.offset !== o) throw new Error(`snapshot says offset ${r.offset}, file name says ${o}`);
      return r;
    } catch (e) {
      onInvalid?.(file, (e as Error).message);
    }
  }
  return null;
}

/** Deletes snapshots below `offset` (the log start moved past them). */
function deleteSnapshotsBelow(dir: string, offset: bigint): void {
  for (const o of listSnapshots(dir)) if (o < offset) unlinkSync(join(dir, snapshotFileName(o)));
}

/** Visits the headers of the log's batches from `from` to its end (PartitionLog.scanBatches). */
export type BatchReplay = (from: bigint, visit: (h: BatchHeader) => void) => void;

/**
 * A partition's producer state and its snapshot files, kept consistent with the log it belongs to (Kafka's
 * ProducerStateManager, beside UnifiedLog). As Kafka since KIP-360, a producer outlives its data: it is
 * forgotten when it expires, not when retention or DeleteRecords remove its batches (a producer writing
 * rarely to a short-retention topic would otherwise meet UNKNOWN_PRODUCER_ID after every deletion).
 */
export class ProducerStateManager {
  private table = new ProducerStateTable();

  constructor(
    readonly dir: string,
    readonly expirationMs: number,
    private readonly sink: LogSink,
  ) {}

  get size(): number {
    return this.table.size;
  }
  get(producerId: bigint): ProducerEntry | undefined {
    return this.table.get(producerId);
  }
  entries(): IterableIterator<ProducerEntry> {
    return this.table.entries();
  }
  check(h: ProducerBatchFields): SequenceCheck {
    return this.table.check(h);
  }
  update(h: ProducerBatchFields, firstOffset: bigint, timestamp: bigint): void {
    this.table.update(h, firstOffset, timestamp);
  }

  /**
   * (Re)builds the state of the log [logStart, logEnd): snapshots above the end go (they describe a log that
   * was cut), then the newest valid one at or below the end is loaded and the batches after it replayed;
   * producers expired at `now` are dropped. Expiry snapshots the table, so a reopen does not bring back a
   * producer the running log had forgotten.
   */
  load(logStart: bigint, logEnd: bigint, now: number, replay: BatchReplay): void {
    deleteSnapshotsAbove(this.dir, logEnd);
    const snap = loadSnapshot(this.dir, logEnd, (file, reason) => this.sink.warn({ file, reason }, 'ignoring invalid producer-state snapshot'));
    const table = snap?.table ?? new ProducerStateTable();
    const from = snap && snap.offset > logStart ? snap.offset : logStart;
    if (from < logEnd) {
      // when a replayed batch was appended is unknown: it counts as seen now
      const seen = BigInt(Math.trunc(now));
      replay(from, (h) => {
        if (h.producerId >= 0n) table.update(h, h.baseOffset, seen);
      });
    }
    this.table = table;
    this.removeExpired(now);
    this.onLogStartOffsetIncremented(logStart, logEnd);
  }

  /** The log start moved to `logStart`: snapshots below it go; the state they hold is kept in a new one. */
  onLogStartOffsetIncremented(logStart: bigint, logEnd: bigint): void {
    const snaps = listSnapshots(this.dir);
    if (!snaps.some((o) => o < logStart)) return;
    if (!snaps.some((o) => o >= logStart)) this.snapshot(logEnd);
    deleteSnapshotsBelow(this.dir, logStart);
  }

  /** The whole log was replaced by an empty one: no producer, no snapshot. */
  truncateFully(): void {
    this.table = new ProducerStateTable();
    deleteSnapshotsAbove(this.dir, -1n);
  }

  /** Forgets producers idle for `producer.id.expiration.ms` at `now`; returns how many. */
  removeExpired(now: number): number {
    return this.table.removeExpired(now, this.expirationMs);
  }

  /** Writes a snapshot valid for the log below `offset` (nothing when there is no producer and no snapshot yet). */
  snapshot(offset: bigint): void {
    if (this.table.size === 0 && listSnapshots(this.dir).length === 0) return;
    writeSnapshot(this.dir, this.table, offset);
  }
}
