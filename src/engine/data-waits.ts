/**
 * Long polls (Fetch max.wait.ms, embedded consumer polls): a wait for data on any of several partitions,
 * like Kafka's delayed-fetch purgatory. A wait is one timer plus an entry per partition in this thread;
 * the thread holds a single `Atomics.waitAsync` for all waits, on a word that owners bump only when a
 * partition somebody watches changes. A wait that ends — data, timeout, abort — leaves nothing behind: its
 * timer is cleared and its partitions are unwatched at once (a per-partition `Atomics.waitAsync` cannot be
 * cancelled and kept owners notifying until its timeout).
 */
import type { PartitionSharedState } from '../storage/shared-state.js';

/** One partition of a wait: resolves when its high watermark or log start passes `offset`, or it closes. */
export interface DataWaitTarget {
  readonly state: PartitionSharedState;
  readonly offset: bigint;
}

interface Wait {
  done: boolean;
  finish(woken: boolean): void;
}

interface Watch {
  /** The partition's hwSeq when last scanned. */
  seq: number;
  /** Waits on this partition and the offset each waits past. */
  readonly waits: Map<Wait, bigint>;
}

/** setTimeout's limit; a longer wait ends (false) after ~24.8 days. */
const MAX_TIMER_MS = 0x7fffffff;

function ready(state: PartitionSharedState, offset: bigint): boolean {
  return state.highWatermark > offset || state.logStartOffset > offset || state.closed;
}

export class DataWaits {
  private readonly word: Int32Array;
  private readonly watched = new Map<PartitionSharedState, Watch>();
  private live = 0;
  private looping = false;

  /** `buffer` holds the watch word the owners bump (shared with every PartitionSharedState of the engine). */
  constructor(buffer: SharedArrayBuffer) {
    this.word = new Int32Array(buffer, 0, 1);
  }

  /** Waits in progress. */
  get size(): number {
    return this.live;
  }

  /**
   * Resolves true as soon as any target is ready, false after `timeoutMs` or when `signal` aborts.
   */
  wait(targets: readonly DataWaitTarget[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    for (const t of targets) if (ready(t.state, t.offset)) return Promise.resolve(true);
    if (!(timeoutMs > 0) || signal?.aborted || targets.length === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => w.finish(false);
      const w: Wait = {
        done: false,
        finish: (woken) => {
          if (w.done) return;
          w.done = true;
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          for (const t of targets) this.unwatch(t.state, w);
          if (--this.live === 0 && this.looping) Atomics.notify(this.word, 0); // ends the loop's wait
          resolve(woken);
        },
      };
      this.live++;
      // Watch first, then check: an owner that publishes in between sees the watch and wakes the loop.
      for (const t of targets) this.watch(t.state, w, t.offset);
      for (const t of targets) {
        if (ready(t.state, t.offset)) {
          w.finish(true);
          return;
        }
      }
      timer = setTimeout(() => w.finish(false), Math.min(timeoutMs, MAX_TIMER_MS));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.looping) void this.loop();
    });
  }

  /** Ends every wait (the engine is closing). */
  cancelAll(): void {
    for (const watch of [...this.watched.values()]) for (const w of [...watch.waits.keys()]) w.finish(false);
  }

  private watch(state: PartitionSharedState, w: Wait, offset: bigint): void {
    let watch = this.watched.get(state);
    if (watch === undefined) {
      state.setWatched(true);
      watch = { seq: state.hwSeq, waits: new Map() };
      this.watched.set(state, watch);
    }
    const prev = watch.waits.get(w);
    watch.waits.set(w, prev !== undefined && prev < offset ? prev : offset);
  }

  private unwatch(state: PartitionSharedState, w: Wait): void {
    const watch = this.watched.get(state);
    if (watch === undefined) return;
    watch.waits.delete(w);
    if (watch.waits.size === 0) {
      this.watched.delete(state);
      state.setWatched(false);
    }
  }

  /** While waits exist: sleep on the watch word, then wake the waits of partitions that changed. */
  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.live > 0) {
        const seen = Atomics.load(this.word, 0);
        for (const [state, watch] of this.watched) {
          const seq = state.hwSeq;
          if (seq === watch.seq) continue;
          watch.seq = seq;
          for (const [w, offset] of watch.waits) if (ready(state, offset)) w.finish(true);
        }
        if (this.live === 0) break;
        // No timeout: each wait has its own timer, and a timed waitAsync would linger in Node's task queue.
        const r = Atomics.waitAsync(this.word, 0, seen);
        if (r.async) await r.value;
      }
    } finally {
      this.looping = false;
    }
  }
}
