/**
 * The library producer: accumulates records per (topic, partition) into RecordBatches and appends them to a
 * `ProduceTarget`, the way Kafka's RecordAccumulator + Sender do: the embedded engine (no network), or a broker
 * over the wire (`KafkaProduceTarget`, which `sluice produce` uses).
 *
 * Hot path: `send` does no per-record promise or wrapper object. The caller's message objects go into the
 * open batch's array as they are and are handed straight to `encodeBatch`; per record we keep only its index
 * in the send (a packed number array) so results can be written back in order. One promise per send.
 *
 * A batch is sealed when adding a record would pass `batchSize`, or `lingerMs` after its first record
 * (lingerMs 0 still gathers everything sent in the same turn of the event loop: the flush runs from
 * setImmediate). Sealed batches are encoded when dispatched, at most `maxInFlight` per partition.
 *
 * Idempotence (Kafka ≥ 3.0 default): one producer id from `initProducerId`; each partition numbers its
 * records from 0, a batch carrying the sequence of its first record. A retried batch is re-sent byte for
 * byte (same sequence), so the log drops it if the first attempt landed. If a batch fails for good, later
 * in-flight batches of that partition fail with OUT_OF_ORDER_SEQUENCE through no fault of their own: they are
 * re-queued, and once the partition has drained (retries whose first attempt may have landed go out unchanged
 * first) its numbering restarts. After an error that proves the batch was not written (too large, corrupt) it
 * restarts after the last acknowledged batch, in the same epoch. Otherwise the batch may have been written (a
 * timeout), so its sequence must never be reused: as KIP-360, the producer bumps its epoch (a new producer id
 * once the epoch is exhausted) and every partition numbers from 0 again under it, each once nothing of its old
 * numbering is in flight. A partition that forgot the producer (UNKNOWN_PRODUCER_ID: it expired) wrote nothing
 * of the batch: it is re-sent under a new epoch.
 */
import { ConfigError, SluiceError } from '../errors.js';
import { CompressionType } from '../record/batch-header.js';
import { encodeBatch } from '../record/batch.js';
import type { RecordInput } from '../record/types.js';
import type { Acks, AppendOptions, AppendResult, ProducerIdAndEpoch, TopicDescription } from '../engine/types.js';
import { DefaultPartitioner, type Partitioner } from './partitioner.js';

/**
 * Where a producer's batches go: the embedded engine (the `Sluice` class is one) or a broker over the Kafka
 * wire (`KafkaProduceTarget`). Failures must be SluiceErrors for the retry and sequence rules to apply: a
 * target on another protocol maps its error codes at its own edge.
 */
export interface ProduceTarget {
  /** Called on every send: answers from memory. Throws UNKNOWN_TOPIC_OR_PARTITION for a topic it does not know. */
  partitionCount(topic: string): number;
  /** The topic's configs (the producer reads max.message.bytes); called again after metadataMaxAgeMs. */
  describeTopic(name: string): Promise<Pick<TopicDescription, 'configs'>>;
  append(topic: string, partition: number, batches: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  initProducerId(): Promise<ProducerIdAndEpoch>;
}

/** The embedded engine as a produce target (the name the producer's constructor had first). */
export type ProducerEngine = ProduceTarget;

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProducerOptions {
  /** Default 'all'. Idempotence needs 'all'/-1. */
  acks?: Acks;
  compression?: CompressionName;
  compressionLevel?: number;
  /** How long a batch waits for more records (linger.ms). Default 0. */
  lingerMs?: number;
  /** Target batch size in bytes, before compression (batch.size). Default 16384. */
  batchSize?: number;
  /** enable.idempotence. Default true, unless acks is set to something other than 'all'. */
  idempotent?: boolean;
  /** Appends in flight per partition (max.in.flight.requests.per.connection). Default 5; ≤ 5 when idempotent. */
  maxInFlight?: number;
  /** Timeout of each append (request.timeout.ms). Default 30000. */
  requestTimeoutMs?: number;
  /** Retries of an append that failed with a retriable error (TIMEOUT). Default 5. */
  retries?: number;
  /** How often topic metadata (max.message.bytes) is refreshed (metadata.max.age.ms). Default 300000. */
  metadataMaxAgeMs?: number;
  partitioner?: Partitioner;
}

/** One message of a send: a record, optionally with its partition. */
export type ProducerMessage = RecordInput & { partition?: number | null };

export interface ProducerRecordSet {
  topic: string;
  messages: ProducerMessage[];
}

/** Where a message landed. offset is -1n with acks 0. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: bigint;
  /** The record's timestamp (CreateTime), or the log append time for LogAppendTime topics. */
  timestamp: bigint;
}

