/**
 * Committed consumer-group offsets, kept the way Kafka keeps them: as records of the internal compacted topic
 * `__consumer_offsets`, so they survive restarts and compaction keeps only the latest value per key.
 *
 * Record format (Kafka's generated OffsetCommitKey / OffsetCommitValue schemas, big-endian, strings as int16
 * length + UTF-8):
 *   key   v1: version int16 (1) | group string | topic string | partition int32
 *   value v3: version int16 (3) | offset int64 | leaderEpoch int32 | metadata string | commitTimestamp int64
 *   a null value is a tombstone (offset deleted).
 * Older value versions (0..2) are read too. Group metadata records (key version 2, written by the group
 * coordinator through `storeGroup`) share the topic; the store keeps their latest value per group.
 *
 * A group's records all go to partition `abs(javaHashCode(groupId)) % partitions` (Kafka's
 * GroupMetadataManager.partitionFor with Utils.abs), so one commit is one batch in one partition: atomic.
 * A partition is loaded by replaying it into memory (last value per key wins) and unloaded by dropping its
 * groups from memory, so a coordinator can follow the partition's leadership; a single node loads them all
 * on open. `fetch` answers from memory.
 */
import { SluiceError } from '../errors.js';
import { decodeBatches, encodeBatch } from '../record/batch.js';
import type { RecordInput } from '../record/types.js';
import type { AppendOptions, AppendResult, CreateTopicOptions, ReadResult, TopicDescription } from '../engine/types.js';
import type { CommittedOffset, OffsetCommitEntry, TopicPartition } from './types.js';
import { recordReader, recordWriter, writeString } from './record-io.js';

export const OFFSETS_TOPIC = '__consumer_offsets';
/** offsets.topic.num.partitions default. */
export const DEFAULT_OFFSETS_TOPIC_PARTITIONS = 50;
/** offset.metadata.max.bytes default. */
export const DEFAULT_MAX_METADATA_BYTES = 4096;

const KEY_VERSION_OFFSET_COMMIT = 1;
const VALUE_VERSION = 3;
const NO_LEADER_EPOCH = -1;
const INT64_MAX = 2n ** 63n - 1n;
const REPLAY_READ_BYTES = 1 << 20;

/** The calls of the engine the store needs (the `Sluice` class satisfies it). */
export interface OffsetsEngine {
  createTopic(name: string, opts?: CreateTopicOptions): Promise<unknown>;
  /** Throws SluiceError UNKNOWN_TOPIC_OR_PARTITION for a missing topic. */
  describeTopic(name: string): Promise<TopicDescription>;
  append(topic: string, partition: number, batches: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  read(topic: string, partition: number, offset: bigint, opts: { maxBytes: number }): ReadResult;
}

export interface OffsetsStoreOptions {
  /** Partitions of `__consumer_offsets` when the store creates it (offsets.topic.num.partitions). Default 50. */
  partitions?: number;
  /** Largest metadata string accepted, in UTF-8 bytes (offset.metadata.max.bytes). Default 4096. */
  maxMetadataBytes?: number;
  /** Time source for commit timestamps; default Date.now. */
  now?: () => number;
  /** Append timeout (ms). */
  timeoutMs?: number;
  /** Replay every partition on open (a single node). Default true; false leaves each for `loadPartition`. */
  loadPartitions?: boolean;
}

/** One committed offset as the store keeps it. */
export interface StoredOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: bigint;
}

// ---------------------------------------------------------------------------------------------------------
// Kafka's record layout

/** Java's String.hashCode over UTF-16 code units, as a signed int32. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs: Math.abs, except MIN_VALUE maps to 0. */
function kafkaAbs(n: number): number {
  return n === -0x80000000 ? 0 : Math.abs(n);
}

/** The `__consumer_offsets` partition of a group, as Kafka computes it. */
export function partitionForGroup(groupId: string, partitions: number): number {
  return kafkaAbs(javaStringHashCode(groupId)) % partitions;
}

/** OffsetCommitKey v1. */
export function encodeOffsetKey(groupId: string, topic: string, partition: number): Buffer {
  const w = recordWriter();
  w.int16(KEY_VERSION_OFFSET_COMMIT);
  writeString(w, groupId, 'group id');
  writeString(w, topic, 'topic');
  w.int32(partition);
  return w.toBuffer();
}

/** OffsetCommitValue v3. */
export function encodeOffsetValue(v: { offset: bigint; leaderEpoch: number; metadata: string; commitTimestamp: bigint }): Buffer {
  const w = recordWriter();
  w.int16(VALUE_VERSION);
  w.int64(v.offset);
  w.int32(v.leaderEpoch);
  writeString(w, v.metadata, 'metadata');
  w.int64(v.commitTimestamp);
  return w.toBuffer();
}

