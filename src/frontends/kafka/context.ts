/**
 * What every handler of the Kafka frontend sees: the engine, the group coordinator and offsets store, the
 * broker's identity, its metrics, and small helpers shared by several APIs.
 */
import { KafkaErrors } from '../../kafka-protocol/error-codes.js';
import { isSluiceError } from '../../errors.js';
import { BATCH_LENGTH_OFFSET, LOG_OVERHEAD, RECORD_COUNT_OFFSET } from '../../record/batch-header.js';
import type { Logger } from '../../engine/types.js';
import type { SluiceEngine } from '../../engine/engine.js';
import type { OffsetsStore } from '../../coordinator/offsets-store.js';
import type { GroupCoordinator } from '../../coordinator/group-coordinator.js';
import type { RequestHeader } from '../../kafka-protocol/generated/index.js';
import type { NodeObserver } from '../observer.js';
import type { Connection, ConnectionCloseCause } from './connection.js';

/** Counters of the broker, readable at any time (`server.metrics`). */
export interface KafkaServerMetrics {
  /** Bytes of record data copied in JS on the fetch path (0 when every record slice was sent by reference). */
  fetchBytesCopied: number;
  /** Bytes of record data handed to sockets by reference in Fetch responses. */
  fetchRecordBytes: number;
  /** Bytes of record data received in Produce requests (appended as views of the request frames). */
  produceRecordBytes: number;
  /** Requests decoded and handled. */
  requests: number;
  /** Connections accepted / currently open. */
  connectionsAccepted: number;
  connectionsOpen: number;
  /** Connections the broker closed because of a protocol violation (bad or oversized frame, unknown API, ...). */
  protocolErrors: number;
  /** Connections the broker closed or refused on its own, by cause (protocol_error counts as protocolErrors). */
  connectionsClosed: Record<ConnectionCloseCause, number>;
}

export function newMetrics(): KafkaServerMetrics {
  return {
    fetchBytesCopied: 0,
    fetchRecordBytes: 0,
    produceRecordBytes: 0,
    requests: 0,
    connectionsAccepted: 0,
    connectionsOpen: 0,
    protocolErrors: 0,
    connectionsClosed: {
      protocol_error: 0,
      request_timeout: 0,
      idle: 0,
      max_connections: 0,
      max_connections_per_ip: 0,
      acks0_produce_failed: 0,
      server_error: 0,
    },
  };
}

/** Counts a connection the broker closed or refused on its own. */
export function countClose(m: KafkaServerMetrics, cause: ConnectionCloseCause): void {
  m.connectionsClosed[cause]++;
  if (cause === 'protocol_error') m.protocolErrors++;
}

/** What the Kafka frontend reports into, per request (`request`), per Produce partition (`produced`) and per Fetch partition (`fetched`). */
export type BrokerObserver = NodeObserver;

export interface BrokerContext {
  readonly engine: SluiceEngine;
  readonly offsets: OffsetsStore;
  readonly groups: GroupCoordinator;
  readonly logger: Logger;
  readonly metrics: KafkaServerMetrics;
  readonly brokerId: number;
  readonly clusterId: string;
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly socketRequestMaxBytes: number;
  /** Broker-level settings reported by DescribeConfigs (broker resource), by Kafka name. */
  readonly brokerConfigs: ReadonlyMap<string, string>;
  /** name ↔ topic id, for APIs that address topics by id (Metadata v10+, Fetch v13+, DeleteTopics v6+). */
  readonly topicIds: TopicIdCache;
  /** The node's observers (or the server's own list); empty unless metrics are exported. */
  readonly observers: BrokerObserver[];
}

/** Per-request information besides the body. */
export interface RequestContext {
  readonly header: RequestHeader;
  readonly apiVersion: number;
  readonly connection: Connection;
  readonly clientHost: string;
}

const RECORDS_COUNT_END = RECORD_COUNT_OFFSET + 4;

/** Records in a run of whole RecordBatch v2 batches (the count field of each header). */
export function countRecords(batches: Buffer): number {
  let n = 0;
  for (let pos = 0; pos + RECORDS_COUNT_END <= batches.length; ) {
    n += batches.readInt32BE(pos + RECORD_COUNT_OFFSET);
    const size = batches.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size <= LOG_OVERHEAD) break;
    pos += size;
  }
  return n;
}

/** Kafka error codes the frontend answers with (the shared table of Kafka's `Errors` enum). */
export const ErrorCode = KafkaErrors;

/** The Kafka error code of anything a handler caught. */
export { kafkaErrorCodeOf as errorCodeOf } from '../../kafka-protocol/sluice-errors.js';

export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isUnknownTopic(err: unknown): boolean {
  return isSluiceError(err) && err.code === 'UNKNOWN_TOPIC_OR_PARTITION';
}

/**
 * Topic ids, looked up through `describeTopic` and remembered. Ids are stable for a topic's life; the cache
 * drops an entry when the name no longer exists or was recreated (checked on each name lookup).
 */
export class TopicIdCache {
  private readonly byName = new Map<string, string>();
  private readonly byId = new Map<string, string>();
  constructor(private readonly engine: SluiceEngine) {}

  /** The id of an existing topic (describes it on a miss). */
  async idOf(name: string): Promise<string> {
    const cached = this.byName.get(name);
    if (cached !== undefined && this.engine.hasTopic(name)) return cached;
    const d = await this.engine.describeTopic(name);
    this.remember(name, d.topicId);
    return d.topicId;
  }

  /** The name of the topic with this id, or undefined. Refreshes from the engine on a miss. */
  async nameOf(id: string): Promise<string | undefined> {
    const cached = this.byId.get(id);
    if (cached !== undefined && this.engine.hasTopic(cached) && (await this.idOf(cached)) === id) return cached;
    for (const name of this.engine.listTopics({ includeInternal: true })) {
      if (this.byName.has(name)) continue;
      try {
        await this.idOf(name);
      } catch {
        // deleted meanwhile
      }
    }
    const found = this.byId.get(id);
    if (found !== undefined && this.engine.hasTopic(found) && this.byName.get(found) === id) return found;
    return undefined;
  }

  remember(name: string, id: string): void {
    const old = this.byName.get(name);
    if (old !== undefined) this.byId.delete(old);
    this.byName.set(name, id);
    this.byId.set(id, name);
  }

  forget(name: string): void {
    const old = this.byName.get(name);
    if (old !== undefined) this.byId.delete(old);
    this.byName.delete(name);
  }
}

/** Whether a topic is internal the way Kafka flags it in Metadata. */
export function isInternalTopic(name: string, flagged: boolean): boolean {
  return flagged || name === '__consumer_offsets' || name === '__transaction_state';
}