const COMPRESSION: Record<CompressionName, CompressionType> = {
  none: CompressionType.None,
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};
const INT32_MAX = 0x7fffffff;
/** Largest producer epoch (int16); past it the producer takes a new id. */
const MAX_EPOCH = 0x7fff;
/** Errors after which the batch is known not to be in the log: its sequence can be reused. */
const NOT_WRITTEN = new Set<string>(['RECORD_TOO_LARGE', 'CORRUPT_RECORD', 'UNSUPPORTED_COMPRESSION', 'INVALID_ARGUMENT', 'UNKNOWN_TOPIC_OR_PARTITION']);
/** Batch header (61 bytes). */
const BATCH_OVERHEAD = 61;
/** Upper bound of a record's framing: length, attributes, timestamp and offset deltas, length prefixes. */
const RECORD_OVERHEAD = 24;
const DEFAULT_MAX_MESSAGE_BYTES = 1048588;
const SAFE_OFFSET = 2n ** 53n - 2n ** 32n;

/** A finished batch's records [from, to) that belong to one send. */
interface DoneRun {
  batch: Batch;
  result: AppendResult;
  from: number;
  to: number;
}

/**
 * One `send` call. Completed batches are only noted; the RecordMetadata objects are built when the whole send
 * is done, right before they are handed over, so they never sit in memory while other batches are in flight.
 */
class SendRequest {
  pending = 0;
  error: unknown = null;
  done: DoneRun[] = [];
  constructor(
    readonly topic: string,
    readonly messages: ProducerMessage[],
    readonly resolve: (r: RecordMetadata[]) => void,
    readonly reject: (e: unknown) => void,
  ) {}
  settleOne(err: unknown): void {
    if (err !== null && this.error === null) this.error = err;
    if (--this.pending === 0) {
      if (this.error !== null) this.reject(this.error);
      else this.resolve(this.buildResults());
      this.done = [];
    }
  }
  private buildResults(): RecordMetadata[] {
    const out = new Array<RecordMetadata>(this.messages.length);
    const topic = this.topic;
    for (const { batch, result, from, to } of this.done) {
      const { records, index } = batch;
      const partition = batch.ps.partition;
      const acks0 = result.baseOffset < 0n;
      const logAppend = result.logAppendTime >= 0n ? result.logAppendTime : null;
      const batchTs = logAppend ?? batch.nowBig;
      const base = result.baseOffset;
      // One BigInt per record (not two): offsets below 2^53 are computed as numbers.
      const baseNum = base >= 0n && base < SAFE_OFFSET ? Number(base) : -1;
      for (let i = from; i < to; i++) {
        const t = records[i]!.timestamp;
        out[index[i]!] = {
          topic,
          partition,
          offset: acks0 ? -1n : baseNum >= 0 ? BigInt(baseNum + i) : base + BigInt(i),
          timestamp: logAppend !== null || t === undefined ? batchTs : typeof t === 'bigint' ? t : BigInt(t),
        };
      }
    }
    return out;
  }
}

