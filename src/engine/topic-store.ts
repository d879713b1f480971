/**
 * The local kind of topic metadata: `<dataDir>/meta/topics/<name>.json`, one file per topic, each replaced
 * atomically (write tmp + fsync + rename + fsync dir) so a crash leaves either the old or the new record.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../errors.js';
import { fsyncDirAsync, writeFileAtomicAsync } from '../storage/files.js';
import type { PartitionLeadership, TopicMetadataStore, TopicRecord } from './metadata.js';

const MAX_TOPIC_NAME = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Validates a topic name as Kafka does; throws SluiceError INVALID_TOPIC. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new SluiceError('INVALID_TOPIC', 'topic name must be a non-empty string');
  if (name === '.' || name === '..') throw new SluiceError('INVALID_TOPIC', `topic name cannot be "${name}"`);
  if (name.length > MAX_TOPIC_NAME) {
    throw new SluiceError('INVALID_TOPIC', `topic name is ${name.length} characters long; the limit is ${MAX_TOPIC_NAME}`);
  }
  if (!LEGAL.test(name)) {
    throw new SluiceError('INVALID_TOPIC', `topic name "${name}" contains characters other than ASCII letters, digits, '.', '_' and '-'`);
  }
}

/** A topic record as stored (the local files and the etcd kind use the same JSON). */
export function topicRecordJson(r: TopicRecord): string {
  return JSON.stringify({ name: r.name, topicId: r.topicId, partitions: r.partitions, configs: r.configs, internal: r.internal }, null, 1);
}

/** Parses a stored topic record; `where` names it in the STORAGE error a bad one gets. */
export function parseTopicRecord(text: string, where: string): TopicRecord {
  let r: TopicRecord;
  try {
    r = JSON.parse(text) as TopicRecord;
  } catch (e) {
    throw new SluiceError('STORAGE', `topic metadata ${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || typeof r.topicId !== 'string' || !Number.isInteger(r.partitions) || r.partitions < 1) {
    throw new SluiceError('STORAGE', `topic metadata ${where} is malformed`);
  }
  r.configs ??= {};
  r.internal = r.internal === true;
  return r;
}

export class LocalTopicStore implements TopicMetadataStore {
  readonly metaDir: string;
  private readonly topicsDir: string;
  /** A single node leads every partition, in epoch 0. */
  private readonly local: PartitionLeadership;

  /** `nodeId`: this node's id (broker.id), the leader of every partition. */
  constructor(dataDir: string, nodeId = 0) {
    this.metaDir = join(dataDir, 'meta');
    this.topicsDir = join(this.metaDir, 'topics');
    this.local = Object.freeze({ leader: nodeId, leaderEpoch: 0 });
  }

  async init(): Promise<void> {
    await mkdir(this.topicsDir, { recursive: true });
  }

  async loadAll(): Promise<TopicRecord[]> {
    const out: TopicRecord[] = [];
    for (const f of (await readdir(this.topicsDir)).sort()) {
      if (f.endsWith('.tmp')) {
        await rm(join(this.topicsDir, f), { force: true }); // an interrupted write
        continue;
      }
      if (!f.endsWith('.json')) continue;
      out.push(parseTopicRecord(await readFile(join(this.topicsDir, f), 'utf8'), f));
    }
    return out;
  }

  async save(r: TopicRecord): Promise<void> {
    await writeFileAtomicAsync(join(this.topicsDir, `${r.name}.json`), topicRecordJson(r));
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.topicsDir, `${name}.json`), { force: true });
    await fsyncDirAsync(this.topicsDir);
  }

  leadership(): PartitionLeadership {
    return this.local;
  }
}