export type DecodedOffsetKey =
  | { kind: 'offset'; version: number; groupId: string; topic: string; partition: number }
  | { kind: 'group'; version: number; groupId: string }
  | { kind: 'unknown'; version: number };

export function decodeOffsetKey(buf: Buffer): DecodedOffsetKey {
  const r = recordReader(buf);
  const version = r.int16();
  if (version === 0 || version === 1) {
    const groupId = r.string();
    const topic = r.string();
    return { kind: 'offset', version, groupId, topic, partition: r.int32() };
  }
  if (version === 2) return { kind: 'group', version, groupId: r.string() };
  return { kind: 'unknown', version };
}

/** Decodes OffsetCommitValue v0..v3. */
export function decodeOffsetValue(buf: Buffer): { offset: bigint; leaderEpoch: number; metadata: string; commitTimestamp: bigint } {
  const r = recordReader(buf);
  const version = r.int16();
  switch (version) {
    case 0:
    case 2: {
      const offset = r.int64();
      const metadata = r.string();
      return { offset, leaderEpoch: NO_LEADER_EPOCH, metadata, commitTimestamp: r.int64() };
    }
    case 1: {
      const offset = r.int64();
      const metadata = r.string();
      const commitTimestamp = r.int64();
      r.int64(); // expireTimestamp
      return { offset, leaderEpoch: NO_LEADER_EPOCH, metadata, commitTimestamp };
    }
    case 3: {
      const offset = r.int64();
      const leaderEpoch = r.int32();
      const metadata = r.string();
      return { offset, leaderEpoch, metadata, commitTimestamp: r.int64() };
    }
    default:
      throw new SluiceError('CORRUPT_RECORD', `unsupported offset commit value version ${version}`);
  }
}

// ---------------------------------------------------------------------------------------------------------

const tpKey = (topic: string, partition: number): string => `${partition}:${topic}`;

export class OffsetsStore {
  /** group → (partition:topic → offset). */
  private readonly groups = new Map<string, Map<string, StoredOffset>>();
  /** Latest group metadata record (key version 2) per group, as written by the group coordinator. */
  private readonly groupMetadata = new Map<string, { key: Buffer; value: Buffer }>();
  /** Writes to one offsets partition are chained so memory is updated in log order. */
  private readonly chains: Promise<unknown>[];
  private readonly loaded = new Set<number>();
  /** Bumped by every load and unload of a partition: a write or replay begun under another epoch leaves memory alone. */
  private readonly epochs: number[];
  private closed = false;

  private constructor(
    private readonly engine: OffsetsEngine,
    /** Partition count of `__consumer_offsets` (the existing topic's, if it already existed). */
    readonly partitions: number,
    /** offset.metadata.max.bytes: the largest metadata string accepted, in UTF-8 bytes. */
    readonly maxMetadataBytes: number,
    private readonly now: () => number,
    private readonly timeoutMs: number | undefined,
  ) {
    this.chains = Array.from({ length: partitions }, () => Promise.resolve());
    this.epochs = Array.from({ length: partitions }, () => 0);
  }

