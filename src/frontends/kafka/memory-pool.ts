/**
 * queued.max.request.bytes: the bytes of request frames being read or handled, over all connections. A
 * connection reserves a frame's size as soon as its size prefix is read and releases it when the request has
 * been handled; when the pool cannot give it, the connection stops reading (Kafka mutes the channel) until
 * memory frees. Grants are first come, first served, so a large frame is not starved by small ones; a frame
 * always fits in an empty pool, so the total stays within max(capacity, socket.request.max.bytes).
 */
export interface PoolWaiter {
  readonly bytes: number;
  /** Called once the bytes are reserved for the waiter. */
  granted(): void;
}

export class RequestMemoryPool {
  private used = 0;
  private readonly waiters: PoolWaiter[] = [];

  /** `capacity` <= 0: unbounded (Kafka's -1). */
  constructor(readonly capacity: number) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Reserves `bytes` now if nobody waits ahead and they fit. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length > 0 || !this.fits(bytes)) return false;
    this.used += bytes;
    return true;
  }

  /** Queues `w`, after a failed `tryReserve`, to be granted when memory frees. */
  enqueue(w: PoolWaiter): void {
    this.waiters.push(w);
  }

  /** A queued waiter that no longer wants memory (its connection closed). */
  cancel(w: PoolWaiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    if (i === 0) this.grantWaiting();
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grantWaiting();
  }

  private fits(bytes: number): boolean {
    return this.capacity <= 0 || this.used === 0 || this.used + bytes <= this.capacity;
  }

  private grantWaiting(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      this.used += w.bytes;
      w.granted();
    }
  }
}
