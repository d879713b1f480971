/**
 * The embedded consumer: reads assigned partitions straight from the engine (zero-copy reads, decoded here)
 * within the read budget the Fetch handler also uses (`walkReadBudget`), long-polls with `waitForAny`, and keeps
 * committed offsets through an offsets backend (the OffsetsStore).
 *
 * Positions follow Kafka's consumer: the position of a partition is the offset of the next record to return.
 * A read that starts mid-batch skips the records below the position; control batches are skipped; an offset
 * outside the log is reset per `autoOffsetReset`. Starting position of an assigned partition: the explicit
 * offset given to `assign`, else the group's committed offset, else `autoOffsetReset`.
 *
 * Group membership (subscribe + rebalance) is not here: partitions are assigned explicitly.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { SluiceError } from '../errors.js';
import { decodeFetchedRecords } from '../record/fetched.js';
import { walkReadBudget } from '../engine/read-budget.js';
import type { RecordHeader } from '../record/types.js';
import type {
  CommittedOffset,
  IsolationLevel,
  OffsetCommitEntry,
  OffsetSpec,
  ReadResult,
  SluiceReadOptions,
  TimestampOffset,
  TopicOffsets,
  WaitForDataTarget,
} from '../engine/types.js';

/** The engine calls a consumer needs (the `Sluice` class satisfies it). */
export interface ConsumerEngine {
  partitionCount(topic: string): number;
  read(topic: string, partition: number, offset: bigint, opts: SluiceReadOptions): ReadResult;
  waitForAny(targets: readonly WaitForDataTarget[], timeoutMs: number, options?: { signal?: AbortSignal }): Promise<boolean>;
  listOffset(topic: string, partition: number, spec: OffsetSpec): Promise<TimestampOffset>;
  offsets(topic: string, partition: number): TopicOffsets;
}

/** Where committed offsets live (the OffsetsStore satisfies it). */
export interface OffsetsBackend {
  commit(groupId: string, entries: readonly OffsetCommitEntry[]): Promise<void>;
  fetch(groupId: string, partitions?: readonly { topic: string; partition: number }[]): CommittedOffset[] | Promise<CommittedOffset[]>;
}

export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions {
  /** Group whose committed offsets are used and written. */
  groupId?: string;
  /** Shorthand for autoOffsetReset 'earliest' (as kafkajs' fromBeginning). */
  fromBeginning?: boolean;
  /** What to do without a committed offset or with an out-of-range one. Default 'latest' (Kafka's default). */
  autoOffsetReset?: AutoOffsetReset;
  /** Bytes read per poll across partitions (fetch.max.bytes). Default 52428800. */
  maxBytes?: number;
  /** Bytes read per partition per poll (max.partition.fetch.bytes). Default 1048576. */
  maxPartitionBytes?: number;
  /** Default long-poll time of `poll` when it finds nothing (fetch.max.wait.ms). Default 500. */
  maxWaitMs?: number;
  /** Default record limit of `poll` (max.poll.records). Default 500. */
  maxPollRecords?: number;
  /** Commit positions after each poll's records are processed (at the next poll) and on close. Default false. */
  autoCommit?: boolean;
  /** Default 'read_uncommitted'. */
  isolationLevel?: IsolationLevel;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** Starting offset; omitted: committed offset, else autoOffsetReset. */
  offset?: bigint;
}

export interface PollOptions {
  maxRecords?: number;
  timeoutMs?: number;
}

/** Where `seek` moves a partition. */
export type SeekTarget = bigint | OffsetSpec;

/** One record as the consumer returns it. Uncompressed keys/values are read-only views of the log. */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface CommitEntry {
  topic: string;
  partition: number;
  offset: bigint;
  metadata?: string | null;
}

type Reset = { kind: 'initial' } | { kind: 'spec'; spec: OffsetSpec };

interface Assigned {
  topic: string;
  partition: number;
  /** Next offset to return; null until resolved. */
  position: bigint | null;
  reset: Reset | null;
  /** Decoded records not yet returned, from `bufIdx`; their read ended at `bufNext`. */
  buf: ConsumerRecord[];
  bufIdx: number;
  bufNext: bigint;
}

const key = (topic: string, partition: number): string => `${partition}:${topic}`;

