/**
 * The engine thread's side of one owner worker: it starts the thread, writes validated appends into its
 * append ring (queueing them while the ring is full), drains the completion ring and settles each append,
 * and carries control requests over postMessage.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
// Owner threads load the compression addons; a napi-rs addon (snappy) crashes the process when a worker that
// loaded it exits unless this thread holds it loaded too (rust-lang/rust#91979). Keep them loaded here.
import '../../native-bindings/codecs.js';
import { CorruptRecordError, errorFromWire, SluiceError } from '../errors.js';
import { BATCH_LENGTH_OFFSET, LOG_OVERHEAD } from '../record/batch-header.js';
import {
  ACKS_NONE,
  codeOfStatus,
  type OwnerInit,
  type OwnerMessage,
  type OwnerRequest,
  type OwnerResults,
  STATUS_OK,
} from './owner-protocol.js';
import { RingConsumer, RingProducer } from './ring.js';
import type { AppendResult, Logger } from './types.js';

/** How often the completion drain re-checks append deadlines while it waits. */
const TIMEOUT_CHECK_MS = 250;

const ACKS0_RESULT: AppendResult = Object.freeze({ baseOffset: -1n, lastOffset: -1n, logAppendTime: -1n, logStartOffset: -1n });

/**
 * Starts an owner thread. Compiled: owner-worker.js next to this file. When running from TypeScript sources
 * (tsx), the .ts sibling, through a bootstrap that registers tsx in the worker first (Node 20 workers do not
 * inherit module hooks registered with --import).
 */
function startOwnerWorker(init: OwnerInit, name: string): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./owner-worker.js', import.meta.url), { workerData: init, name });
  const script = new URL('./owner-worker.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(boot, { eval: true, workerData: init, name });
}

interface PendingAppend {
  resolve(r: AppendResult): void;
  reject(e: Error): void;
  /** performance.now() deadline. */
  deadline: number;
  /** Set when one append was split into several ring entries. */
  group: AppendGroup | null;
}

/** One append split over several ring entries (larger than half the ring): resolved when all are. */
interface AppendGroup {
  remaining: number;
  first: AppendResult | null;
  last: AppendResult | null;
  done: boolean;
  resolve(r: AppendResult): void;
  reject(e: Error): void;
}

interface QueuedWrite {
  slot: number;
  parts: readonly Buffer[];
  len: number;
  acks: number;
  reqId: number;
  /** acks=0: resolves once written into the ring. */
  written: (() => void) | null;
  failed: ((e: Error) => void) | null;
}

