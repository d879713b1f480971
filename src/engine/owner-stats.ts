/**
 * Per-owner counters in shared memory, for monitoring: the owner writes them with Atomics on its own thread
 * (no postMessage per event), any other thread reads them whenever it likes (a metrics scrape).
 *
 * Layout (BigInt64 cells): [0] total fdatasync time in microseconds, then one count per bucket of
 * FLUSH_BUCKETS_SECONDS (a flush lands in the first bucket whose bound it does not exceed), then the
 * overflow (+Inf) bucket. The flush count is the sum of the buckets, so count and buckets always agree.
 */

/** Upper bounds of the fdatasync latency buckets, in seconds (an SSD syncs in ~0.1–5 ms, a busy disk in far more). */
export const FLUSH_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const FLUSH_MICROS = 0;
const FIRST_BUCKET = 1;
const CELLS = FIRST_BUCKET + FLUSH_BUCKETS_SECONDS.length + 1;

/** Shared memory for one owner's counters. */
export function allocateOwnerStats(): SharedArrayBuffer {
  return new SharedArrayBuffer(CELLS * 8);
}

/** The owner's side: records one flush. */
export class OwnerStatsWriter {
  private readonly cells: BigInt64Array;
  constructor(sab: SharedArrayBuffer) {
    this.cells = new BigInt64Array(sab);
  }

  recordFlush(seconds: number): void {
    let b = 0;
    while (b < FLUSH_BUCKETS_SECONDS.length && seconds > FLUSH_BUCKETS_SECONDS[b]!) b++;
    Atomics.add(this.cells, FIRST_BUCKET + b, 1n);
    Atomics.add(this.cells, FLUSH_MICROS, BigInt(Math.round(seconds * 1e6)));
  }
}

/** fdatasync timings of one owner since it started. */
export interface FlushStats {
  /** Flushes that synced data. */
  count: number;
  /** Their total duration, in seconds. */
  sumSeconds: number;
  /** Flushes per bucket of FLUSH_BUCKETS_SECONDS (not cumulative), plus one last overflow bucket. */
  buckets: number[];
}

export function readFlushStats(sab: SharedArrayBuffer): FlushStats {
  const cells = new BigInt64Array(sab);
  const buckets: number[] = [];
  let count = 0;
  for (let i = FIRST_BUCKET; i < CELLS; i++) {
    const n = Number(Atomics.load(cells, i));
    buckets.push(n);
    count += n;
  }
  return { count, sumSeconds: Number(Atomics.load(cells, FLUSH_MICROS)) / 1e6, buckets };
}

/** One owner thread as monitoring sees it (engine `ownerStats()`). */
export interface OwnerStats {
  owner: number;
  /** Partitions this owner writes. */
  partitions: number;
  /** Bytes written into the append ring and not yet consumed by the owner, and the ring's capacity. */
  appendRingUsedBytes: number;
  appendRingCapacityBytes: number;
  /** Bytes of completions the owner wrote and the engine thread has not drained yet, and that ring's capacity. */
  completionRingUsedBytes: number;
  completionRingCapacityBytes: number;
  /** Appends waiting for their completion or for ring space (back-pressure). */
  appendsInFlight: number;
  flush: FlushStats;
}
