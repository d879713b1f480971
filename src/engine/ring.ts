/**
 * A single-producer / single-consumer ring of variable-length entries in a SharedArrayBuffer.
 *
 * The engine uses two per owner thread: the append ring (engine thread → owner) and the completion ring
 * (owner → engine thread). Lock-free: the producer alone moves `head`, the consumer alone moves `tail`, both
 * with Atomics (sequentially consistent), so entry bytes written before a `head` store are visible to a
 * consumer that loads that `head`.
 *
 * Layout of the buffer:
 *   [0, 256)            control block (Int32 cells, each on its own 64-byte line):
 *                         HEAD (@0): bytes ever written, mod 2^32
 *                         TAIL (@16): bytes ever consumed, mod 2^32
 *                         CONSUMER_SLEEPING (@32): 1 while the consumer waits on HEAD
 *                         PRODUCER_WAITING (@48): 1 while the producer waits on TAIL for space
 *   [256, 256+capacity) data; capacity is a power of two; positions are counter & (capacity - 1)
 *
 * Entry (8-byte aligned): int32 length of the payload | int32 a | int32 b | int32 c | payload | padding.
 * An entry never wraps: when it does not fit before the end, the producer writes a SKIP length and the entry
 * starts at position 0. One entry is at most capacity / 2 bytes, so a waiting producer always fits eventually.
 *
 * Wake-ups are cheap: the producer calls Atomics.notify only when the consumer has flagged that it sleeps,
 * and the consumer only when the producer has flagged that it waits for space. Each flag is set and cleared
 * by the side that waits, never by the side that wakes (see `wake`).
 */

const CONTROL_BYTES = 256;
const HEAD = 0;
const TAIL = 16;
const CONSUMER_SLEEPING = 32;
const PRODUCER_WAITING = 48;
/** Bytes of an entry's header. */
export const RING_ENTRY_HEADER = 16;
const SKIP = -1;

const align8 = (n: number): number => (n + 7) & ~7;

/** Smallest and largest data capacity accepted. */
export const MIN_RING_BYTES = 4096;
export const MAX_RING_BYTES = 1 << 30;

/** Rounds `bytes` up to the power of two the ring will use. */
export function ringCapacityFor(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes <= 0) throw new RangeError(`ring size must be a positive number, got ${bytes}`);
  let cap = MIN_RING_BYTES;
  while (cap < bytes && cap < MAX_RING_BYTES) cap *= 2;
  return cap;
}

/** Allocates the shared memory of a ring with at least `bytes` of data capacity. */
export function allocateRing(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + ringCapacityFor(bytes));
}

abstract class RingBase {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** Largest entry (header + payload, aligned) the ring accepts. */
  readonly maxEntryBytes: number;
  /** Largest payload the ring accepts. */
  readonly maxPayloadBytes: number;
  /** The data area as bytes; payload positions index into it. */
  readonly data: Buffer;
  protected readonly ctl: Int32Array;
  protected readonly words: Int32Array;
  protected readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    const cap = sab.byteLength - CONTROL_BYTES;
    if (cap < MIN_RING_BYTES || (cap & (cap - 1)) !== 0) throw new RangeError(`not a ring buffer: ${sab.byteLength} bytes`);
    this.sab = sab;
    this.capacity = cap;
    this.mask = cap - 1;
    this.maxEntryBytes = cap / 2;
    this.maxPayloadBytes = this.maxEntryBytes - RING_ENTRY_HEADER;
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.words = new Int32Array(sab, CONTROL_BYTES, cap / 4);
    this.data = Buffer.from(sab, CONTROL_BYTES, cap);
  }

  /** Bytes currently occupied (written and not yet released). */
  get usedBytes(): number {
    return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) >>> 0;
  }
}

