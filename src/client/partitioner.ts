/**
 * The producer's default partitioner, compatible with Kafka's Java client (and kafkajs' DefaultPartitioner):
 * - an explicit partition wins;
 * - a key goes to `toPositive(murmur2(keyBytes)) % numPartitions`, so keyed data lands on the same partition
 *   whichever client wrote it;
 * - no key: sticky (KIP-480) — every keyless record of a topic goes to one partition until the batch for it
 *   is sent (full or lingered), then the producer calls `batchSent` and another partition is chosen.
 */

const SEED = 0x9747b28c | 0;
const M = 0x5bd1e995;

/**
 * Kafka's `Utils.murmur2` (MurmurHash2, 32-bit, seed 0x9747b28c) over `data[start..end)`, as a signed int32.
 * Math.imul gives Java's wrapping int multiplication; `>>>` matches Java's unsigned shift.
 */
export function murmur2(data: Uint8Array, start = 0, end = data.length): number {
  const length = end - start;
  let h = SEED ^ length;
  const tail = start + (length & ~3);
  let i = start;
  for (; i < tail; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's switch on length % 4 with fallthrough: 3 mixes bytes 2,1,0; 2 mixes 1,0; 1 mixes 0.
  const rem = length & 3;
  if (rem !== 0) {
    if (rem === 3) h ^= data[tail + 2]! << 16;
    if (rem >= 2) h ^= data[tail + 1]! << 8;
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

// Reused for string keys so hashing one does not allocate a Buffer per record.
let scratch = Buffer.allocUnsafe(256);

/** murmur2 of a key as the Java client hashes it: a string key is hashed as its UTF-8 bytes. */
export function murmur2Key(key: Buffer | Uint8Array | string): number {
  if (typeof key !== 'string') return murmur2(key);
  if (key.length * 3 > scratch.length) {
    const need = Buffer.byteLength(key, 'utf8');
    if (need > scratch.length) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  }
  const n = scratch.write(key, 0, 'utf8');
  return murmur2(scratch, 0, n);
}

/** Partition of a key for a topic with `numPartitions` partitions, as Kafka's BuiltInPartitioner computes it. */
export function partitionForKey(key: Buffer | Uint8Array | string, numPartitions: number): number {
  return toPositive(murmur2Key(key)) % numPartitions;
}

/** Picks the partition of each record; see the module comment. */
export interface Partitioner {
  /**
   * `explicit` is the record's own partition (undefined/null if none). `key` null/undefined means keyless.
   * Returns a partition in [0, numPartitions).
   */
  partition(topic: string, numPartitions: number, key: Buffer | string | null | undefined, explicit?: number | null): number;
  /** The producer sent (sealed) the batch of `partition`; a sticky partitioner moves on if it was its pick. */
  batchSent(topic: string, partition: number, numPartitions: number): void;
}

/** Random source: returns a float in [0, 1). Injectable for deterministic tests. */
export type RandomSource = () => number;

export class DefaultPartitioner implements Partitioner {
  private readonly sticky = new Map<string, number>();
  constructor(private readonly random: RandomSource = Math.random) {}

  partition(topic: string, numPartitions: number, key: Buffer | string | null | undefined, explicit?: number | null): number {
    if (explicit !== undefined && explicit !== null) return explicit;
    if (key !== undefined && key !== null) return toPositive(murmur2Key(key)) % numPartitions;
    return this.stickyPartition(topic, numPartitions);
  }

  /** The current sticky partition of a topic (choosing one if there is none yet). */
  stickyPartition(topic: string, numPartitions: number): number {
    const cur = this.sticky.get(topic);
    if (cur !== undefined && cur < numPartitions) return cur;
    const p = Math.floor(this.random() * numPartitions);
    this.sticky.set(topic, p);
    return p;
  }

  batchSent(topic: string, partition: number, numPartitions: number): void {
    const cur = this.sticky.get(topic);
    if (cur !== partition) return;
    if (numPartitions <= 1) return;
    // A different partition, uniformly among the others (KIP-480: never the one just sent).
    let next = Math.floor(this.random() * (numPartitions - 1));
    if (next >= cur) next++;
    this.sticky.set(topic, next);
  }
}
