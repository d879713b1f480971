/**
 * The engine's metadata behind interfaces: topic records and producer ids. The local kinds
 * (`LocalTopicStore`, `LocalProducerIdManager`) keep them in files under `<dataDir>/meta/` and are the
 * default; a cluster passes kinds backed by a coordination service through `SluiceOptions`.
 */
import type { ProducerIdAndEpoch } from './types.js';

/** What is persisted for each topic. */
export interface TopicRecord {
  name: string;
  topicId: string;
  partitions: number;
  /** Overrides by Kafka config name. */
  configs: Record<string, string>;
  internal: boolean;
}

/** Who leads a partition and in which leader epoch (the epoch its appended batches are stamped with). */
export interface PartitionLeadership {
  /** Node id of the leader. */
  leader: number;
  leaderEpoch: number;
}

/** Topic records: created, changed and removed by the engine, which serializes its calls. */
export interface TopicMetadataStore {
  /** Prepares the store; called once, before anything else. */
  init(): Promise<void>;
  loadAll(): Promise<TopicRecord[]>;
  /** Creates or replaces a topic's record, durably. */
  save(record: TopicRecord): Promise<void>;
  remove(name: string): Promise<void>;
  /** A partition's leader and leader epoch, as this store knows them now. */
  leadership(topic: string, partition: number): PartitionLeadership;
}

/** Producer ids for idempotent and transactional producers; never handed out twice, even across a crash. */
export interface ProducerIdManager {
  /** Loads the persisted state; called once, before `initProducerId`. */
  load(): Promise<void>;
  /** A fresh producer id with epoch 0, or for a transactional id its stable id with the epoch bumped. */
  initProducerId(transactionalId?: string | null): Promise<ProducerIdAndEpoch>;
}