  /** Opens the store: creates `__consumer_offsets` on first use, then (unless told not to) replays it into memory. */
  static async open(engine: OffsetsEngine, opts: OffsetsStoreOptions = {}): Promise<OffsetsStore> {
    const wanted = opts.partitions ?? DEFAULT_OFFSETS_TOPIC_PARTITIONS;
    if (!Number.isInteger(wanted) || wanted < 1) throw new SluiceError('INVALID_ARGUMENT', `offsets topic partitions must be ≥ 1, got ${wanted}`);
    let desc = await describe(engine);
    if (!desc) {
      try {
        await engine.createTopic(OFFSETS_TOPIC, {
          partitions: wanted,
          internal: true,
          configs: { 'cleanup.policy': 'compact', 'segment.bytes': '104857600', 'compression.type': 'producer' },
        });
      } catch (e) {
        // Another opener won the race; use its topic.
        if (!(e instanceof SluiceError && e.code === 'TOPIC_ALREADY_EXISTS')) throw e;
      }
      desc = await describe(engine);
      if (!desc) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${OFFSETS_TOPIC} could not be created`);
    }
    // The partition count is fixed once the topic exists (group placement depends on it).
    const store = new OffsetsStore(
      engine,
      desc.partitions.length,
      opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
      opts.now ?? Date.now,
      opts.timeoutMs,
    );
    if (opts.loadPartitions ?? true) {
      for (const p of desc.partitions) store.replay(p);
    }
    return store;
  }

  /**
   * Replays one partition into memory (after the writes already under way to it), replacing what memory
   * held of it. Calls for the same partition run in order; an unload while it runs wins.
   */
  loadPartition(partition: number): Promise<void> {
    this.checkOpen();
    this.checkPartition(partition);
    const epoch = ++this.epochs[partition]!;
    const run = async (): Promise<void> => {
      const desc = await describe(this.engine);
      const p = desc?.partitions.find((x) => x.partition === partition);
      if (!p) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${OFFSETS_TOPIC}-${partition} does not exist`);
      if (this.epochs[partition] !== epoch || this.closed) return;
      this.dropPartition(partition);
      this.replay(p);
    };
    const p = this.chains[partition]!.then(run, run);
    this.chains[partition] = p.catch(() => undefined);
    return p;
  }

  /** Drops one partition's groups and offsets from memory; writes still under way to it stay out of memory. */
  unloadPartition(partition: number): void {
    this.checkPartition(partition);
    this.epochs[partition]!++;
    this.dropPartition(partition);
  }

  isLoaded(partition: number): boolean {
    return this.loaded.has(partition);
  }

  private dropPartition(partition: number): void {
    this.loaded.delete(partition);
    for (const groupId of this.groups.keys()) if (this.partitionFor(groupId) === partition) this.groups.delete(groupId);
    for (const groupId of this.groupMetadata.keys()) if (this.partitionFor(groupId) === partition) this.groupMetadata.delete(groupId);
  }

  /** Reads are synchronous, so nothing else touches memory while a partition replays. */
  private replay(p: TopicDescription['partitions'][number]): void {
    let offset = p.logStartOffset;
    const end = p.highWatermark;
    while (offset < end) {
      const res = this.engine.read(OFFSETS_TOPIC, p.partition, offset, { maxBytes: REPLAY_READ_BYTES });
      if (res.records.length === 0) break;
      for (const batch of decodeBatches(res.records, { allowPartialTail: true })) {
        if (batch.control) continue;
        for (const rec of batch.records) {
          if (rec.offset < offset || rec.key === null) continue;
          this.apply(rec.key, rec.value);
        }
      }
      if (res.nextOffset <= offset) break;
      offset = res.nextOffset;
    }
    this.loaded.add(p.partition);
  }

  /** Applies one record of the topic to memory. */
  private apply(key: Buffer, value: Buffer | null): void {
    const k = decodeOffsetKey(key);
    if (k.kind === 'group') {
      if (value === null) this.groupMetadata.delete(k.groupId);
      else this.groupMetadata.set(k.groupId, { key, value });
      return;
    }
    if (k.kind !== 'offset') return;
    const id = tpKey(k.topic, k.partition);
    if (value === null) {
      const g = this.groups.get(k.groupId);
      if (g) {
        g.delete(id);
        if (g.size === 0) this.groups.delete(k.groupId);
      }
      return;
    }
    const v = decodeOffsetValue(value);
    let g = this.groups.get(k.groupId);
    if (!g) this.groups.set(k.groupId, (g = new Map()));
    g.set(id, { topic: k.topic, partition: k.partition, ...v });
  }

  /** The `__consumer_offsets` partition holding a group's offsets. */
  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitions);
  }

  /** Commits offsets for a group durably (acks all), atomically (one batch), then makes them visible. */
  async commit(groupId: string, entries: readonly OffsetCommitEntry[]): Promise<void> {
    this.checkOpen();
    checkGroup(groupId);
    if (entries.length === 0) return;
    const commitTimestamp = BigInt(this.now());
    const records: RecordInput[] = entries.map((e) => {
      if (typeof e.topic !== 'string' || e.topic.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'commit entry needs a topic');
      if (!Number.isInteger(e.partition) || e.partition < 0) throw new SluiceError('INVALID_ARGUMENT', `bad partition ${e.partition}`);
      if (typeof e.offset !== 'bigint' || e.offset < 0n || e.offset > INT64_MAX) {
        throw new SluiceError('INVALID_ARGUMENT', `bad offset ${String(e.offset)} for ${e.topic}-${e.partition}`);
      }
      const metadata = e.metadata ?? '';
      if (Buffer.byteLength(metadata, 'utf8') > this.maxMetadataBytes) {
        throw new SluiceError('INVALID_ARGUMENT', `offset metadata for ${e.topic}-${e.partition} exceeds ${this.maxMetadataBytes} bytes`);
      }
      const leaderEpoch = e.leaderEpoch ?? NO_LEADER_EPOCH;
      return {
        key: encodeOffsetKey(groupId, e.topic, e.partition),
        value: encodeOffsetValue({ offset: e.offset, leaderEpoch, metadata, commitTimestamp }),
        timestamp: commitTimestamp,
      };
    });
    await this.write(groupId, records);
  }

  /**
   * Committed offsets of a group, as Kafka's OffsetFetch answers: for each requested partition its offset, or
   * offset -1n (metadata null) when none is committed. Without `partitions`, every committed offset of the group.
   */
  fetch(groupId: string, partitions?: readonly TopicPartition[]): CommittedOffset[] {
    this.checkOpen();
    const g = this.groups.get(groupId);
    if (!partitions) {
      if (!g) return [];
      return [...g.values()]
        .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        .map(toCommitted);
    }
    return partitions.map((tp) => {
      const s = g?.get(tpKey(tp.topic, tp.partition));
      return s ? toCommitted(s) : { topic: tp.topic, partition: tp.partition, offset: -1n, metadata: null, leaderEpoch: NO_LEADER_EPOCH };
    });
  }

  /** Full stored entries of a group (with commit timestamps). */
  entries(groupId: string): StoredOffset[] {
    return [...(this.groups.get(groupId)?.values() ?? [])].map((s) => ({ ...s }));
  }

  /** Groups that have at least one committed offset or a group metadata record. */
  listGroups(): string[] {
    return [...new Set([...this.groups.keys(), ...this.groupMetadata.keys()])].sort();
  }

  /**
   * Deletes every committed offset of a group, and its group metadata record if any (tombstones, one batch).
   * Returns false if there was nothing to delete.
   */
  async deleteGroup(groupId: string): Promise<boolean> {
    this.checkOpen();
    const records: RecordInput[] = [...(this.groups.get(groupId)?.values() ?? [])].map((s) => ({
      key: encodeOffsetKey(groupId, s.topic, s.partition),
      value: null,
    }));
    const meta = this.groupMetadata.get(groupId);
    if (meta) records.push({ key: meta.key, value: null });
    if (records.length === 0) return false;
    await this.write(groupId, records);
    return true;
  }

  /**
   * Writes a group metadata record (key version 2, already encoded in Kafka's layout; value null = tombstone)
   * to the group's partition, durably. This makes the store the group coordinator's `GroupPersistence`.
   */
  async storeGroup(groupId: string, key: Buffer, value: Buffer | null): Promise<void> {
    this.checkOpen();
    checkGroup(groupId);
    const k = decodeOffsetKey(key);
    if (k.kind !== 'group' || k.groupId !== groupId) {
      throw new SluiceError('INVALID_ARGUMENT', `not a group metadata key for group "${groupId}"`);
    }
    await this.write(groupId, [{ key, value }]);
  }

  /** Group metadata records of the loaded partitions (latest per group), or of one of them, for the group coordinator to load. */
  storedGroups(partition?: number): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [g, r] of this.groupMetadata) if (partition === undefined || this.partitionFor(g) === partition) out.set(g, r.value);
    return out;
  }

  /** Deletes a group's offsets for some partitions (tombstones). Returns how many existed. */
  async deleteOffsets(groupId: string, partitions: readonly TopicPartition[]): Promise<number> {
    this.checkOpen();
    const g = this.groups.get(groupId);
    const present = partitions.filter((tp) => g?.has(tpKey(tp.topic, tp.partition)));
    if (present.length === 0) return 0;
    await this.write(
      groupId,
      present.map((tp) => ({ key: encodeOffsetKey(groupId, tp.topic, tp.partition), value: null })),
    );
    return present.length;
  }

  /** Stops accepting calls; in-flight commits still finish. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.chains);
  }

  private write(groupId: string, records: RecordInput[]): Promise<void> {
    const partition = this.partitionFor(groupId);
    const batch = encodeBatch(records, { now: this.now() });
    const run = async (): Promise<void> => {
      const epoch = this.epochs[partition];
      await this.engine.append(OFFSETS_TOPIC, partition, batch, this.timeoutMs === undefined ? { acks: 'all' } : { acks: 'all', timeoutMs: this.timeoutMs });
      // Visible only once durable, in the same order as in the log; an unloaded partition's stays on disk only.
      if (this.epochs[partition] !== epoch || !this.loaded.has(partition)) return;
      for (const r of records) this.apply(r.key as Buffer, r.value as Buffer | null);
    };
    const p = this.chains[partition]!.then(run, run);
    this.chains[partition] = p.catch(() => undefined);
    return p;
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new SluiceError('INVALID_ARGUMENT', `${OFFSETS_TOPIC} has no partition ${partition}`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SluiceError('CLOSED', 'the offsets store is closed');
  }
}

function toCommitted(s: StoredOffset): CommittedOffset {
  return { topic: s.topic, partition: s.partition, offset: s.offset, metadata: s.metadata, leaderEpoch: s.leaderEpoch };
}

function checkGroup(groupId: string): void {
  if (typeof groupId !== 'string' || groupId.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'group id must be a non-empty string');
}

async function describe(engine: OffsetsEngine): Promise<TopicDescription | undefined> {
  try {
    return await engine.describeTopic(OFFSETS_TOPIC);
  } catch (e) {
    if (e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined;
    throw e;
  }
}
