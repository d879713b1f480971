/**
 * Time sources. The engine's owner threads must see the same time as the caller, so the manual clock keeps
 * its value in a SharedArrayBuffer that is handed to every owner.
 */
import type { ManualClock, Millis } from './types.js';

/** A manual clock over shared memory: `set`/`advance` move it, it never moves on its own. */
export class SharedManualClock implements ManualClock {
  readonly buffer: SharedArrayBuffer;
  private readonly cell: BigInt64Array;

  /** `start` defaults to the current wall time; pass `buffer` to attach to an existing clock (owner side). */
  constructor(start: Millis = Date.now(), buffer?: SharedArrayBuffer) {
    if (buffer) {
      if (buffer.byteLength < 8) throw new RangeError('a manual clock needs an 8-byte SharedArrayBuffer');
      this.buffer = buffer;
      this.cell = new BigInt64Array(buffer, 0, 1);
    } else {
      this.buffer = new SharedArrayBuffer(8);
      this.cell = new BigInt64Array(this.buffer, 0, 1);
      this.set(start);
    }
  }

  /** Attaches to the clock whose state lives in `buffer` (as created by another thread). */
  static attach(buffer: SharedArrayBuffer): SharedManualClock {
    return new SharedManualClock(0, buffer);
  }

  now(): Millis {
    return Number(Atomics.load(this.cell, 0));
  }
  set(ms: Millis): void {
    if (!Number.isFinite(ms)) throw new RangeError(`clock time must be finite, got ${ms}`);
    Atomics.store(this.cell, 0, BigInt(Math.trunc(ms)));
  }
  advance(ms: Millis): void {
    if (!Number.isFinite(ms)) throw new RangeError(`clock advance must be finite, got ${ms}`);
    Atomics.add(this.cell, 0, BigInt(Math.trunc(ms)));
  }
}

/** A manual clock starting at `start` ms (default: now). Pass it as `SluiceOptions.clock`. */
export function createManualClock(start?: Millis): ManualClock {
  return new SharedManualClock(start);
}

/** The system clock as a plain function. */
export const systemClock = (): Millis => Date.now();
