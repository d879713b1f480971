/**
 * The library producer over the Kafka wire: a `ProduceTarget` on a `KafkaClient`, so
 * `new Producer(new KafkaProduceTarget(client))` batches, retries and numbers its sequences (idempotence) as the
 * embedded producer does. This is the Kafka edge of that producer: Kafka error codes in answers become the
 * SluiceError codes its retry and sequence rules read, here and nowhere else.
 */
import type { ProduceTarget } from '../client/producer.js';
import type { AppendOptions, AppendResult, ProducerIdAndEpoch } from '../engine/types.js';
import { SluiceError, type SluiceErrorCode } from '../errors.js';
import { KafkaErrors, type KafkaErrorName } from '../kafka-protocol/error-codes.js';
import { LAST_OFFSET_DELTA_OFFSET, batchSizeAt } from '../record/batch-header.js';
import type { KafkaClient } from './client.js';
import { KafkaProtocolError, checkKafkaError } from './errors.js';

/** The Sluice code of each Kafka error a produce path can answer; others stay KafkaProtocolErrors. */
const SLUICE_CODE_BY_NAME: Readonly<Partial<Record<KafkaErrorName, SluiceErrorCode>>> = {
  CORRUPT_MESSAGE: 'CORRUPT_RECORD',
  INVALID_RECORD: 'INVALID_RECORD',
  INVALID_TIMESTAMP: 'INVALID_TIMESTAMP',
  INVALID_TXN_STATE: 'INVALID_TXN_STATE',
  NOT_ENOUGH_REPLICAS: 'NOT_ENOUGH_REPLICAS',
  UNSUPPORTED_COMPRESSION_TYPE: 'UNSUPPORTED_COMPRESSION',
  MESSAGE_TOO_LARGE: 'RECORD_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'RECORD_TOO_LARGE',
  UNKNOWN_TOPIC_OR_PARTITION: 'UNKNOWN_TOPIC_OR_PARTITION',
  INVALID_TOPIC_EXCEPTION: 'INVALID_TOPIC',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'OUT_OF_ORDER_SEQUENCE',
  INVALID_PRODUCER_EPOCH: 'INVALID_PRODUCER_EPOCH',
  PRODUCER_FENCED: 'INVALID_PRODUCER_EPOCH',
  UNKNOWN_PRODUCER_ID: 'UNKNOWN_PRODUCER_ID',
  // A broker that closes (or lost the partition) answers NOT_LEADER_OR_FOLLOWER; the client already retried it.
  NOT_LEADER_OR_FOLLOWER: 'CLOSED',
  KAFKA_STORAGE_ERROR: 'STORAGE',
  INVALID_REQUEST: 'INVALID_ARGUMENT',
  INVALID_REQUIRED_ACKS: 'INVALID_ARGUMENT',
  REQUEST_TIMED_OUT: 'TIMEOUT',
};

const SLUICE_CODE = new Map<number, SluiceErrorCode>(
  (Object.entries(SLUICE_CODE_BY_NAME) as [KafkaErrorName, SluiceErrorCode][]).map(([name, code]) => [KafkaErrors[name], code]),
);

/**
 * A wire failure as the producer reads it: a Kafka error code with a Sluice equivalent becomes that SluiceError
 * (same message, the KafkaProtocolError as its cause). Connection failures already are SluiceErrors (TIMEOUT,
 * CLOSED); an unmapped code stays a KafkaProtocolError, which the producer treats as "may have been written".
 */
export function producerErrorOf(e: unknown): unknown {
  if (!(e instanceof KafkaProtocolError)) return e;
  const code = SLUICE_CODE.get(e.errorCode);
  return code === undefined ? e : new SluiceError(code, e.message, { cause: e });
}

export interface KafkaProduceTargetOptions {
  /** Ask the broker to auto-create a topic the producer writes to (as `KafkaClient.produce`'s autoCreate). */
  autoCreate?: boolean;
}

export class KafkaProduceTarget implements ProduceTarget {
  private readonly autoCreate: boolean;
  /** Partition counts from the last metadata of each topic (`partitionCount` must answer synchronously). */
  private readonly partitions = new Map<string, number>();

  constructor(
    private readonly client: KafkaClient,
    opts: KafkaProduceTargetOptions = {},
  ) {
    this.autoCreate = opts.autoCreate ?? false;
  }

  partitionCount(topic: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}': no metadata yet`);
    return n;
  }

  async describeTopic(name: string): Promise<{ configs: Record<string, string> }> {
    try {
      // The client's cached view serves the first call; later calls are the producer's periodic refresh.
      const t = await this.client.topic(name, { refresh: this.partitions.has(name), autoCreate: this.autoCreate });
      this.partitions.set(name, t.partitions.length);
      const [res] = await this.client.describeConfigs([{ type: 'topic', name, keys: ['max.message.bytes'] }]);
      const configs: Record<string, string> = {};
      for (const c of res?.entries ?? []) if (c.value !== null) configs[c.name] = c.value;
      return { configs };
    } catch (e) {
      throw producerErrorOf(e);
    }
  }

  async initProducerId(): Promise<ProducerIdAndEpoch> {
    try {
      const r = await this.client.send('InitProducerId', { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
      checkKafkaError(r.errorCode, 'InitProducerId');
      return { producerId: r.producerId, producerEpoch: r.producerEpoch };
    } catch (e) {
      throw producerErrorOf(e);
    }
  }

  async append(topic: string, partition: number, batches: Buffer, opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      const r = await this.client.produce(topic, partition, batches, {
        acks: opts.acks === 'all' ? -1 : opts.acks ?? -1,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        autoCreate: this.autoCreate,
      });
      return { ...r, lastOffset: r.baseOffset < 0n ? -1n : r.baseOffset + BigInt(recordSpan(batches) - 1) };
    } catch (e) {
      throw producerErrorOf(e);
    }
  }
}

/** Offsets the batches take: the sum of their lastOffsetDelta + 1. */
function recordSpan(batches: Buffer): number {
  let n = 0;
  for (let pos = 0; ; ) {
    const size = batchSizeAt(batches, pos);
    if (size <= 0 || pos + size > batches.length) return n;
    n += batches.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET) + 1;
    pos += size;
  }
}
