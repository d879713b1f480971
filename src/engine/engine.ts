/**
 * The engine: topics and partitions, owner worker threads, append rings, reads in the caller's thread.
 *
 * Appends are validated here (structure + CRC, size), then written into the append ring of the owner thread
 * that owns the partition; the owner appends, flushes as the topic's policy requires, and writes completions
 * into its completion ring, which this thread drains. Reads go straight to the segment files through a
 * PartitionReader over the partition's shared state: no round trip to the owner.
 */
import { availableParallelism } from 'node:os';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
// Owner threads load the compression addons; a napi-rs addon (snappy) crashes the process when a worker that
// loaded it exits unless this thread holds it loaded too (rust-lang/rust#91979). Keep them loaded here.
import '../../native-bindings/codecs.js';
import { CorruptRecordError, errorFromWire, SluiceError } from '../errors.js';
import { BATCH_LENGTH_OFFSET, LOG_OVERHEAD, validateBatch } from '../record/batch-header.js';
import { validateProducedBatch, type ProduceRules } from '../record/validate.js';
import { DEFAULT_LOG_CONFIG, logConfigToEntries, parseLogConfig } from '../storage/config.js';
import { PartitionReader } from '../storage/partition-reader.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS } from '../storage/producer-state.js';
import { PARTITION_STATE_BYTES, PartitionSharedState } from '../storage/shared-state.js';
import type { LogConfig } from '../storage/types.js';
import { systemClock } from './clock.js';
import {
  ACKS_ALL,
  ACKS_LEADER,
  ACKS_NONE,
  codeOfStatus,
  type OwnerInit,
  type OwnerMessage,
  type OwnerRequest,
  type OwnerResults,
  STATUS_OK,
} from './owner-protocol.js';
import { ProducerIdManager } from './producer-ids.js';
import { allocateRing, RingConsumer, RingProducer } from './ring.js';
import { allocateOwnerStats, readFlushStats, type OwnerStats } from './owner-stats.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { DataWaits, type DataWaitTarget } from './data-waits.js';
import { fsyncDir, type TopicRecord, TopicStore, validateTopicName } from './topic-store.js';
import type {
  Acks,
  AppendOptions,
  AppendResult,
  CreateTopicOptions,
  Logger,
  ManualClock,
  Millis,
  OffsetSpec,
  PartitionDescription,
  ProducerIdAndEpoch,
  ReadResult,
  SluiceOptions,
  SluiceReadOptions,
  TimestampOffset,
  TopicDescription,
  TopicOffsets,
  WaitForDataTarget,
} from './types.js';

const DEFAULT_RING_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAINTENANCE_MS = 300_000;
const DEFAULT_APPEND_TIMEOUT_MS = 30_000;
const SLOTS_PER_CHUNK = 1024;
/** Kafka's partition limit per topic is effectively unbounded; this keeps a typo from opening a million files. */
const MAX_PARTITIONS = 100_000;
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

/**
 * Developer switch for bench/produce-validation.ts, which measures what the per-record produce checks cost:
 * with it set, appends get only the framing and CRC checks. Not a configuration: Kafka has no such setting.
 */
const SKIP_RECORD_VALIDATION = process.env['SLUICEDEV_SKIP_RECORD_VALIDATION'] === '1';

/** Decompressed records of one produced batch are bounded by this many times max.message.bytes (and 16..256 MiB). */
const DECOMPRESSION_RATIO_BOUND = 64;

const produceRules = new WeakMap<LogConfig, ProduceRules>();

