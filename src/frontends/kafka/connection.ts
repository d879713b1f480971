/**
 * One client connection: Kafka framing (int32 size + request), pipelined requests answered strictly in
 * request order, and responses written as lists of buffers (cork + writev) so record bytes handed over by
 * reference reach the socket without a copy.
 *
 * Bounds (Kafka's socket server): a frame's size is reserved in the broker's request memory pool as soon as
 * its size prefix is read, and the connection reads nothing more until the pool grants it; the frame must
 * then arrive in full within the request deadline counted from its first byte (a client trickling bytes
 * gains nothing); a connection with nothing in flight and no traffic for connections.max.idle.ms is closed.
 */
import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from '../../engine/types.js';
import type { PoolWaiter, RequestMemoryPool } from './memory-pool.js';

/** What the dispatcher returns for one request. */
export type DispatchResult =
  /** Write these buffers (a complete response frame, size prefix included), in order. */
  | { kind: 'respond'; chunks: Buffer[] }
  /** The protocol says no response (Produce with acks=0). */
  | { kind: 'none' }
  /** The request cannot be answered (unknown API, undecodable): close after earlier responses. */
  | { kind: 'close'; reason: string };

export interface ConnectionHooks {
  /** Decodes and handles one request frame (without its size prefix). Must not throw; may reject. */
  dispatch(frame: Buffer, conn: Connection): Promise<DispatchResult>;
  /** Largest request frame accepted (socket.request.max.bytes). */
  maxRequestBytes: number;
  /** queued.max.request.bytes, shared by every connection of the broker. */
  pool: RequestMemoryPool;
  logger: Logger;
  onClose(conn: Connection): void;
  /** The connection closes itself for a cause the broker counts (before `onClose`). */
  onCloseForCause(cause: ConnectionCloseCause, conn: Connection): void;
}

/**
 * Why the broker closed or refused a connection on its own: a protocol violation (bad or oversized frame,
 * unknown API, malformed request), a request not received in full in time, idleness, a connection limit, a
 * failed acks=0 produce (Kafka closes so that the client notices), or a failure of the broker's own.
 */
export type ConnectionCloseCause =
  | 'protocol_error'
  | 'request_timeout'
  | 'idle'
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'acks0_produce_failed'
  | 'server_error';

/** Requests in flight before the connection stops reading from the socket (pipelining bound). */
const MAX_IN_FLIGHT = 128;
/** Bytes queued in the socket before we stop reading more requests (slow reader protection). */
const MAX_WRITE_BACKLOG = 64 * 1024 * 1024;

interface Slot {
  done: boolean;
  result: DispatchResult | undefined;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remote: string;
  /** The client's address, as Kafka reports it in group member descriptions. */
  readonly remoteAddress: string;
  /**
   * Requests of one connection are handled concurrently, but appends must reach the log in request order.
   * A Produce that has to wait before appending (topic auto-creation) sets this; later Produce requests of
   * the connection wait for it before appending.
   */
  produceGate: Promise<void> | null = null;
  /** Bytes read and not yet part of a frame (a size prefix, the start of a frame waiting for memory). */
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** The frame being read: its size once the prefix is read (-1 before), its pool reservation, its buffer. */
  private frameSize = -1;
  private reserved = 0;
  private frameBuf: Buffer | null = null;
  private frameFilled = 0;
  /** Waiting for the pool to grant `frameSize` bytes (the socket is paused meanwhile). */
  private waiter: PoolWaiter | null = null;
  /** Date.now() when the first byte of the frame in progress arrived; 0 between frames. */
  private frameStartedAt = 0;
  /** Date.now() of the last bytes read or written. */
  private lastActive = Date.now();
  private readonly queue: Slot[] = [];
  private closed = false;
  /** Back-pressure: too many requests in flight or too many response bytes unsent. */
  private paused = false;
  /** While paused: bytes the socket had finished sending at the last sweep, and when that last grew. */
  private sentAtSweep = 0;
  private lastSendProgress = 0;
  /** Date.now() when the pool last granted this connection's frame its memory. */
  private grantedAt = 0;
  private readonly closer = new AbortController();
  /** Aborts when the connection closes: long polls stop waiting for a client that is gone. */
  readonly closedSignal: AbortSignal = this.closer.signal;
  private readonly socket: Socket;
  private readonly hooks: ConnectionHooks;

