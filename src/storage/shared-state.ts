/**
 * Per-partition state published by the owner thread in shared memory, so readers in any thread see the
 * log-end offset, high watermark and active-segment bounds without a round trip.
 *
 * Ordering: the owner writes log bytes first, then publishes (Atomics stores are sequentially consistent),
 * and bumps `hwSeq` last, notifying waiters; a reader that observes a published value can read every byte
 * below it.
 */

/** Bytes per partition slot. */
export const PARTITION_STATE_BYTES = 64;

// BigInt64 field indexes (relative to the slot, in 8-byte units)
const LOG_START = 0;
const LOG_END = 1;
const HIGH_WATERMARK = 2;
const LAST_STABLE = 3;
const ACTIVE_BASE = 4;
// Int32 field indexes (relative to the slot's byte 40, in 4-byte units)
const INT_BASE_BYTES = 40;
const HW_SEQ = 0; // bumped on every HW/log-start change; long polls wait on it
const SEGMENTS_EPOCH = 1; // bumped when the segment set changes (roll, deletion, truncation, compaction swap)
const ACTIVE_SIZE = 2; // valid bytes in the active segment
const ACTIVE_INDEX_ENTRIES = 3; // valid entries in the active segment's offset index
const FLAGS = 4; // bit 0: partition closed/deleted
const WAITERS = 5; // long polls watching the partition: the owner notifies only when there is one

export const FLAG_CLOSED = 1;

export class PartitionSharedState {
  readonly buffer: SharedArrayBuffer;
  readonly slot: number;
  private readonly big: BigInt64Array;
  private readonly ints: Int32Array;
  private readonly watch: Int32Array | null;

  /** `watchBuffer`: the engine's watch word (data-waits.ts), notified instead of this slot's sequence. */
  constructor(buffer: SharedArrayBuffer, slot: number, watchBuffer?: SharedArrayBuffer) {
    const byteOffset = slot * PARTITION_STATE_BYTES;
    if (byteOffset + PARTITION_STATE_BYTES > buffer.byteLength) throw new RangeError(`partition state slot ${slot} out of range`);
    this.buffer = buffer;
    this.slot = slot;
    this.big = new BigInt64Array(buffer, byteOffset, 5);
    this.ints = new Int32Array(buffer, byteOffset + INT_BASE_BYTES, 6);
    this.watch = watchBuffer === undefined ? null : new Int32Array(watchBuffer, 0, 1);
  }

  /** A standalone state (single-threaded use, tests). */
  static standalone(): PartitionSharedState {
    return new PartitionSharedState(new SharedArrayBuffer(PARTITION_STATE_BYTES), 0);
  }

  get logStartOffset(): bigint { return Atomics.load(this.big, LOG_START); }
  get logEndOffset(): bigint { return Atomics.load(this.big, LOG_END); }
  get highWatermark(): bigint { return Atomics.load(this.big, HIGH_WATERMARK); }
  get lastStableOffset(): bigint { return Atomics.load(this.big, LAST_STABLE); }
  get activeSegmentBaseOffset(): bigint { return Atomics.load(this.big, ACTIVE_BASE); }
  get activeSegmentSize(): number { return Atomics.load(this.ints, ACTIVE_SIZE); }
  get activeIndexEntries(): number { return Atomics.load(this.ints, ACTIVE_INDEX_ENTRIES); }
  get segmentsEpoch(): number { return Atomics.load(this.ints, SEGMENTS_EPOCH); }
  get hwSeq(): number { return Atomics.load(this.ints, HW_SEQ); }
  get closed(): boolean { return (Atomics.load(this.ints, FLAGS) & FLAG_CLOSED) !== 0; }

  /** Owner only: publish the active segment's write position (call after the bytes are written). */
  publishActive(baseOffset: bigint, size: number, indexEntries: number): void {
    Atomics.store(this.big, ACTIVE_BASE, baseOffset);
    Atomics.store(this.ints, ACTIVE_INDEX_ENTRIES, indexEntries);
    Atomics.store(this.ints, ACTIVE_SIZE, size);
  }
  /** Owner only: publish offsets; wakes long polls when anything changed. */
  publishOffsets(logStart: bigint, logEnd: bigint, highWatermark: bigint, lastStable: bigint = highWatermark): void {
    const changed =
      Atomics.load(this.big, HIGH_WATERMARK) !== highWatermark || Atomics.load(this.big, LOG_START) !== logStart;
    Atomics.store(this.big, LOG_START, logStart);
    Atomics.store(this.big, LOG_END, logEnd);
    Atomics.store(this.big, LAST_STABLE, lastStable);
    Atomics.store(this.big, HIGH_WATERMARK, highWatermark);
    if (changed) this.wake();
  }
  /** Owner only: the set of segment files changed; readers must re-list. */
  bumpSegmentsEpoch(): void {
    Atomics.add(this.ints, SEGMENTS_EPOCH, 1);
  }
  markClosed(): void {
    Atomics.or(this.ints, FLAGS, FLAG_CLOSED);
    this.wake();
  }
  /**
   * Engine thread: whether a long poll watches this partition. While one does, the owner bumps and notifies
   * the engine's watch word on every change (one word for all partitions: the engine sleeps on it once).
   */
  setWatched(on: boolean): void {
    if (on) Atomics.add(this.ints, WAITERS, 1);
    else Atomics.sub(this.ints, WAITERS, 1);
  }

  /**
   * Bumps the sequence; notifies only when a long poll waits (every append publishes, and a notify takes a
   * process-wide lock in V8 even with nobody waiting). A waiter registers before it checks the sequence, so
   * either it sees the bump or the owner sees it (sequentially consistent atomics).
   */
  private wake(): void {
    Atomics.add(this.ints, HW_SEQ, 1);
    if (Atomics.load(this.ints, WAITERS) === 0) return;
    if (this.watch === null) {
      Atomics.notify(this.ints, HW_SEQ);
    } else {
      Atomics.add(this.watch, 0, 1);
      Atomics.notify(this.watch, 0);
    }
  }

  /**
   * Resolves when `hwSeq` moves past `seenSeq` or after `timeoutMs`; never blocks the thread. Returns true
   * if woken by a change. Only for a state without a watch word (a standalone log): the engine's long polls
   * go through its DataWaits, which can be cancelled.
   */
  async waitForChange(seenSeq: number, timeoutMs: number): Promise<boolean> {
    if (this.watch !== null) throw new Error('waitForChange on a watched partition state: use the engine\'s waits');
    Atomics.add(this.ints, WAITERS, 1);
    try {
      if (Atomics.load(this.ints, HW_SEQ) !== seenSeq) return true;
      const r = Atomics.waitAsync(this.ints, HW_SEQ, seenSeq, timeoutMs);
      const v = r.async ? await r.value : r.value;
      return v !== 'timed-out';
    } finally {
      Atomics.sub(this.ints, WAITERS, 1);
    }
  }
}