export class Consumer implements AsyncIterable<ConsumerRecord> {
  readonly groupId: string | null;
  private readonly autoOffsetReset: AutoOffsetReset;
  private readonly maxBytes: number;
  private readonly maxPartitionBytes: number;
  private readonly maxWaitMs: number;
  private readonly maxPollRecords: number;
  private readonly autoCommit: boolean;
  private readonly isolation: IsolationLevel;
  private readonly assigned = new Map<string, Assigned>();
  private order: Assigned[] = [];
  /** Round-robin start of the next fetch, for fairness between partitions. */
  private rr = 0;
  /** Records were returned since the last auto-commit. */
  private dirty = false;
  private closed = false;
  /** Aborts on close: a pending poll returns at once. */
  private readonly closer = new AbortController();

  constructor(
    private readonly engine: ConsumerEngine,
    private readonly offsetsBackend: OffsetsBackend | null,
    opts: ConsumerOptions = {},
  ) {
    this.groupId = opts.groupId ?? null;
    if (this.groupId !== null && (typeof this.groupId !== 'string' || this.groupId.length === 0)) {
      throw new SluiceError('INVALID_ARGUMENT', 'groupId must be a non-empty string');
    }
    const reset = opts.autoOffsetReset ?? (opts.fromBeginning ? 'earliest' : 'latest');
    if (reset !== 'earliest' && reset !== 'latest' && reset !== 'none') {
      throw new SluiceError('INVALID_ARGUMENT', `autoOffsetReset must be earliest, latest or none, got ${String(reset)}`);
    }
    this.autoOffsetReset = reset;
    this.maxBytes = opts.maxBytes ?? 52_428_800;
    this.maxPartitionBytes = opts.maxPartitionBytes ?? 1_048_576;
    this.maxWaitMs = opts.maxWaitMs ?? 500;
    this.maxPollRecords = opts.maxPollRecords ?? 500;
    this.autoCommit = opts.autoCommit ?? false;
    this.isolation = opts.isolationLevel ?? 'read_uncommitted';
    if (this.autoCommit && this.groupId === null) throw new SluiceError('INVALID_ARGUMENT', 'autoCommit needs a groupId');
  }