class Batch {
  readonly records: ProducerMessage[] = [];
  /** For record i: its index in the messages of its send. */
  readonly index: number[] = [];
  /** Sends contributing to this batch, and the record count at the end of each one's run. */
  readonly owners: SendRequest[] = [];
  readonly ownerEnds: number[] = [];
  bytes = BATCH_OVERHEAD;
  /** Creation time; also the timestamp of records without one. */
  readonly now: number;
  private nowBigCache: bigint | null = null;
  buf: Buffer | null = null;
  baseSequence = -1;
  /** Partition `seqEpoch` the sequence was assigned in (re-assigned if the partition resynced since). */
  seqEpoch = -1;
  /** Partition failure count when dispatched: tells a victim of an earlier failure from a real one. */
  failuresAtDispatch = 0;
  attempts = 0;
  requeues = 0;
  /** An attempt's outcome is unknown (timeout): the batch goes out again byte for byte, never renumbered. */
  keepBytes = false;
  sealed = false;
  waiters: (() => void)[] | null = null;
  constructor(
    readonly id: number,
    readonly ps: PartitionState,
    now: number,
  ) {
    this.now = now;
  }
  get nowBig(): bigint {
    return (this.nowBigCache ??= BigInt(this.now));
  }
  add(rec: ProducerMessage, req: SendRequest, i: number, size: number): void {
    this.records.push(rec);
    this.index.push(i);
    this.bytes += size;
    const n = this.owners.length;
    if (n === 0 || this.owners[n - 1] !== req) {
      this.owners.push(req);
      this.ownerEnds.push(this.records.length);
      req.pending++;
    } else {
      this.ownerEnds[n - 1] = this.records.length;
    }
  }
}

class PartitionState {
  open: Batch | null = null;
  readonly queue: Batch[] = [];
  inFlight = 0;
  nextSeq = 0;
  /** Sequence after the last acknowledged batch: where a restart in the same epoch resumes. */
  ackedSeq = 0;
  /** The producer id and epoch the partition's sequences belong to (null until its first batch). */
  pid: ProducerIdAndEpoch | null = null;
  seqEpoch = 0;
  failures = 0;
  /** A batch failed for good: the numbering restarts once the partition has drained. */
  needsResync = false;
  /** ... under a new epoch: the failed batch may have been written. */
  needsBump = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

interface TopicState {
  partitions: PartitionState[];
  maxMessageBytes: number;
  fetchedAt: number;
}

function wrapSeq(seq: number, n: number): number {
  const s = seq + n;
  return s > INT32_MAX ? s - INT32_MAX - 1 : s;
}

function byteSize(v: Buffer | Uint8Array | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  // UTF-16 length: exact for ASCII; multi-byte text is caught by the exact size check before dispatch.
  return v.length;
}

function headersSize(h: RecordInput['headers']): number {
  if (!h) return 0;
  let n = 0;
  if (Array.isArray(h)) for (const x of h) n += 10 + x.key.length + byteSize(x.value);
  else for (const k in h) n += 10 + k.length + byteSize(h[k]);
  return n;
}

function isBytes(v: unknown): boolean {
  return v === null || v === undefined || typeof v === 'string' || v instanceof Uint8Array;
}

/** The field of a message that encodeBatch would reject (or a bad partition), or null. */
function messageProblem(m: ProducerMessage, numPartitions: number): string | null {
  if (typeof m !== 'object' || m === null) return 'message';
  const p = m.partition;
  if (p !== undefined && p !== null && !(Number.isInteger(p) && p >= 0 && p < numPartitions)) return 'partition';
  if (!isBytes(m.value)) return 'value';
  if (!isBytes(m.key)) return 'key';
  const t = m.timestamp;
  if (t !== undefined && !(typeof t === 'bigint' ? t >= -(2n ** 63n) && t < 2n ** 63n : Number.isSafeInteger(t))) return 'timestamp';
  if (m.headers !== undefined && (typeof m.headers !== 'object' || m.headers === null)) return 'headers';
  return null;
}

function isRetriable(e: unknown): boolean {
  return e instanceof SluiceError && e.code === 'TIMEOUT';
}

export class Producer {
  private readonly target: ProduceTarget;
  private readonly acks: Acks;
  private readonly compression: CompressionType;
  private readonly compressionLevel: number | undefined;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  readonly idempotent: boolean;
  private readonly maxInFlight: number;
  private readonly requestTimeoutMs: number;
  private readonly retries: number;
  private readonly metadataMaxAgeMs: number;
  private readonly partitioner: Partitioner;
  private readonly appendOptions: AppendOptions;

  private readonly topics = new Map<string, TopicState>();
  /** Open (unsealed) batches, for the linger timer. */
  private readonly openBatches = new Set<Batch>();
  /** Sealed batches not yet completed, for flush. */
  private readonly outstanding = new Set<Batch>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private nextBatchId = 0;
  private pid: ProducerIdAndEpoch | null = null;
  private pidPromise: Promise<ProducerIdAndEpoch> | null = null;
  /** Sends waiting for async setup (producer id, topic metadata) chain here to keep their order. */
  private gate: Promise<void> | null = null;
  private closed = false;

