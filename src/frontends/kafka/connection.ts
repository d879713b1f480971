/**
 * One client connection: Kafka framing (int32 size + request), pipelined requests answered strictly in
 * request order, and responses written as lists of buffers (cork + writev) so record bytes handed over by
 * reference reach the socket without a copy.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../engine/types.js';

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
  logger: Logger;
  onClose(conn: Connection): void;
}

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
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly queue: Slot[] = [];
  private closed = false;
  private paused = false;
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
    socket.on('drain', () => this.maybeResume());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection now, dropping unsent responses. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.chunks.length = 0;
    this.buffered = 0;
    this.queue.length = 0;
    this.socket.destroy();
    this.closer.abort();
    this.hooks.onClose(this);
  }

  private ended = false;
  private onEnd(): void {
    this.ended = true;
    if (this.queue.length === 0) this.endGracefully();
  }

  private endGracefully(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.closer.abort();
    this.hooks.onClose(this);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.parseFrames();
  }

  private parseFrames(): void {
    while (!this.closed && !this.paused && this.buffered >= 4) {
      const size = this.peekInt32();
      if (size < 0 || size > this.hooks.maxRequestBytes) {
        this.hooks.logger.warn(
          { remote: this.remote, size, max: this.hooks.maxRequestBytes },
          'kafka request size out of bounds (socket.request.max.bytes); closing connection',
        );
        this.destroy();
        return;
      }
      if (this.buffered < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      this.startRequest(frame);
      if (this.queue.length >= MAX_IN_FLIGHT) this.pause();
    }
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
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
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

  private startRequest(frame: Buffer): void {
    const slot: Slot = { done: false, result: undefined };
    this.queue.push(slot);
    let p: Promise<DispatchResult>;
    try {
      p = this.hooks.dispatch(frame, this);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (result) => this.complete(slot, result),
      (err: unknown) => {
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
          this.closer.abort();
          this.hooks.onClose(this);
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
      if (corked) this.socket.uncork();
    }
    if (this.closed) return;
    if (this.socket.writableLength >= MAX_WRITE_BACKLOG) this.pause();
    if (this.ended && this.queue.length === 0) {
      this.endGracefully();
      return;
    }
    this.maybeResume();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    if (this.queue.length < MAX_IN_FLIGHT / 2 && this.socket.writableLength < MAX_WRITE_BACKLOG) {
      this.paused = false;
      this.socket.resume();
      this.parseFrames();
    }
  }
}