  /** Replaces the assignment. Partitions must exist. */
  assign(partitions: readonly TopicPartitionOffset[]): void {
    this.checkOpen();
    const next = new Map<string, Assigned>();
    for (const tp of partitions) {
      const n = this.engine.partitionCount(tp.topic);
      if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= n) {
        throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${tp.topic}" has no partition ${tp.partition}`);
      }
      const k = key(tp.topic, tp.partition);
      const a: Assigned = next.get(k) ?? this.assigned.get(k) ?? this.fresh(tp.topic, tp.partition);
      if (tp.offset !== undefined) {
        checkOffset(tp.offset);
        this.setPosition(a, tp.offset);
      }
      next.set(k, a);
    }
    this.assigned.clear();
    for (const [k, a] of next) this.assigned.set(k, a);
    this.order = [...next.values()];
    this.rr = 0;
  }

  /** Assigned partitions. */
  assignment(): { topic: string; partition: number }[] {
    return this.order.map((a) => ({ topic: a.topic, partition: a.partition }));
  }

  /** Moves the position of an assigned partition: an offset, 'earliest', 'latest' or { timestamp }. */
  seek(topic: string, partition: number, target: SeekTarget): void {
    this.checkOpen();
    const a = this.get(topic, partition);
    if (typeof target === 'bigint') {
      checkOffset(target);
      this.setPosition(a, target);
      return;
    }
    if (target !== 'earliest' && target !== 'latest' && (typeof target !== 'object' || target === null || !('timestamp' in target))) {
      throw new SluiceError('INVALID_ARGUMENT', `invalid seek target ${String(target)}`);
    }
    a.position = null;
    a.reset = { kind: 'spec', spec: target };
    a.buf = [];
    a.bufIdx = 0;
  }

  /** The offset of the next record `poll` returns for a partition. */
  async position(topic: string, partition: number): Promise<bigint> {
    this.checkOpen();
    const a = this.get(topic, partition);
    if (a.position === null) await this.resolve(a);
    return a.position!;
  }

  /**
   * Returns available records (up to maxRecords), waiting up to timeoutMs for some to arrive. Returns [] on
   * timeout or when the consumer is closed meanwhile.
   */
  async poll(opts: PollOptions = {}): Promise<ConsumerRecord[]> {
    this.checkOpen();
    const maxRecords = opts.maxRecords ?? this.maxPollRecords;
    const timeoutMs = opts.timeoutMs ?? this.maxWaitMs;
    if (this.autoCommit && this.dirty) await this.commit();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.closed) return [];
      for (const a of this.order) if (a.position === null) await this.resolve(a);
      const out = this.fetchAvailable(maxRecords);
      if (out.length > 0) {
        this.dirty = true;
        return out;
      }
      const left = deadline - performance.now();
      if (left <= 0 || this.order.length === 0) {
        if (left > 0) await this.sleep(left);
        return [];
      }
      await this.waitAny(left);
    }
  }

  /** Commits offsets for the group: the given ones, or the current positions of all assigned partitions. */
  async commit(offsets?: readonly CommitEntry[]): Promise<void> {
    const groupId = this.requireGroup();
    let entries: OffsetCommitEntry[];
    if (offsets) {
      entries = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata ?? null }));
    } else {
      entries = [];
      for (const a of this.order) if (a.position !== null) entries.push({ topic: a.topic, partition: a.partition, offset: a.position, metadata: null });
    }
    this.dirty = false;
    if (entries.length > 0) await this.offsetsBackend!.commit(groupId, entries);
  }

  /** The group's committed offsets for these partitions (offset -1n when none). */
  async committed(partitions: readonly { topic: string; partition: number }[]): Promise<CommittedOffset[]> {
    const groupId = this.requireGroup();
    return await this.offsetsBackend!.fetch(groupId, partitions);
  }

  /** Polls forever (until close or break); breaking out commits what was yielded when autoCommit is on. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord, void, undefined> {
    let batch: ConsumerRecord[] = [];
    let i = 0;
    try {
      while (!this.closed) {
        batch = await this.poll();
        for (i = 0; i < batch.length; i++) {
          yield batch[i]!;
          if (this.closed) return;
        }
      }
    } finally {
      if (i < batch.length && !this.closed) {
        // Left mid-batch: rewind to the first record not handed out, so it is neither lost nor committed.
        const rewound = new Set<string>();
        for (let j = i + 1; j < batch.length; j++) {
          const r = batch[j]!;
          const k = key(r.topic, r.partition);
          if (rewound.has(k) || !this.assigned.has(k)) continue;
          rewound.add(k);
          this.seek(r.topic, r.partition, r.offset);
        }
        if (this.autoCommit) await this.commit();
      }
    }
  }

  /** Commits positions (autoCommit), then stops; a pending poll returns []. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.autoCommit && this.dirty) await this.commit();
    } finally {
      this.closed = true;
      this.closer.abort();
    }
  }

  // ------------------------------------------------------------------ internals

  private fresh(topic: string, partition: number): Assigned {
    return { topic, partition, position: null, reset: { kind: 'initial' }, buf: [], bufIdx: 0, bufNext: 0n };
  }

  private setPosition(a: Assigned, offset: bigint): void {
    a.position = offset;
    a.reset = null;
    a.buf = [];
    a.bufIdx = 0;
  }

  private get(topic: string, partition: number): Assigned {
    const a = this.assigned.get(key(topic, partition));
    if (!a) throw new SluiceError('INVALID_ARGUMENT', `partition ${topic}-${partition} is not assigned to this consumer`);
    return a;
  }

  private requireGroup(): string {
    if (this.groupId === null) throw new SluiceError('INVALID_ARGUMENT', 'committed offsets need a groupId');
    if (!this.offsetsBackend) throw new SluiceError('INVALID_ARGUMENT', 'this consumer has no offsets store');
    return this.groupId;
  }

  private checkOpen(): void {
    if (this.closed) throw new SluiceError('CLOSED', 'the consumer is closed');
  }

  /** Resolves a pending position: committed offset (initially), else the reset policy / seek target. */
  private async resolve(a: Assigned): Promise<void> {
    // A partition without a position always has a pending reset.
    const reset: Reset = a.reset ?? { kind: 'initial' };
    a.reset = reset;
    let spec: OffsetSpec | 'none';
    if (reset.kind === 'initial') {
      if (this.groupId !== null && this.offsetsBackend) {
        const [c] = await this.offsetsBackend.fetch(this.groupId, [{ topic: a.topic, partition: a.partition }]);
        if (c && c.offset >= 0n) {
          if (a.position === null && a.reset === reset) this.setPosition(a, c.offset);
          return;
        }
      }
      spec = this.autoOffsetReset;
    } else {
      spec = reset.spec;
    }
    if (spec === 'none') {
      throw new SluiceError('OFFSET_OUT_OF_RANGE', `no committed offset for ${a.topic}-${a.partition} and autoOffsetReset is none`);
    }
    let r = await this.engine.listOffset(a.topic, a.partition, spec);
    // No record at or after the timestamp: the end of the log, as Kafka's consumer does after offsetsForTimes.
    if (r.offset < 0n) r = await this.engine.listOffset(a.topic, a.partition, 'latest');
    // A seek or assign may have set the position meanwhile; it wins.
    if (a.position === null && a.reset === reset) this.setPosition(a, r.offset);
  }

  /** Out-of-range position: reset by policy (synchronously, from shared-memory offsets). */
  private resetOutOfRange(a: Assigned, err: SluiceError): void {
    if (this.autoOffsetReset === 'none') throw err;
    const o = this.engine.offsets(a.topic, a.partition);
    this.setPosition(a, this.autoOffsetReset === 'earliest' ? o.logStartOffset : o.highWatermark);
  }

  /** Hands out buffered records and reads partitions with none, round robin, within the read budget. */
  private fetchAvailable(maxRecords: number): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    const n = this.order.length;
    walkReadBudget(
      n,
      this.maxBytes,
      () => this.maxPartitionBytes,
      (k, limit) => {
        const a = this.order[(this.rr + k) % n]!;
        if (a.position === null) return 0;
        let bytes = 0;
        if (a.bufIdx >= a.buf.length) {
          if (limit === 0) return 0;
          bytes = this.readInto(a, limit);
        }
        while (a.bufIdx < a.buf.length && out.length < maxRecords) out.push(a.buf[a.bufIdx++]!);
        if (a.bufIdx < a.buf.length) {
          a.position = a.buf[a.bufIdx]!.offset;
        } else {
          if (a.buf.length > 0 || a.bufNext > a.position) a.position = a.bufNext;
          a.buf = [];
          a.bufIdx = 0;
        }
        return bytes;
      },
      () => out.length < maxRecords,
    );
    this.rr = n === 0 ? 0 : (this.rr + 1) % n;
    return out;
  }

  /** Reads and decodes from a partition's position into its buffer; returns bytes read. */
  private readInto(a: Assigned, maxBytes: number): number {
    const pos = a.position!;
    let res: ReadResult;
    try {
      res = this.engine.read(a.topic, a.partition, pos, { maxBytes, isolation: this.isolation });
    } catch (e) {
      if (e instanceof SluiceError && e.code === 'OFFSET_OUT_OF_RANGE') {
        this.resetOutOfRange(a, e);
        return 0;
      }
      throw e;
    }
    if (res.records.length === 0) {
      // Past the end of the log (e.g. truncated or seeked beyond it), or below its start: out of range.
      if (pos > res.logEndOffset || pos < res.logStartOffset) {
        this.resetOutOfRange(a, new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${pos} is outside ${a.topic}-${a.partition} [${res.logStartOffset}, ${res.logEndOffset}]`));
      }
      a.bufNext = pos;
      return 0;
    }
    const { topic, partition } = a;
    const { records, nextOffset } = decodeFetchedRecords(res.records, pos);
    a.buf = records.map((r) => ({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers }));
    a.bufIdx = 0;
    a.bufNext = nextOffset;
    return res.records.length;
  }

  /** Waits `ms`, or less if the consumer closes. */
  private sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.closer.signal }).catch(() => undefined);
  }

  /** Waits until any assigned partition has data past its position, the consumer closes, or time runs out. */
  private async waitAny(timeoutMs: number): Promise<void> {
    const targets: WaitForDataTarget[] = [];
    for (const a of this.order) if (a.position !== null) targets.push({ topic: a.topic, partition: a.partition, offset: a.position });
    if (targets.length === 0) return this.sleep(timeoutMs);
    await this.engine.waitForAny(targets, timeoutMs, { signal: this.closer.signal });
  }
}

function checkOffset(o: bigint): void {
  if (typeof o !== 'bigint' || o < 0n) throw new SluiceError('INVALID_ARGUMENT', `offset must be a non-negative bigint, got ${String(o)}`);
}
