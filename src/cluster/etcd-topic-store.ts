/**
 * Topic records in etcd: `<prefix>/topics/<name>` holds the record's JSON (the same JSON as the local kind's
 * files), so every broker of the cluster reads the same topics. A failure is a SluiceError from the connection
 * (METADATA_UNAVAILABLE when etcd does not answer in time).
 */
import { parseTopicRecord, topicRecordJson } from '../engine/topic-store.js';
import type { PartitionLeadership, TopicMetadataStore, TopicRecord } from '../engine/metadata.js';
import type { EtcdConnection } from './etcd.js';

export interface EtcdTopicStoreOptions {
  /** This node's id (broker.id, the engine's `nodeId`). Default 0. */
  nodeId?: number;
}

export class EtcdTopicStore implements TopicMetadataStore {
  private readonly dir: string;
  private readonly local: PartitionLeadership;

  constructor(
    private readonly etcd: EtcdConnection,
    options: EtcdTopicStoreOptions = {},
  ) {
    this.dir = etcd.key('topics') + '/';
    this.local = Object.freeze({ leader: options.nodeId ?? 0, leaderEpoch: 0 });
  }

  /** The key of a topic's record. */
  keyOf(name: string): string {
    return this.dir + name;
  }

  async init(): Promise<void> {
    // nothing to prepare: the records' range exists as soon as a key is written
  }

  async loadAll(): Promise<TopicRecord[]> {
    const kvs = await this.etcd.call('load topics', (c) => c.getAll().prefix(this.dir).strings());
    return Object.keys(kvs)
      .sort()
      .map((k) => parseTopicRecord(kvs[k] as string, `etcd key ${k}`));
  }

  async save(record: TopicRecord): Promise<void> {
    await this.etcd.call(`save topic ${record.name}`, (c) => c.put(this.keyOf(record.name)).value(topicRecordJson(record)).exec());
  }

  async remove(name: string): Promise<void> {
    await this.etcd.call(`remove topic ${name}`, (c) => c.delete().key(this.keyOf(name)).exec());
  }

  leadership(): PartitionLeadership {
    // This node leads in epoch 0, as the local kind, until the controller slice writes partition state to etcd.
    return this.local;
  }
}