  constructor(target: ProduceTarget, opts: ProducerOptions = {}) {
    this.target = target;
    const acksGiven = opts.acks !== undefined;
    const acks = opts.acks ?? 'all';
    if (acks !== 0 && acks !== 1 && acks !== -1 && acks !== 'all') throw new ConfigError('acks', `must be 0, 1, -1 or 'all', got ${String(acks)}`);
    const allAcks = acks === 'all' || acks === -1;
    // As Kafka ≥ 3.0: idempotence is on by default but silently off when acks is set below all.
    const idempotent = opts.idempotent ?? (!acksGiven || allAcks);
    if (idempotent && !allAcks) throw new ConfigError('acks', "must be 'all' (-1) for an idempotent producer");
    this.acks = acks;
    this.idempotent = idempotent;
    const compression = opts.compression ?? 'none';
    if (!(compression in COMPRESSION)) throw new ConfigError('compression', `unknown codec ${String(compression)}`);
    this.compression = COMPRESSION[compression];
    this.compressionLevel = opts.compressionLevel;
    this.lingerMs = opts.lingerMs ?? 0;
    if (!(this.lingerMs >= 0) || !Number.isFinite(this.lingerMs)) throw new ConfigError('lingerMs', 'must be a finite number ≥ 0');
    this.batchSize = opts.batchSize ?? 16384;
    if (!(this.batchSize >= 1) || !Number.isFinite(this.batchSize)) throw new ConfigError('batchSize', 'must be ≥ 1');
    this.maxInFlight = opts.maxInFlight ?? 5;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new ConfigError('maxInFlight', 'must be an integer ≥ 1');
    if (idempotent && this.maxInFlight > 5) throw new ConfigError('maxInFlight', 'must be ≤ 5 for an idempotent producer');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30000;
    this.retries = opts.retries ?? 5;
    this.metadataMaxAgeMs = opts.metadataMaxAgeMs ?? 300_000;
    this.partitioner = opts.partitioner ?? new DefaultPartitioner();
    this.appendOptions = { acks: this.acks, timeoutMs: this.requestTimeoutMs };
  }

  /** Producer id and epoch (after the first send of an idempotent producer); null otherwise. */
  get producerIdAndEpoch(): ProducerIdAndEpoch | null {
    return this.pid;
  }