  constructor(socket: Socket, hooks: ConnectionHooks) {
    this.socket = socket;
    this.hooks = hooks;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.remote = `${this.remoteAddress}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // A half-closed socket (client sent FIN) may still be waiting for answers to what it sent: answer, then end.
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => {
      this.hooks.logger.debug({ err, remote: this.remote }, 'kafka connection error');
      this.destroy();
    });
    socket.on('close', () => this.destroy());
    socket.on('drain', () => {
      this.maybeResume();
      this.endIfDone();
    });
    // Many long polls of one connection each listen for its close: not a leak.
    setMaxListeners(0, this.closedSignal);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection now, dropping unsent responses. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.socket.destroy();
    this.closeDown();
  }

  /**
   * Closes for a cause the broker counts (and logs). A request deadline or idle expiry is checked by the
   * broker's sweep (`expire`); a bad size prefix here.
   */
  private closeFor(cause: ConnectionCloseCause, message: string, details: object = {}): void {
    if (this.closed) return;
    this.hooks.onCloseForCause(cause, this);
    this.hooks.logger.warn({ remote: this.remote, ...details }, message);
    this.destroy();
  }

  /**
   * Called by the broker's periodic sweep: closes a connection whose frame in progress is older than
   * `requestTimeoutMs` (unless the broker itself stopped reading it for back-pressure), or that has had
   * nothing in flight and no traffic for `idleMs`.
   */
  expire(now: number, requestTimeoutMs: number, idleMs: number): void {
    if (this.closed) return;
    if (this.paused && this.socket.writableLength > 0) {
      // Paused for answers the client does not read: whatever else it does, a client that takes none of them
      // for idleMs is gone (it would otherwise keep its frame's memory for ever).
      const sent = this.socket.bytesWritten - this.socket.writableLength;
      if (sent !== this.sentAtSweep) {
        this.sentAtSweep = sent;
        this.lastSendProgress = now;
      } else if (now - this.lastSendProgress >= idleMs) {
        this.closeFor('idle', 'kafka client reads no answers (connections.max.idle.ms); closing connection', { unsent: this.socket.writableLength, idleMs });
        return;
      }
    }
    if (this.frameStartedAt !== 0) {
      // Time paused for back-pressure is not the client's slowness. Time muted waiting for memory counts (so
      // half-sent frames queued behind each other all end near the deadline), but a frame granted memory just
      // now gets a moment to be read: a small request muted behind a silent one is answered, not closed.
      const grace = Math.min(1000, requestTimeoutMs / 4);
      if (!this.paused && now - this.frameStartedAt >= requestTimeoutMs && now - this.grantedAt >= grace) {
        const received = this.frameSize < 0 ? this.buffered : this.frameFilled + this.buffered;
        this.closeFor('request_timeout', 'kafka request not received in full in time; closing connection', {
          size: this.frameSize,
          received,
          timeoutMs: requestTimeoutMs,
          waitingForMemory: this.waiter !== null,
        });
      }
      return;
    }
    if (this.queue.length === 0 && now - this.lastActive >= idleMs) {
      this.hooks.onCloseForCause('idle', this);
      this.hooks.logger.debug({ remote: this.remote, idleMs }, 'kafka connection idle (connections.max.idle.ms); closing');
      this.destroy();
    }
  }

  /** Whatever the connection holds goes back: input bytes, its frame's memory, its place in the pool's queue. */
  private closeDown(): void {
    this.chunks.length = 0;
    this.buffered = 0;
    this.frameBuf = null;
    if (this.waiter !== null) {
      this.hooks.pool.cancel(this.waiter);
      this.waiter = null;
    }
    if (this.reserved > 0) {
      const n = this.reserved;
      this.reserved = 0;
      this.hooks.pool.release(n);
    }
    this.closer.abort();
    this.hooks.onClose(this);
  }

  private ended = false;
  private onEnd(): void {
    this.ended = true;
    this.endIfDone();
  }

  /** After the client's FIN: end once every complete request it sent has been answered. */
  private endIfDone(): void {
    // A frame waiting for memory, or complete frames not parsed while paused, are requests still to answer.
    if (this.ended && this.queue.length === 0 && this.waiter === null && !this.paused) this.endGracefully();
  }

  private endGracefully(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.closeDown();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastActive = now;
    if (this.frameStartedAt === 0) this.frameStartedAt = now;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.parseFrames();
  }

  private parseFrames(): void {
    while (!this.closed && !this.paused && this.waiter === null) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return;
        const size = this.peekInt32();
        if (size < 0 || size > this.hooks.maxRequestBytes) {
          this.closeFor('protocol_error', 'kafka request size out of bounds (socket.request.max.bytes); closing connection', {
            size,
            max: this.hooks.maxRequestBytes,
          });
          return;
        }
        this.take(4);
        this.frameSize = size;
        if (!this.hooks.pool.tryReserve(size)) {
          // Kafka mutes the channel: nothing more is read from this client until memory frees.
          const waiter: PoolWaiter = { bytes: size, granted: () => this.granted(waiter) };
          this.waiter = waiter;
          this.hooks.pool.enqueue(waiter);
          this.socket.pause();
          return;
        }
        this.reserved = size;
      }
      const frame = this.frameBody();
      if (frame === null) return;
      const bytes = this.reserved;
      this.reserved = 0;
      this.frameSize = -1;
      this.frameStartedAt = this.buffered > 0 ? Date.now() : 0;
      this.startRequest(frame, bytes);
      if (this.queue.length >= MAX_IN_FLIGHT) this.pause();
    }
  }

  /** The pool reserved this connection's frame: read on. */
  private granted(w: PoolWaiter): void {
    if (this.waiter !== w) return;
    this.waiter = null;
    if (this.closed) {
      this.hooks.pool.release(w.bytes);
      return;
    }
    this.reserved = w.bytes;
    this.grantedAt = Date.now();
    if (!this.paused) this.socket.resume();
    // Off the releasing call's stack: it may be another connection's teardown or the sweep.
    queueMicrotask(() => {
      this.parseFrames();
      this.endIfDone();
    });
  }

  /**
   * The frame once all its bytes are here, else null. A frame inside one socket chunk is a view of it; a
   * frame spread over several is copied into its own buffer as its bytes arrive, so no chunk is held twice.
   */
  private frameBody(): Buffer | null {
    const size = this.frameSize;
    if (this.frameBuf === null) {
      if (this.buffered >= size) return this.take(size);
      this.frameBuf = Buffer.allocUnsafe(size);
      this.frameFilled = 0;
    }
    const buf = this.frameBuf;
    while (this.frameFilled < size && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(size - this.frameFilled, c.length);
      c.copy(buf, this.frameFilled, 0, k);
      this.frameFilled += k;
      this.buffered -= k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    if (this.frameFilled < size) return null;
    this.frameBuf = null;
    return buf;
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let n = 0;
    for (const c of this.chunks) {
      const k = Math.min(4 - n, c.length);
      c.copy(head, n, 0, k);
      n += k;
      if (n === 4) break;
    }
    return head.readInt32BE(0);
  }

  /** Removes `n` bytes from the front of the input; a view of the socket's chunk when it holds them all. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(n - filled, c.length);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  /** Dispatches a frame; its `bytes` of pool memory are released once it has been handled. */
  private startRequest(frame: Buffer, bytes: number): void {
    const slot: Slot = { done: false, result: undefined };
    this.queue.push(slot);
    let p: Promise<DispatchResult>;
    try {
      p = this.hooks.dispatch(frame, this);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (result) => {
        this.hooks.pool.release(bytes);
        this.complete(slot, result);
      },
      (err: unknown) => {
        this.hooks.pool.release(bytes);
        this.hooks.onCloseForCause('server_error', this);
        this.hooks.logger.warn({ err, remote: this.remote }, 'kafka request failed; closing connection');
        this.complete(slot, { kind: 'close', reason: 'handler error' });
      },
    );
  }

  private complete(slot: Slot, result: DispatchResult): void {
    if (this.closed) return;
    slot.done = true;
    slot.result = result;
    this.flush();
  }

  /** Writes every finished response at the head of the queue, in request order, in one corked batch. */
  private flush(): void {
    let corked = false;
    try {
      while (!this.closed && this.queue.length > 0 && this.queue[0]!.done) {
        const slot = this.queue.shift()!;
        const result = slot.result!;
        if (result.kind === 'close') {
          if (corked) {
            this.socket.uncork();
            corked = false;
          }
          this.hooks.logger.debug({ remote: this.remote, reason: result.reason }, 'kafka connection closed by broker');
          // Answers already written are flushed by end(); nothing after this request is answered.
          this.closed = true;
          this.queue.length = 0;
          this.socket.destroySoon();
          this.closeDown();
          return;
        }
        if (result.kind === 'none') continue;
        if (!corked) {
          this.socket.cork();
          corked = true;
        }
        for (const c of result.chunks) if (c.length > 0) this.socket.write(c);
      }
    } finally {
      if (corked) {
        this.socket.uncork();
        this.lastActive = Date.now();
      }
    }
    if (this.closed) return;
    if (this.socket.writableLength >= MAX_WRITE_BACKLOG) this.pause();
    this.maybeResume();
    this.endIfDone();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sentAtSweep = this.socket.bytesWritten - this.socket.writableLength;
    this.lastSendProgress = Date.now();
    this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    if (this.queue.length < MAX_IN_FLIGHT / 2 && this.socket.writableLength < MAX_WRITE_BACKLOG) {
      this.paused = false;
      // The client was not slow: its frame in progress waited on us. Its deadline starts again.
      if (this.frameStartedAt !== 0) this.frameStartedAt = Date.now();
      if (this.waiter === null) this.socket.resume();
      this.parseFrames();
    }
  }
}
