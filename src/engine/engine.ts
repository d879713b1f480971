/**
 * The engine: topics and partitions, owner worker threads, append rings, reads in the caller's thread.
 *
 * Appends are validated here (structure + CRC, size), then written into the append ring of the owner thread
 * that owns the partition; the owner appends, flushes as the topic's policy requires, and writes completions
 * into its completion ring, which this thread drains. Reads go straight to the segment files through a
 * PartitionReader over the partition's shared state: no round trip to the owner.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../errors.js';
import { validateBatch } from '../record/batch-header.js';
import { validateProducedBatch, type ProduceRules } from '../record/validate.js';
import { DEFAULT_LOG_CONFIG, logConfigToEntries, parseLogConfig } from '../storage/config.js';
import { fsyncDirAsync } from '../storage/files.js';
import { PartitionReader } from '../storage/partition-reader.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS } from '../storage/producer-state.js';
import { PARTITION_STATE_BYTES, PartitionSharedState } from '../storage/shared-state.js';
import type { LogConfig } from '../storage/types.js';
import { systemClock } from './clock.js';
import { ACKS_ALL, ACKS_LEADER, ACKS_NONE, type AcksAllRelease, type OwnerInit } from './owner-protocol.js';
import { OwnerHandle } from './owner-handle.js';
import type { PartitionLeadership, ProducerIdManager, TopicMetadataStore, TopicRecord } from './metadata.js';
import { LocalProducerIdManager } from './producer-ids.js';
import { allocateRing } from './ring.js';
import { allocateOwnerStats, readFlushStats, type OwnerStats } from './owner-stats.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { DataWaits, type DataWaitTarget } from './data-waits.js';
import { LocalTopicStore, validateTopicName } from './topic-store.js';
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
/** A single node is its partitions' only in-sync replica: acks=all is released once the owner's flush decided. */
const SINGLE_NODE_ACKS_ALL_RELEASE: AcksAllRelease = 'flushed';

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

interface PartitionHandle {
  topic: TopicState;
  partition: number;
  slot: number;
  owner: OwnerHandle;
  state: PartitionSharedState;
  reader: PartitionReader;
  dir: string;
  /** Leader and leader epoch, from the topic metadata when the partition was opened. */
  leadership: PartitionLeadership;
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
  /** This node's id (broker.id); with the local topic store, the leader of every partition. */
  readonly nodeId: number;
  readonly dataDir: string;
  private readonly options: SluiceOptions;
  private readonly ownerCount: number;
  private readonly ringBytes: number;
  private readonly logger: Logger | undefined;
  private readonly clockFn: () => Millis;
  private readonly store: TopicMetadataStore;
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
    this.nodeId = options.nodeId ?? 0;
    if (!Number.isInteger(this.nodeId) || this.nodeId < 0 || this.nodeId > 0x7fffffff) {
      throw new SluiceError('INVALID_ARGUMENT', `nodeId must be an integer in [0, 2147483647], got ${this.nodeId}`);
    }
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
    this.store = options.topicStore ?? new LocalTopicStore(this.dataDir, this.nodeId);
    this.producerIds = options.producerIds ?? new LocalProducerIdManager(join(this.dataDir, 'meta'));
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
      const record: TopicRecord = { name, topicId: randomUUID(), partitions, configs, internal: options.internal === true };
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
      await fsyncDirAsync(this.dataDir).catch(() => undefined);
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
   * at the high watermark (read_uncommitted) or the last stable offset (read_committed); with `toLogEnd`, at
   * the log end (a replica's fetch).
   */
  read(topic: string, partition: number, offset: bigint, options: SluiceReadOptions): ReadResult {
    if (this.state !== 'open') throw this.notOpen();
    const p = this.partitionHandle(topic, partition);
    const limit =
      options.toLogEnd === true ? p.state.logEndOffset : options.isolation === 'read_committed' ? p.state.lastStableOffset : p.state.highWatermark;
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

  /** Who leads a partition and in which leader epoch (a single node: itself, node 0, epoch 0). */
  leadership(topic: string, partition: number): PartitionLeadership {
    this.ensureOpen();
    return this.partitionHandle(topic, partition).leadership;
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
    const leadership = this.store.leadership(t.record.name, partition);
    await owner.request({
      op: 'open',
      slot,
      topic: t.record.name,
      partition,
      dir,
      config: t.config,
      leaderEpoch: leadership.leaderEpoch,
      acksAllRelease: SINGLE_NODE_ACKS_ALL_RELEASE,
      stateBuffer: buffer,
      stateIndex: index,
    });
    const state = new PartitionSharedState(buffer, index, this.watchBuffer);
    t.partitions[partition] = { topic: t, partition, slot, owner, state, reader: new PartitionReader(dir, state), dir, leadership };
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
      leader: p.leadership.leader,
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