/** The writing side. Not thread-safe: exactly one producer per ring. */
export class RingProducer extends RingBase {
  private head: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.ctl, HEAD);
  }

  /**
   * Reserves room for an entry with a `len`-byte payload; returns the payload's position in `data`, or -1
   * when the ring has no room now (wait with `waitForSpace` and retry). Must be followed by `commit` with
   * the same `len` before any other reserve.
   */
  reserve(len: number): number {
    const need = align8(RING_ENTRY_HEADER + len);
    if (need > this.maxEntryBytes) {
      throw new RangeError(`ring entry of ${need} bytes exceeds the ring's limit of ${this.maxEntryBytes} bytes`);
    }
    const head = this.head;
    const pos = head & this.mask;
    const toEnd = this.capacity - pos;
    const free = this.capacity - ((head - Atomics.load(this.ctl, TAIL)) >>> 0);
    if (need <= toEnd) {
      if (need > free) return -1;
      return pos + RING_ENTRY_HEADER;
    }
    if (toEnd + need > free) return -1;
    // Skip the tail end of the buffer; published together with the entry by `commit`.
    this.words[pos >> 2] = SKIP;
    this.head = (head + toEnd) | 0;
    return RING_ENTRY_HEADER;
  }

  /** Publishes the reserved entry (payload already written at the reserved position) and wakes the consumer. */
  commit(len: number, a: number, b: number, c: number): void {
    this.publish(len, a, b, c);
    this.wake();
  }

  /**
   * Publishes the reserved entry without waking the consumer: the caller batches wake-ups and must call
   * `wake()` after its last publish (a sleeping consumer sees nothing until then).
   */
  publish(len: number, a: number, b: number, c: number): void {
    const pos = this.head & this.mask;
    const w = pos >> 2;
    this.words[w] = len;
    this.words[w + 1] = a;
    this.words[w + 2] = b;
    this.words[w + 3] = c;
    this.head = (this.head + align8(RING_ENTRY_HEADER + len)) | 0;
    Atomics.store(this.ctl, HEAD, this.head);
  }

  /** Wakes the consumer if it sleeps (one notify however many entries were published since it slept). */
  wake(): void {
    // The flag is the consumer's to clear: clearing it here could hit a consumer that already saw this entry
    // and is on its way into a new wait, which would then sleep unflagged and miss every later wake-up.
    if (Atomics.load(this.ctl, CONSUMER_SLEEPING) !== 0) Atomics.notify(this.ctl, HEAD);
  }

  /** Whether an entry with a `len`-byte payload fits right now. */
  fits(len: number): boolean {
    const need = align8(RING_ENTRY_HEADER + len);
    const pos = this.head & this.mask;
    const toEnd = this.capacity - pos;
    const free = this.capacity - ((this.head - Atomics.load(this.ctl, TAIL)) >>> 0);
    return need <= toEnd ? need <= free : toEnd + need <= free;
  }

  /** Resolves when the consumer releases space (or after `timeoutMs`); never blocks the thread. */
  async waitForSpace(timeoutMs = Infinity): Promise<void> {
    const seen = Atomics.load(this.ctl, TAIL);
    Atomics.store(this.ctl, PRODUCER_WAITING, 1);
    if (Atomics.load(this.ctl, TAIL) === seen) {
      const r = Atomics.waitAsync(this.ctl, TAIL, seen, timeoutMs);
      if (r.async) await r.value;
    }
    Atomics.store(this.ctl, PRODUCER_WAITING, 0);
  }

  /** Blocks the thread until space is released or `timeoutMs` passes (worker threads only). */
  waitForSpaceSync(timeoutMs: number): void {
    const seen = Atomics.load(this.ctl, TAIL);
    Atomics.store(this.ctl, PRODUCER_WAITING, 1);
    if (Atomics.load(this.ctl, TAIL) === seen) Atomics.wait(this.ctl, TAIL, seen, timeoutMs);
    Atomics.store(this.ctl, PRODUCER_WAITING, 0);
  }
}

/** One entry as the consumer sees it; the object is reused by `next()`. */
export interface RingEntry {
  /** Position of the payload in `data`. */
  pos: number;
  len: number;
  a: number;
  b: number;
  c: number;
}

/** The reading side. Not thread-safe: exactly one consumer per ring. */
export class RingConsumer extends RingBase {
  private tail: number;
  private headSnapshot: number;
  private readonly entry: RingEntry = { pos: 0, len: 0, a: 0, b: 0, c: 0 };

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.tail = Atomics.load(this.ctl, TAIL);
    this.headSnapshot = this.tail;
  }

  /**
   * The next unread entry, or null when none is published. The payload stays valid until `release()`.
   * The returned object is reused by the next call.
   */
  next(): RingEntry | null {
    if (this.tail === this.headSnapshot) {
      this.headSnapshot = Atomics.load(this.ctl, HEAD);
      if (this.tail === this.headSnapshot) return null;
    }
    let pos = this.tail & this.mask;
    let len = this.words[pos >> 2];
    if (len === SKIP) {
      this.tail = (this.tail + (this.capacity - pos)) | 0;
      pos = 0;
      len = this.words[0];
    }
    const w = pos >> 2;
    const e = this.entry;
    e.pos = pos + RING_ENTRY_HEADER;
    e.len = len;
    e.a = this.words[w + 1];
    e.b = this.words[w + 2];
    e.c = this.words[w + 3];
    this.tail = (this.tail + align8(RING_ENTRY_HEADER + len)) | 0;
    return e;
  }

  /** Bytes consumed by `next()` since the last `release()`. */
  get unreleasedBytes(): number {
    return (this.tail - Atomics.load(this.ctl, TAIL)) >>> 0;
  }

  /** Hands the space of every entry returned so far back to the producer (one notify, only if it waits). */
  release(): void {
    Atomics.store(this.ctl, TAIL, this.tail);
    // As in `wake`: the waiting side clears its own flag.
    if (Atomics.load(this.ctl, PRODUCER_WAITING) !== 0) Atomics.notify(this.ctl, TAIL);
  }

  /** Whether a published entry is waiting to be read. */
  hasData(): boolean {
    return this.tail !== this.headSnapshot || this.tail !== Atomics.load(this.ctl, HEAD);
  }

  /** Wakes this consumer's own pending `waitForData` (from a timer of the same thread), if there is one. */
  wakeWaiter(): void {
    Atomics.notify(this.ctl, HEAD);
  }

  /**
   * Resolves when the producer publishes an entry (or after `timeoutMs`); never blocks the thread. Prefer no
   * timeout on hot paths: Node keeps a delayed task for each timed wait for its whole duration, even when the
   * wait ends early, and removing one scans all of them.
   */
  async waitForData(timeoutMs = Infinity): Promise<void> {
    const seen = this.tail;
    Atomics.store(this.ctl, CONSUMER_SLEEPING, 1);
    if (Atomics.load(this.ctl, HEAD) !== seen) {
      Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
      return;
    }
    const r = Atomics.waitAsync(this.ctl, HEAD, seen, timeoutMs);
    if (r.async) await r.value;
    Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
  }
}