  /**
   * Sends messages to a topic. Resolves with one RecordMetadata per message, in order, once all of them are
   * acknowledged per `acks`; rejects with the first error if any batch fails.
   */
  send(rs: ProducerRecordSet): Promise<RecordMetadata[]> {
    if (this.closed) return Promise.reject(new SluiceError('CLOSED', 'the producer is closed'));
    if (!rs || typeof rs.topic !== 'string' || !Array.isArray(rs.messages)) {
      return Promise.reject(new SluiceError('INVALID_ARGUMENT', 'send needs { topic, messages: [...] }'));
    }
    if (rs.messages.length === 0) return Promise.resolve([]);
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const req = new SendRequest(rs.topic, rs.messages, resolve, reject);
      const ts = this.topics.get(rs.topic);
      if (this.gate === null && ts !== undefined && (!this.idempotent || this.pid !== null) && Date.now() - ts.fetchedAt < this.metadataMaxAgeMs) {
        this.accumulate(req, ts);
        return;
      }
      // Slow path: set up first, behind any earlier send still setting up.
      const prev = this.gate ?? Promise.resolve();
      const gate: Promise<void> = prev.then(async () => {
        try {
          if (this.closed) throw new SluiceError('CLOSED', 'the producer is closed');
          if (this.idempotent && this.pid === null) await this.ensureProducerId();
          this.accumulate(req, await this.topicState(rs.topic));
        } catch (e) {
          reject(e);
        }
      });
      this.gate = gate;
      void gate.then(() => {
        if (this.gate === gate) this.gate = null;
      });
    });
  }

  /** Seals every open batch and waits until everything sent so far is acknowledged (or failed). */
  async flush(): Promise<void> {
    if (this.gate) await this.gate;
    this.sealAll();
    const waits: Promise<void>[] = [];
    for (const b of this.outstanding) {
      waits.push(
        new Promise<void>((res) => {
          (b.waiters ??= []).push(res);
        }),
      );
    }
    await Promise.all(waits);
  }

  /** Flushes, then rejects further sends with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  // ------------------------------------------------------------------ setup

  private ensureProducerId(): Promise<ProducerIdAndEpoch> {
    this.pidPromise ??= this.target.initProducerId().then(
      (p) => (this.pid = p),
      (e: unknown) => {
        this.pidPromise = null;
        throw e;
      },
    );
    return this.pidPromise;
  }

  private async topicState(topic: string): Promise<TopicState> {
    const cur = this.topics.get(topic);
    if (cur && Date.now() - cur.fetchedAt < this.metadataMaxAgeMs) return cur;
    const desc = await this.target.describeTopic(topic);
    const max = Number(desc.configs['max.message.bytes'] ?? DEFAULT_MAX_MESSAGE_BYTES);
    const ts: TopicState = cur ?? { partitions: [], maxMessageBytes: max, fetchedAt: 0 };
    ts.maxMessageBytes = Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_MESSAGE_BYTES;
    ts.fetchedAt = Date.now();
    this.topics.set(topic, ts);
    return ts;
  }

  // ------------------------------------------------------------------ accumulation

  private accumulate(req: SendRequest, ts: TopicState): void {
    const { topic, messages } = req;
    let n: number;
    try {
      n = this.target.partitionCount(topic);
    } catch (e) {
      req.reject(e);
      return;
    }
    // Validate first, so a bad message fails its own send before anything is queued — not the sends that
    // would have shared a batch with it.
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const problem = messageProblem(m, n);
      if (problem !== null) {
        const code = problem === 'partition' ? 'UNKNOWN_TOPIC_OR_PARTITION' : 'INVALID_ARGUMENT';
        const what = problem === 'partition' ? `topic "${topic}" has no partition ${String(m.partition)}` : `message ${i}: invalid ${problem}`;
        req.reject(new SluiceError(code, what));
        return;
      }
    }
    const parts = ts.partitions;
    const limit = Math.min(this.batchSize, ts.maxMessageBytes);
    const partitioner = this.partitioner;
    req.pending++; // held until the loop is done, so an early completion cannot settle the send
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const keyless = m.key === undefined || m.key === null;
      let p = partitioner.partition(topic, n, m.key, m.partition);
      const size = RECORD_OVERHEAD + byteSize(m.key) + byteSize(m.value) + (m.headers ? headersSize(m.headers) : 0);
      let ps = parts[p] ?? (parts[p] = new PartitionState(topic, p));
      let b = ps.open;
      if (b !== null && b.bytes + size > limit) {
        this.seal(b, n);
        // KIP-480: a keyless record that would start a new batch moves to the next sticky partition.
        if (keyless && (m.partition === undefined || m.partition === null)) {
          p = partitioner.partition(topic, n, null, null);
          ps = parts[p] ?? (parts[p] = new PartitionState(topic, p));
        }
        b = ps.open;
        if (b !== null && b.bytes + size > limit) {
          this.seal(b, n);
          b = null;
        }
      }
      if (b === null) b = this.openBatch(ps);
      b.add(m, req, i, size);
    }
    if (this.lingerMs === 0) {
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.sealAll();
      });
    } else if (this.timer === null) {
      this.armTimer();
    }
    req.settleOne(null);
  }

  private openBatch(ps: PartitionState): Batch {
    const b = new Batch(this.nextBatchId++, ps, Date.now());
    ps.open = b;
    this.openBatches.add(b);
    return b;
  }

  private armTimer(): void {
    let oldest = Infinity;
    for (const b of this.openBatches) if (b.now < oldest) oldest = b.now;
    if (oldest === Infinity) return;
    const delay = Math.max(0, oldest + this.lingerMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      for (const b of this.openBatches) if (b.now + this.lingerMs <= now) this.seal(b, this.partitionCountOr(b.ps.topic));
      this.armTimer();
    }, delay);
  }

  private partitionCountOr(topic: string): number {
    try {
      return this.target.partitionCount(topic);
    } catch {
      return 1;
    }
  }

  private sealAll(): void {
    if (this.openBatches.size === 0) return;
    const counts = new Map<string, number>();
    for (const b of [...this.openBatches]) {
      const t = b.ps.topic;
      let n = counts.get(t);
      if (n === undefined) counts.set(t, (n = this.partitionCountOr(t)));
      this.seal(b, n);
    }
  }

  private seal(b: Batch, numPartitions: number): void {
    if (b.sealed) return;
    b.sealed = true;
    const ps = b.ps;
    if (ps.open === b) ps.open = null;
    this.openBatches.delete(b);
    this.outstanding.add(b);
    this.partitioner.batchSent(ps.topic, ps.partition, numPartitions);
    ps.queue.push(b);
    this.pump(ps);
  }

  // ------------------------------------------------------------------ dispatch

  private pump(ps: PartitionState): void {
    if (this.idempotent && (ps.needsResync || ps.pid !== this.pid)) {
      // Sequences restart only once nothing of the old numbering is in flight, and after the retries that must
      // go out unchanged (their first attempt may have landed: only the same bytes are recognised as a retry).
      if (ps.inFlight > 0) return;
      const retry = ps.queue.findIndex((b) => b.keepBytes);
      if (retry >= 0) {
        this.dispatch(ps, ps.queue.splice(retry, 1)[0]!);
        return;
      }
      if (!this.restartSequences(ps)) return;
    }
    while (ps.inFlight < this.maxInFlight && ps.queue.length > 0) {
      const b = ps.queue.shift()!;
      this.dispatch(ps, b);
      if (ps.needsResync) return;
    }
  }

  /**
   * Restarts a drained partition's numbering: after the last acknowledged batch when what failed was not
   * written; otherwise from 0 under the producer's current epoch, bumped first if the failure happened under
   * it (KIP-360). False while a new producer id is on its way.
   */
  private restartSequences(ps: PartitionState): boolean {
    const current = ps.pid !== null && ps.pid === this.pid;
    if (current && !ps.needsBump) {
      ps.nextSeq = ps.ackedSeq;
    } else {
      if (current) this.bumpEpoch();
      if (this.pid === null) return false;
      ps.pid = this.pid;
      ps.nextSeq = ps.ackedSeq = 0;
    }
    ps.seqEpoch++;
    ps.needsResync = ps.needsBump = false;
    return true;
  }

  private bumpEpoch(): void {
    const cur = this.pid as ProducerIdAndEpoch;
    if (cur.producerEpoch < MAX_EPOCH) {
      this.pid = { producerId: cur.producerId, producerEpoch: cur.producerEpoch + 1 };
      return;
    }
    this.pid = null;
    this.pidPromise = null;
    this.ensureProducerId().then(
      () => this.forEachPartition((ps) => this.pump(ps)),
      (e: unknown) =>
        this.forEachPartition((ps) => {
          for (const b of ps.queue.splice(0)) this.complete(b, e, null);
        }),
    );
  }

  private forEachPartition(fn: (ps: PartitionState) => void): void {
    for (const ts of this.topics.values()) for (const ps of ts.partitions) if (ps) fn(ps);
  }

  private dispatch(ps: PartitionState, b: Batch): void {
    if (b.buf === null || (this.idempotent && b.seqEpoch !== ps.seqEpoch)) {
      const seq = this.idempotent ? ps.nextSeq : -1;
      let buf: Buffer;
      try {
        buf = encodeBatch(b.records, {
          compression: this.compression,
          compressionLevel: this.compressionLevel,
          now: b.now,
          producerId: ps.pid?.producerId ?? -1n,
          producerEpoch: ps.pid?.producerEpoch ?? -1,
          baseSequence: seq,
        });
      } catch (e) {
        this.complete(b, e, null);
        return;
      }
      const max = this.topics.get(ps.topic)?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
      if (buf.length > max && b.records.length > 1) {
        // The size estimate was low (multi-byte text): split and try the halves, before any sequence is used.
        const [x, y] = this.split(b);
        ps.queue.unshift(x, y);
        this.dispatch(ps, ps.queue.shift()!);
        return;
      }
      b.buf = buf;
      if (this.idempotent) {
        b.baseSequence = seq;
        b.seqEpoch = ps.seqEpoch;
        ps.nextSeq = wrapSeq(seq, b.records.length);
      }
    }
    b.failuresAtDispatch = ps.failures;
    b.attempts++;
    ps.inFlight++;
    this.target.append(ps.topic, ps.partition, b.buf, this.appendOptions).then(
      (r) => this.onAppended(ps, b, r),
      (e: unknown) => this.onFailed(ps, b, e),
    );
  }

  /** Splits a sealed batch in two, keeping each record's send bookkeeping. */
  private split(b: Batch): [Batch, Batch] {
    const half = b.records.length >> 1;
    const x = new Batch(b.id, b.ps, b.now);
    const y = new Batch(b.id, b.ps, b.now);
    x.sealed = y.sealed = true;
    let o = 0;
    for (let i = 0; i < b.records.length; i++) {
      while (b.ownerEnds[o]! <= i) o++;
      const req = b.owners[o]!;
      (i < half ? x : y).add(b.records[i]!, req, b.index[i]!, 0);
    }
    // The two halves hold one more pending count per send than the original did.
    for (const req of b.owners) req.pending--;
    if (b.waiters) {
      const waiters = b.waiters;
      let left = 2;
      const done = (): void => {
        if (--left === 0) for (const w of waiters) w();
      };
      x.waiters = [done];
      y.waiters = [done];
    }
    this.outstanding.delete(b);
    this.outstanding.add(x);
    this.outstanding.add(y);
    return [x, y];
  }

  private onAppended(ps: PartitionState, b: Batch, r: AppendResult): void {
    ps.inFlight--;
    if (this.idempotent && b.seqEpoch === ps.seqEpoch) ps.ackedSeq = wrapSeq(b.baseSequence, b.records.length);
    this.complete(b, null, r);
    this.pump(ps);
  }

  private onFailed(ps: PartitionState, b: Batch, e: unknown): void {
    ps.inFlight--;
    const code = e instanceof SluiceError ? e.code : null;
    if (
      this.idempotent &&
      code === 'OUT_OF_ORDER_SEQUENCE' &&
      b.requeues < 2 * this.maxInFlight + this.retries &&
      (ps.failures > b.failuresAtDispatch || ps.needsResync || ps.inFlight > 0)
    ) {
      // A victim of an earlier batch's failure (nothing of it was written): try again after it.
      b.requeues++;
      b.attempts--;
      b.keepBytes = false;
      this.requeue(ps, b);
    } else if (this.idempotent && code === 'UNKNOWN_PRODUCER_ID' && b.requeues < 2 * this.maxInFlight + this.retries) {
      // The partition forgot this producer (it expired) and wrote nothing: start over under a new epoch.
      b.requeues++;
      b.attempts--;
      b.keepBytes = false;
      ps.needsResync = ps.needsBump = true;
      this.requeue(ps, b);
    } else if (isRetriable(e) && b.attempts <= this.retries && !this.closed) {
      ps.failures++;
      b.keepBytes = this.idempotent;
      this.requeue(ps, b); // same bytes, same sequence
    } else {
      if (this.idempotent) {
        ps.failures++;
        ps.needsResync = true;
        if (code === null || !NOT_WRITTEN.has(code)) ps.needsBump = true;
      }
      this.complete(b, e, null);
    }
    this.pump(ps);
  }

  private requeue(ps: PartitionState, b: Batch): void {
    let i = 0;
    while (i < ps.queue.length && ps.queue[i]!.id <= b.id) i++;
    ps.queue.splice(i, 0, b);
  }

  /** Notes a finished batch in its sends, and settles those that are now complete. */
  private complete(b: Batch, err: unknown, r: AppendResult | null): void {
    const { owners, ownerEnds } = b;
    let from = 0;
    for (let o = 0; o < owners.length; o++) {
      const req = owners[o]!;
      const to = ownerEnds[o]!;
      if (r !== null) req.done.push({ batch: b, result: r, from, to });
      req.settleOne(err);
      from = to;
    }
    this.outstanding.delete(b);
    if (b.waiters) for (const w of b.waiters) w();
  }
}
