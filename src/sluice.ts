/**
 * `Sluice`: the embeddable log as an app uses it — the engine core plus the embedded producer and consumer and
 * committed offsets (kept in the internal topic `__consumer_offsets`, so they survive restarts).
 */
import { SluiceEngine } from './engine/engine.js';
import type { CommittedOffset, OffsetCommitEntry, SluiceOptions } from './engine/types.js';
import { Producer, type ProducerOptions } from './client/producer.js';
import { Consumer, type ConsumerOptions } from './client/consumer.js';
import type { OffsetsStore } from './coordinator/offsets-store.js';
import { openOffsetsStore } from './node/groups.js';
import type { TopicPartition } from './coordinator/types.js';

export class Sluice extends SluiceEngine {
  private offsetsStorePromise: Promise<OffsetsStore> | null = null;
  /** Clients made here are closed (producers flushed) before the engine closes. */
  private readonly clients = new Set<Producer | Consumer>();
  private readonly offsetsTopicPartitions: number | undefined;

  constructor(options: SluiceOptions) {
    super(options);
    this.offsetsTopicPartitions = options.offsetsTopicPartitions;
  }

  /** The committed-offsets store, opened on first use (which creates `__consumer_offsets`, as Kafka does). */
  offsetsStore(): Promise<OffsetsStore> {
    this.offsetsStorePromise ??= openOffsetsStore(this, this.offsetsTopicPartitions);
    return this.offsetsStorePromise;
  }

  /** An embedded producer: batching, linger, compression, idempotence (on by default), acks. */
  producer(options?: ProducerOptions): Producer {
    const p = new Producer(this, options);
    this.clients.add(p);
    return p;
  }

  /** An embedded consumer: assign partitions, seek by offset / earliest / latest / timestamp, poll, commit. */
  consumer(options?: ConsumerOptions): Consumer {
    const c = new Consumer(this, { commit: (g, e) => this.commitOffsets(g, e), fetch: (g, p) => this.fetchOffsets(g, p) }, options);
    this.clients.add(c);
    return c;
  }

  async commitOffsets(groupId: string, entries: readonly OffsetCommitEntry[]): Promise<void> {
    await (await this.offsetsStore()).commit(groupId, [...entries]);
  }

  /** Committed offsets of a group; offset -1n where it has none (as Kafka's OffsetFetch answers). */
  async fetchOffsets(groupId: string, partitions?: readonly TopicPartition[]): Promise<CommittedOffset[]> {
    return (await this.offsetsStore()).fetch(groupId, partitions ? [...partitions] : undefined);
  }

  /** Group ids with committed offsets. */
  async listGroups(): Promise<string[]> {
    return (await this.offsetsStore()).listGroups();
  }

  /** Deletes a group's committed offsets; false if it had none. */
  async deleteGroup(groupId: string): Promise<boolean> {
    return (await this.offsetsStore()).deleteGroup(groupId);
  }

  override async close(): Promise<void> {
    if (!this.isOpen) return super.close();
    const clients = [...this.clients];
    this.clients.clear();
    await Promise.allSettled(clients.map((c) => c.close()));
    if (this.offsetsStorePromise) await (await this.offsetsStorePromise.catch(() => null))?.close();
    await super.close();
  }
}