/** The produce checks a topic config implies (message.timestamp.*.max.ms follow Kafka's precedence). */
function produceRulesOf(config: LogConfig): ProduceRules {
  let r = produceRules.get(config);
  if (r === undefined) {
    const other = config.otherConfigs ?? {};
    const ms = (key: string): number => {
      const v = other[key];
      // Kafka's Long.MAX_VALUE (and anything near it) is "no bound".
      return v === undefined || Number(v) >= Number.MAX_SAFE_INTEGER ? Infinity : Number(v);
    };
    const difference = ms('message.timestamp.difference.max.ms');
    const before = ms('message.timestamp.before.max.ms');
    const after = ms('message.timestamp.after.max.ms');
    r = {
      logAppendTime: config.messageTimestampType === 'LogAppendTime',
      compacted: config.cleanupPolicy.compact,
      timestampBeforeMaxMs: before !== Infinity ? before : difference,
      timestampAfterMaxMs: after !== Infinity ? after : difference,
      maxDecompressedBytes: Math.min(256 * 1024 * 1024, Math.max(16 * 1024 * 1024, DECOMPRESSION_RATIO_BOUND * config.maxMessageBytes)),
    };
    produceRules.set(config, r);
  }
  return r;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function acksCode(acks: Acks | undefined): number {
  switch (acks) {
    case undefined:
    case -1:
    case 'all':
      return ACKS_ALL;
    case 1:
      return ACKS_LEADER;
    case 0:
      return ACKS_NONE;
    default:
      throw new SluiceError('INVALID_ARGUMENT', `acks must be 0, 1, -1 or 'all', got ${String(acks)}`);
  }
}

/** Shared-memory slots for partition states, in chunks (a SharedArrayBuffer cannot grow in Node 20). */
class SlotAllocator {
  private readonly chunks: SharedArrayBuffer[] = [];
  private next = 0;
  /** Slots are never reused, so a stale ring entry can never reach a different partition. */
  allocate(): { slot: number; buffer: SharedArrayBuffer; index: number } {
    const slot = this.next++;
    const chunk = Math.floor(slot / SLOTS_PER_CHUNK);
    while (this.chunks.length <= chunk) this.chunks.push(new SharedArrayBuffer(SLOTS_PER_CHUNK * PARTITION_STATE_BYTES));
    return { slot, buffer: this.chunks[chunk], index: slot % SLOTS_PER_CHUNK };
  }
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
class OwnerHandle {
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

interface PartitionHandle {
  topic: TopicState;
  partition: number;
  slot: number;
  owner: OwnerHandle;
  state: PartitionSharedState;
  reader: PartitionReader;
  dir: string;
}

interface TopicState {
  record: TopicRecord;
  config: LogConfig;
  partitions: PartitionHandle[];
}

type EngineState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The engine core: topics, partitions, owner workers, appends and reads. Apps use `Sluice` (src/sluice.ts),
 * which adds the embedded producer, consumer and committed offsets; frontends need only this core.
 */
export class SluiceEngine {
  readonly dataDir: string;
  private readonly options: SluiceOptions;
  private readonly ownerCount: number;
  private readonly ringBytes: number;
  private readonly logger: Logger | undefined;
  private readonly clockFn: () => Millis;
  private readonly store: TopicStore;
  private readonly producerIds: ProducerIdManager;
  private readonly slots = new SlotAllocator();
  private readonly topics = new Map<string, TopicState>();
  private owners: OwnerHandle[] = [];
  private baseConfig: LogConfig = DEFAULT_LOG_CONFIG;
  private state: EngineState = 'new';
  private releaseLock: (() => void) | null = null;
  /** Serializes topic mutations (create/delete/add partitions/alter). */
  private metaChain: Promise<unknown> = Promise.resolve();
  /** The word owners bump when a partition a long poll watches changes; and the long polls. */
  private readonly watchBuffer = new SharedArrayBuffer(4);
  private readonly waits = new DataWaits(this.watchBuffer);

  constructor(options: SluiceOptions) {
    if (!options || typeof options.dataDir !== 'string' || options.dataDir.length === 0) {
      throw new SluiceError('INVALID_ARGUMENT', 'SluiceOptions.dataDir is required');
    }
    this.options = options;
    this.dataDir = options.dataDir;
    const owners = options.owners ?? availableParallelism();
    if (!Number.isInteger(owners) || owners < 1 || owners > 256) {
      throw new SluiceError('INVALID_ARGUMENT', `owners must be an integer in [1, 256], got ${owners}`);
    }
    this.ownerCount = owners;
    this.ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    if (!Number.isFinite(this.ringBytes) || this.ringBytes < 65536) {
      throw new SluiceError('INVALID_ARGUMENT', `ringBytes must be at least 65536, got ${this.ringBytes}`);
    }
    const exp = options.producerIdExpirationMs;
    if (exp !== undefined && !(Number.isSafeInteger(exp) && exp >= 1)) {
      throw new SluiceError('INVALID_ARGUMENT', `producerIdExpirationMs must be an integer of at least 1, got ${exp}`);
    }
    this.logger = options.logger;
    const clock = options.clock;
    this.clockFn = clock ? () => clock.now() : systemClock;
    this.store = new TopicStore(this.dataDir);
    this.producerIds = new ProducerIdManager(this.store.metaDir);
  }

  /** Creates an engine and opens it. */
  static async open<T extends SluiceEngine>(this: new (options: SluiceOptions) => T, options: SluiceOptions): Promise<T> {
    const s = new this(options);
    await s.open();
    return s;
  }

  /** Loads every topic and opens all partitions (owners open theirs in parallel). */
  async open(): Promise<void> {
    if (this.state !== 'new') throw new SluiceError('INVALID_ARGUMENT', `engine cannot be opened twice (it is ${this.state})`);
    this.state = 'opening';
    try {
      this.baseConfig = parseLogConfig(this.options.topicDefaults ?? {}, DEFAULT_LOG_CONFIG);
      const maxMsg = this.baseConfig.maxMessageBytes;
      await mkdir(this.dataDir, { recursive: true });
      this.releaseLock = acquireDataDirLock(this.dataDir);
      await this.store.init();
      await this.producerIds.load();
      await this.removeDeletedDirs();
      const ringBytes = Math.max(this.ringBytes, 2 * (maxMsg + 64));
      const completionBytes = Math.max(65536, ringBytes / 4);
      const maintenanceIntervalMs = this.options.maintenanceIntervalMs ?? DEFAULT_MAINTENANCE_MS;
      const producerIdExpirationMs = this.options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
      for (let i = 0; i < this.ownerCount; i++) {
        const init: OwnerInit = {
          ownerIndex: i,
          appendRing: allocateRing(ringBytes),
          completionRing: allocateRing(completionBytes),
          clockBuffer: this.options.clock?.buffer ?? null,
          maintenanceIntervalMs,
          producerIdExpirationMs,
          statsBuffer: allocateOwnerStats(),
          watchBuffer: this.watchBuffer,
          onCorruption: this.options.onCorruption ?? 'refuse',
        };
        this.owners.push(new OwnerHandle(i, init, this.logger));
      }
      await Promise.all(this.owners.map((o) => o.waitReady()));
      const records = await this.store.loadAll();
      const opens: Promise<void>[] = [];
      for (const r of records) {
        const t: TopicState = { record: r, config: parseLogConfig(r.configs, this.baseConfig), partitions: [] };
        this.topics.set(r.name, t);
        for (let p = 0; p < r.partitions; p++) opens.push(this.openPartition(t, p));
      }
      await Promise.all(opens);
      this.state = 'open';
      this.logger?.info({ dataDir: this.dataDir, topics: records.length, owners: this.ownerCount }, 'sluice engine open');
    } catch (e) {
      this.state = 'closed';
      for (const o of this.owners) o.fail(new SluiceError('CLOSED', 'engine failed to open'));
      await Promise.all(this.owners.map((o) => o.terminate()));
      this.releaseLock?.();
      throw e;
    }
  }

  /** Flushes, snapshots producer state, writes clean-shutdown markers and stops the owners. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.state !== 'open') throw new SluiceError('INVALID_ARGUMENT', `engine is ${this.state}`);
    this.state = 'closing';
    await this.metaChain.catch(() => undefined);
    await Promise.all(this.owners.map((o) => o.quiesce(5000)));
    const errors: unknown[] = [];
    await Promise.all(
      this.owners.map((o) =>
        o.request({ op: 'close' }).catch((e: unknown) => {
          if (!o.failure) errors.push(e);
        }),
      ),
    );
    for (const o of this.owners) o.fail(new SluiceError('CLOSED', 'engine is closed'));
    await Promise.all(this.owners.map((o) => o.terminate()));
    this.waits.cancelAll();
    for (const t of this.topics.values()) for (const p of t.partitions) p.reader.close();
    this.topics.clear();
    this.state = 'closed';
    this.releaseLock?.();
    if (errors.length) throw errors[0];
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Current time of the engine's clock (the manual clock when one was given). */
  now(): Millis {
    return this.clockFn();
  }

  /** The manual clock passed in the options, if any. */
  get clock(): ManualClock | undefined {
    return this.options.clock;
  }

  // ---------------------------------------------------------------- topics

  /** Creates a topic; `partitions` defaults to `defaultPartitions` (1). */
  createTopic(name: string, options: CreateTopicOptions = {}): Promise<TopicDescription> {
    return this.serialize(async () => {
      this.ensureOpen();
      validateTopicName(name);
      if (this.topics.has(name)) throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic "${name}" already exists`);
      const partitions = options.partitions ?? this.options.defaultPartitions ?? 1;
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
        throw new SluiceError('INVALID_PARTITIONS', `partition count must be an integer in [1, ${MAX_PARTITIONS}], got ${partitions}`);
      }
      const configs = { ...(options.configs ?? {}) };
      const config = parseLogConfig(configs, this.baseConfig);
      const record: TopicRecord = { name, topicId: TopicStore.newTopicId(), partitions, configs, internal: options.internal === true };
      await this.store.save(record);
      const t: TopicState = { record, config, partitions: [] };
      this.topics.set(name, t);
      await Promise.all(Array.from({ length: partitions }, (_, p) => this.openPartition(t, p)));
      this.logger?.info({ topic: name, partitions }, 'topic created');
      return this.describe(t);
    });
  }

  /** Deletes a topic and all its data. */
  deleteTopic(name: string): Promise<void> {
    return this.serialize(async () => {
      this.ensureOpen();
      const t = this.topicState(name);
      this.topics.delete(name); // new calls fail from here on
      await Promise.all(t.partitions.map((p) => p.owner.request({ op: 'close-partition', slot: p.slot, forDelete: true }).catch(() => undefined)));
      // the files go next: their mappings must let go now, or the blocks stay allocated until a GC
      for (const p of t.partitions) p.reader.close(true);
      // Rename first so a crash never leaves old data under a name a new topic could reuse.
      const doomed: string[] = [];
      for (const p of t.partitions) {
        const to = `${p.dir}.${t.record.topicId.replace(/-/g, '')}-delete`;
        try {
          await rename(p.dir, to);
          doomed.push(to);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      await fsyncDir(this.dataDir).catch(() => undefined);
      await this.store.remove(name);
      await Promise.all(doomed.map((d) => rm(d, { recursive: true, force: true })));
      this.logger?.info({ topic: name }, 'topic deleted');
    });
  }

  /** Topic names, sorted; internal topics only when asked. */
  listTopics(options: { includeInternal?: boolean } = {}): string[] {
    this.ensureOpen();
    const out: string[] = [];
    for (const t of this.topics.values()) if (options.includeInternal || !t.record.internal) out.push(t.record.name);
    return out.sort();
  }

  hasTopic(name: string): boolean {
    this.ensureOpen();
    return this.topics.has(name);
  }

  /** Number of partitions of a topic (UNKNOWN_TOPIC_OR_PARTITION if it does not exist). */
  partitionCount(topic: string): number {
    this.ensureOpen();
    return this.topicState(topic).partitions.length;
  }

  /** Id, partitions (with offsets and sizes) and configs of a topic. */
  async describeTopic(name: string): Promise<TopicDescription> {
    this.ensureOpen();
    return this.describe(this.topicState(name));
  }

  /** Grows a topic to `newTotal` partitions (Kafka never shrinks). */
  addPartitions(name: string, newTotal: number): Promise<void> {
    return this.serialize(async () => {
      this.ensureOpen();
      const t = this.topicState(name);
      const cur = t.partitions.length;
      if (!Number.isInteger(newTotal) || newTotal <= cur || newTotal > MAX_PARTITIONS) {
        throw new SluiceError('INVALID_PARTITIONS', `topic "${name}" has ${cur} partitions; the new total must be an integer in (${cur}, ${MAX_PARTITIONS}], got ${newTotal}`);
      }
      const record = { ...t.record, partitions: newTotal };
      await this.store.save(record);
      t.record = record;
      await Promise.all(Array.from({ length: newTotal - cur }, (_, i) => this.openPartition(t, cur + i)));
    });
  }

  /** Sets (string) or removes (null) topic config overrides; owners apply them to the open logs. */
  alterTopicConfig(name: string, changes: Record<string, string | null>): Promise<void> {
    return this.serialize(async () => {
      this.ensureOpen();
      const t = this.topicState(name);
      const configs = { ...t.record.configs };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null || v === undefined) delete configs[k];
        else configs[k] = v;
      }
      const config = parseLogConfig(configs, this.baseConfig);
      const record = { ...t.record, configs };
      await this.store.save(record);
      t.record = record;
      t.config = config;
      await Promise.all(t.partitions.map((p) => p.owner.request({ op: 'config', slot: p.slot, config })));
    });
  }

  /** Moves the log start offset to `beforeOffset` (DeleteRecords); returns the new low watermark. */
  async deleteRecords(topic: string, partition: number, beforeOffset: bigint): Promise<bigint> {
    this.ensureOpen();
    const p = this.partitionHandle(topic, partition);
    return p.owner.request({ op: 'delete-records', slot: p.slot, offset: beforeOffset });
  }

  // ---------------------------------------------------------------- data

  /**
   * Appends RecordBatch v2 bytes (one buffer of concatenated batches, or several) to a partition. The log
   * assigns offsets. Resolves per `acks`: 0 when queued to the owner, 1 when written, all when durable per
   * the topic's flush policy.
   */
  append(topic: string, partition: number, batches: Buffer | readonly Buffer[], options?: AppendOptions): Promise<AppendResult> {
    try {
      if (this.state !== 'open') throw this.notOpen();
      const t = this.topics.get(topic);
      const p = t?.partitions[partition];
      if (p === undefined) throw this.unknownPartition(topic, partition);
      const parts: readonly Buffer[] = Buffer.isBuffer(batches) ? [batches] : batches;
      const config = p.topic.config;
      const acks = acksCode(options?.acks);
      // Kafka checks the in-sync replicas before validating or writing anything; a single node has one.
      if (acks === ACKS_ALL && config.minInsyncReplicas > 1) {
        throw new SluiceError(
          'NOT_ENOUGH_REPLICAS',
          `The size of the current ISR (1) is insufficient to satisfy the min.isr requirement of ${config.minInsyncReplicas} for partition ${topic}-${partition}`,
        );
      }
      const maxBytes = config.maxMessageBytes;
      const rules = SKIP_RECORD_VALIDATION ? null : produceRulesOf(config);
      const now = rules === null ? 0 : this.clockFn();
      let len = 0;
      for (let i = 0; i < parts.length; i++) {
        const buf = parts[i];
        for (let pos = 0; pos < buf.length; ) {
          const size = validateBatch(buf, pos);
          if (size > maxBytes) {
            throw new SluiceError('RECORD_TOO_LARGE', `batch of ${size} bytes exceeds max.message.bytes (${maxBytes}) of topic "${topic}"`);
          }
          if (rules !== null) validateProducedBatch(buf, pos, size, rules, now, topic, partition);
          pos += size;
        }
        len += buf.length;
      }
      if (len === 0) throw new SluiceError('INVALID_ARGUMENT', 'append needs at least one record batch');
      return p.owner.submit(p.slot, parts, len, acks, options?.timeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Reads whole batches from `offset`, in this thread (zero-copy slices of the mapped segments). Reads stop
   * at the high watermark (read_uncommitted) or the last stable offset (read_committed).
   */
  read(topic: string, partition: number, offset: bigint, options: SluiceReadOptions): ReadResult {
    if (this.state !== 'open') throw this.notOpen();
    const p = this.partitionHandle(topic, partition);
    const limit = options.isolation === 'read_committed' ? p.state.lastStableOffset : p.state.highWatermark;
    const maxOffset = options.maxOffset !== undefined && options.maxOffset < limit ? options.maxOffset : limit;
    return p.reader.read(offset, { maxBytes: options.maxBytes, maxOffset });
  }

  /**
   * Resolves true as soon as the high watermark passes `offset` (data to read), the log start moves past it,
   * or the partition closes; false after `timeoutMs`. Waits on shared memory, no polling.
   */
  waitForData(topic: string, partition: number, offset: bigint, timeoutMs: number): Promise<boolean> {
    return this.waitForAny([{ topic, partition, offset }], timeoutMs);
  }

  /**
   * `waitForData` over several partitions: resolves true as soon as any one is ready, false after
   * `timeoutMs` or when `signal` aborts. One wait, whatever the number of partitions, and nothing of it is
   * left once it resolves (Kafka's delayed fetch).
   */
  waitForAny(targets: readonly WaitForDataTarget[], timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      this.ensureOpen();
      const resolved: DataWaitTarget[] = targets.map((t) => ({ state: this.partitionHandle(t.topic, t.partition).state, offset: t.offset }));
      return this.waits.wait(resolved, timeoutMs, options.signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Long polls (`waitForData`, `waitForAny`) in progress: what the `sluice_long_poll_waiters` gauge shows. */
  liveWaiters(): number {
    return this.waits.size;
  }

  /** Log start, end, high watermark and last stable offset, from shared memory (no round trip). */
  offsets(topic: string, partition: number): TopicOffsets {
    this.ensureOpen();
    const s = this.partitionHandle(topic, partition).state;
    return { logStartOffset: s.logStartOffset, logEndOffset: s.logEndOffset, highWatermark: s.highWatermark, lastStableOffset: s.lastStableOffset };
  }

  /**
   * ListOffsets: 'earliest' = log start, 'latest' = high watermark, { timestamp } = first offset whose
   * timestamp is >= it ({ offset: -1n, timestamp: -1n } when none). Timestamps -1 and -2 mean latest/earliest.
   */
  async listOffset(topic: string, partition: number, spec: OffsetSpec): Promise<TimestampOffset> {
    this.ensureOpen();
    const p = this.partitionHandle(topic, partition);
    let ts: bigint | null = null;
    if (typeof spec === 'object' && spec !== null) {
      ts = BigInt(spec.timestamp);
      if (ts === -1n) spec = 'latest';
      else if (ts === -2n) spec = 'earliest';
    }
    if (spec === 'earliest') return { offset: p.state.logStartOffset, timestamp: -1n };
    if (spec === 'latest') return { offset: p.state.highWatermark, timestamp: -1n };
    if (ts === null || ts < 0n) throw new SluiceError('INVALID_ARGUMENT', `invalid offset spec ${String(spec)}`);
    const r = await p.owner.request({ op: 'offset-for-time', slot: p.slot, timestamp: ts });
    return r ?? { offset: -1n, timestamp: -1n };
  }

  /** A producer id for idempotent produce; with a transactionalId, its stable id with a bumped epoch. */
  initProducerId(transactionalId?: string | null): Promise<ProducerIdAndEpoch> {
    try {
      this.ensureOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.producerIds.initProducerId(transactionalId);
  }

  /** Runs retention, compaction and flush on every partition now (tests drive this with a ManualClock). */
  async runMaintenance(): Promise<void> {
    this.ensureOpen();
    await Promise.all(this.owners.map((o) => o.request({ op: 'maintenance' })));
  }

  /**
   * Monitoring: per owner thread, ring occupancy, appends in flight, partitions owned and fdatasync timings.
   * Read from shared memory and this thread's state: no round trip, cheap enough for every metrics scrape.
   */
  ownerStats(): OwnerStats[] {
    this.ensureOpen();
    const partitions = new Map<OwnerHandle, number>();
    for (const t of this.topics.values()) for (const p of t.partitions) partitions.set(p.owner, (partitions.get(p.owner) ?? 0) + 1);
    return this.owners.map((o) => ({
      owner: o.index,
      partitions: partitions.get(o) ?? 0,
      appendRingUsedBytes: o.ring.usedBytes,
      appendRingCapacityBytes: o.ring.capacity,
      completionRingUsedBytes: o.completions.usedBytes,
      completionRingCapacityBytes: o.completions.capacity,
      appendsInFlight: o.inFlight,
      flush: readFlushStats(o.stats),
    }));
  }

  /** fsyncs every partition. */
  async flush(): Promise<void> {
    this.ensureOpen();
    await Promise.all(this.owners.map((o) => o.request({ op: 'flush' })));
  }

  // ---------------------------------------------------------------- internals

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.metaChain.then(fn);
    this.metaChain = run.catch(() => undefined);
    return run;
  }

  private ownerFor(topic: string, partition: number): OwnerHandle {
    return this.owners[(fnv1a(topic) + partition) % this.owners.length];
  }

  private async openPartition(t: TopicState, partition: number): Promise<void> {
    const owner = this.ownerFor(t.record.name, partition);
    const { slot, buffer, index } = this.slots.allocate();
    const dir = join(this.dataDir, `${t.record.name}-${partition}`);
    await owner.request({ op: 'open', slot, topic: t.record.name, partition, dir, config: t.config, stateBuffer: buffer, stateIndex: index });
    const state = new PartitionSharedState(buffer, index, this.watchBuffer);
    t.partitions[partition] = { topic: t, partition, slot, owner, state, reader: new PartitionReader(dir, state), dir };
  }

  private async removeDeletedDirs(): Promise<void> {
    for (const name of await readdir(this.dataDir)) {
      if (name.endsWith('-delete')) await rm(join(this.dataDir, name), { recursive: true, force: true });
    }
  }

  private async describe(t: TopicState): Promise<TopicDescription> {
    const sizes = new Map<number, number>();
    const byOwner = new Map<OwnerHandle, PartitionHandle[]>();
    for (const p of t.partitions) {
      const l = byOwner.get(p.owner) ?? [];
      l.push(p);
      byOwner.set(p.owner, l);
    }
    await Promise.all(
      [...byOwner].map(async ([o, ps]) => {
        const r = await o.request({ op: 'sizes', slots: ps.map((p) => p.slot) });
        ps.forEach((p, i) => sizes.set(p.partition, r[i]));
      }),
    );
    const partitions: PartitionDescription[] = t.partitions.map((p) => ({
      partition: p.partition,
      logStartOffset: p.state.logStartOffset,
      logEndOffset: p.state.logEndOffset,
      highWatermark: p.state.highWatermark,
      sizeBytes: sizes.get(p.partition) ?? 0,
      leader: 0,
    }));
    return {
      name: t.record.name,
      topicId: t.record.topicId,
      internal: t.record.internal,
      partitions,
      configs: logConfigToEntries(t.config),
      overrides: { ...t.record.configs },
    };
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw this.notOpen();
  }

  private notOpen(): SluiceError {
    return this.state === 'closed' || this.state === 'closing'
      ? new SluiceError('CLOSED', 'the engine is closed')
      : new SluiceError('CLOSED', `the engine is not open (it is ${this.state})`);
  }

  private unknownPartition(topic: string, partition: number): SluiceError {
    return this.topics.has(topic)
      ? new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partition ${partition}`)
      : new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic "${topic}"`);
  }

  private topicState(name: string): TopicState {
    const t = this.topics.get(name);
    if (!t) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic "${name}"`);
    return t;
  }

  private partitionHandle(topic: string, partition: number): PartitionHandle {
    const p = this.topics.get(topic)?.partitions[partition];
    if (p === undefined) throw this.unknownPartition(topic, partition);
    return p;
  }
}