/** The engine thread's side of one owner worker. */
export class OwnerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly ring: RingProducer;
  readonly completions: RingConsumer;
  readonly stats: SharedArrayBuffer;
  private readonly pending = new Map<number, PendingAppend>();
  private nextReqId = 1;
  private queue: QueuedWrite[] = [];
  private queueHead = 0;
  private pumping = false;
  private draining = false;
  private readonly control = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextControlId = 1;
  private readonly ready: Promise<void>;
  failure: SluiceError | null = null;
  private exited = false;
  /** The worker keeps the process alive only while something is in flight (an idle engine does not). */
  private refs = 0;

  constructor(index: number, init: OwnerInit, private readonly logger: Logger | undefined) {
    this.index = index;
    this.ring = new RingProducer(init.appendRing);
    this.completions = new RingConsumer(init.completionRing);
    this.stats = init.statsBuffer;
    this.worker = startOwnerWorker(init, `sluice-owner-${index}`);
    this.worker.unref();
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.worker.on('message', (m: OwnerMessage) => {
      if ('ready' in m) readyResolve();
      else if ('log' in m) this.logger?.[m.log](m.obj, m.msg);
      else {
        const c = this.control.get(m.id);
        if (!c) return;
        this.control.delete(m.id);
        this.unhold();
        if (m.ok) c.resolve(m.value);
        else c.reject(errorFromWire(m.error.code, m.error.message));
      }
    });
    this.worker.on('error', (e) => {
      this.fail(new SluiceError('STORAGE', `owner thread ${index} failed: ${e.message}`, { cause: e }));
      readyReject(e);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new SluiceError('CLOSED', `owner thread ${index} exited (code ${code})`));
      readyReject(new SluiceError('STORAGE', `owner thread ${index} exited during start (code ${code})`));
    });
  }

  waitReady(): Promise<void> {
    this.hold();
    return this.ready.finally(() => this.unhold());
  }

  private hold(): void {
    if (this.refs++ === 0 && !this.exited) this.worker.ref();
  }
  private unhold(): void {
    if (--this.refs === 0 && !this.exited) this.worker.unref();
  }

  request<K extends OwnerRequest['op']>(req: Extract<OwnerRequest, { op: K }>): Promise<OwnerResults[K]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextControlId++;
    return new Promise<OwnerResults[K]>((resolve, reject) => {
      this.control.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.hold();
      this.worker.postMessage({ id, req });
    });
  }

  /** Fails everything in flight (owner crashed, or the engine is closing). */
  fail(err: SluiceError): void {
    if (!this.failure) this.failure = err;
    for (const c of this.control.values()) {
      c.reject(err);
      this.unhold();
    }
    this.control.clear();
    for (const p of this.pending.values()) this.settle(p, err, null);
    this.pending.clear();
    this.completions.wakeWaiter(); // a drain loop waiting for completions that will never come ends now
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i].failed?.(err);
    this.queue = [];
    this.queueHead = 0;
  }

  get inFlight(): number {
    return this.pending.size + (this.queue.length - this.queueHead);
  }

  /** Writes one append (already validated) into the ring; resolves per `acks`. */
  submit(slot: number, parts: readonly Buffer[], len: number, acks: number, timeoutMs: number): Promise<AppendResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (len > this.ring.maxPayloadBytes) return this.submitSplit(slot, parts, acks, timeoutMs);
    if (acks === ACKS_NONE) {
      if (this.queueHead === this.queue.length && this.tryWrite(slot, parts, len, 0, ACKS_NONE)) return Promise.resolve(ACKS0_RESULT);
      return new Promise((resolve, reject) => {
        this.enqueue({ slot, parts, len, acks, reqId: 0, written: () => resolve(ACKS0_RESULT), failed: reject });
      });
    }
    const reqId = this.nextReqId;
    this.nextReqId = (reqId + 1) | 0 || 1;
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.set(reqId, { resolve, reject, deadline: performance.now() + timeoutMs, group: null });
      if (this.queueHead === this.queue.length && this.tryWrite(slot, parts, len, reqId, acks)) {
        this.startDrain();
        return;
      }
      this.enqueue({ slot, parts, len, acks, reqId, written: null, failed: null });
      this.startDrain();
    });
  }

  /** An append larger than one ring entry: sent as several entries of whole batches. */
  private submitSplit(slot: number, parts: readonly Buffer[], acks: number, timeoutMs: number): Promise<AppendResult> {
    const max = this.ring.maxPayloadBytes;
    const chunks: Buffer[][] = [];
    let cur: Buffer[] = [];
    let curLen = 0;
    for (const buf of parts) {
      for (let pos = 0; pos < buf.length; ) {
        const size = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
        if (size > max) {
          return Promise.reject(
            new SluiceError('RECORD_TOO_LARGE', `batch of ${size} bytes exceeds the owner ring's entry limit of ${max} bytes; raise ringBytes`),
          );
        }
        if (curLen + size > max) {
          chunks.push(cur);
          cur = [];
          curLen = 0;
        }
        cur.push(buf.subarray(pos, pos + size));
        curLen += size;
        pos += size;
      }
    }
    if (cur.length) chunks.push(cur);
    const sizeOf = (c: Buffer[]): number => c.reduce((n, b) => n + b.length, 0);
    if (acks === ACKS_NONE) {
      return Promise.all(chunks.map((c) => this.submit(slot, c, sizeOf(c), acks, timeoutMs))).then(() => ACKS0_RESULT);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      const group: AppendGroup = { remaining: chunks.length, first: null, last: null, done: false, resolve, reject };
      const deadline = performance.now() + timeoutMs;
      for (const c of chunks) {
        const reqId = this.nextReqId;
        this.nextReqId = (reqId + 1) | 0 || 1;
        this.pending.set(reqId, { resolve: () => undefined, reject: () => undefined, deadline, group });
        this.enqueue({ slot, parts: c, len: sizeOf(c), acks, reqId, written: null, failed: null });
      }
      this.startDrain();
    });
  }

  private tryWrite(slot: number, parts: readonly Buffer[], len: number, reqId: number, acks: number): boolean {
    let pos = this.ring.reserve(len);
    if (pos < 0) return false;
    const data = this.ring.data;
    for (let i = 0; i < parts.length; i++) {
      data.set(parts[i], pos);
      pos += parts[i].length;
    }
    this.ring.publish(len, reqId, slot, acks);
    if (!this.wakeQueued) {
      // One wake-up for all the appends of this turn of the event loop (a produce request for many
      // partitions, a burst of producer sends): waking the owner costs both threads more than an entry does.
      this.wakeQueued = true;
      queueMicrotask(this.wakeOwner);
    }
    return true;
  }

  private wakeQueued = false;
  private readonly wakeOwner = (): void => {
    this.wakeQueued = false;
    this.ring.wake();
  };

  private enqueue(w: QueuedWrite): void {
    this.queue.push(w);
    if (!this.pumping) void this.pump();
  }

  /** Writes queued appends in order as the owner frees ring space (back-pressure: callers wait here). */
  private async pump(): Promise<void> {
    this.pumping = true;
    this.hold();
    try {
      while (this.queueHead < this.queue.length && !this.failure) {
        const w = this.queue[this.queueHead];
        if (this.tryWrite(w.slot, w.parts, w.len, w.reqId, w.acks)) {
          this.queue[this.queueHead++] = undefined as unknown as QueuedWrite; // drop the reference
          w.written?.();
          if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
            this.queue = this.queue.slice(this.queueHead);
            this.queueHead = 0;
          }
          continue;
        }
        this.ring.wake();
        await this.ring.waitForSpace(TIMEOUT_CHECK_MS);
        if (this.exited && !this.failure) this.fail(new SluiceError('CLOSED', `owner thread ${this.index} is gone`));
      }
    } finally {
      if (this.queueHead >= this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      this.pumping = false;
      this.unhold();
    }
  }

  private startDrain(): void {
    if (!this.draining) void this.drainLoop();
  }

  /** Drains completions while appends are in flight; stops (leaving no waiter behind) when none are. */
  private async drainLoop(): Promise<void> {
    this.draining = true;
    this.hold();
    // Deadlines are checked by a timer rather than by a timeout on each wait: every Atomics.waitAsync with a
    // timeout leaves a delayed task in Node's platform for its full duration, and removing one scans them all
    // (node::PerIsolatePlatformData::DeleteFromScheduledTasks in perf; without them the peak rate of 1.1 KiB
    // appends rose from ~125k/s to ~155k/s).
    const deadlines = setInterval(() => {
      this.expire(performance.now());
      if (this.pending.size === 0) this.completions.wakeWaiter();
    }, TIMEOUT_CHECK_MS);
    try {
      while (this.pending.size > 0) {
        this.drainCompletions();
        if (this.pending.size === 0) break;
        await this.completions.waitForData();
      }
    } finally {
      clearInterval(deadlines);
      this.draining = false;
      this.unhold();
    }
  }

  private drainCompletions(): void {
    const comp = this.completions;
    const data = comp.data;
    let e = comp.next();
    if (e === null) return;
    for (; e !== null; e = comp.next()) {
      const p = this.pending.get(e.a);
      if (p === undefined) continue; // timed out already
      this.pending.delete(e.a);
      if (e.b === STATUS_OK) {
        const pos = e.pos;
        this.settle(p, null, {
          baseOffset: data.readBigInt64LE(pos),
          lastOffset: data.readBigInt64LE(pos + 8),
          logAppendTime: data.readBigInt64LE(pos + 16),
          logStartOffset: data.readBigInt64LE(pos + 24),
        });
      } else {
        const code = codeOfStatus(e.b);
        const msg = data.toString('utf8', e.pos, e.pos + e.len);
        this.settle(p, code === 'CORRUPT_RECORD' ? new CorruptRecordError(msg) : errorFromWire(code, msg), null);
      }
    }
    comp.release();
  }

  private settle(p: PendingAppend, err: Error | null, r: AppendResult | null): void {
    const g = p.group;
    if (g === null) {
      if (err) p.reject(err);
      else p.resolve(r as AppendResult);
      return;
    }
    if (g.done) return;
    if (err) {
      g.done = true;
      g.reject(err);
      return;
    }
    if (!g.first) g.first = r;
    g.last = r;
    if (--g.remaining === 0) {
      g.done = true;
      const first = g.first as AppendResult;
      const last = g.last as AppendResult;
      g.resolve({ baseOffset: first.baseOffset, lastOffset: last.lastOffset, logAppendTime: last.logAppendTime, logStartOffset: last.logStartOffset });
    }
  }

  private expire(now: number): void {
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        this.settle(p, new SluiceError('TIMEOUT', 'append was not acknowledged in time (it may still be written)'), null);
      }
    }
  }

  /** Resolves when every queued and pending append has completed (or `timeoutMs` passed). */
  async quiesce(timeoutMs: number): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.inFlight > 0 && !this.failure && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async terminate(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}
