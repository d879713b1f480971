/**
 * A partition's records over the wire: ListOffsets, Produce and Fetch, each sent to the partition's leader
 * (one request per leader for several partitions). A leader that moved refreshes the cluster view.
 */
import { KafkaErrors } from '../kafka-protocol/error-codes.js';
import { STALE_METADATA_ERRORS, groupByTopic, type Cluster } from './cluster.js';
import { KafkaProtocolError, checkKafkaError } from './errors.js';
import type {
  WireAcks,
  FetchOptions,
  FetchPartitionRequest,
  FetchResult,
  ListOffsetsRequest,
  ListOffsetsResult,
  ProduceOptions,
  ProduceResult,
} from './types.js';

/** Offsets for timestamps (LATEST_TIMESTAMP, EARLIEST_TIMESTAMP or ms), each asked of the partition leader. */
export async function listOffsets(cluster: Cluster, requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]> {
  const out: ListOffsetsResult[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      const groups = await cluster.byLeader(requests, attempt > 0);
      const parts = await Promise.all(
        [...groups].map(async ([node, items]) => {
          const conn = await cluster.brokerConnection(node);
          const v = conn.versionOf('ListOffsets') ?? 0;
          const resp = await conn.request('ListOffsets', {
            replicaId: -1,
            isolationLevel: 0,
            topics: groupByTopic(items).map(([name, ps]) => ({
              name,
              partitions: ps.map((p) => ({ partitionIndex: p.partition, timestamp: p.timestamp, maxNumOffsets: 1, currentLeaderEpoch: -1 })),
            })),
          });
          const res: ListOffsetsResult[] = [];
          for (const t of resp.topics) {
            for (const p of t.partitions) {
              checkKafkaError(p.errorCode, `ListOffsets ${t.name}-${p.partitionIndex}`);
              const offset = v === 0 ? p.oldStyleOffsets[0] ?? -1n : p.offset;
              res.push({ topic: t.name, partition: p.partitionIndex, offset, timestamp: p.timestamp });
            }
          }
          return res;
        }),
      );
      for (const r of parts) out.push(...r);
      return out;
    } catch (e) {
      if (!(e instanceof KafkaProtocolError) || !STALE_METADATA_ERRORS.has(e.errorCode) || attempt >= 2) throw e;
      out.length = 0;
    }
  }
}

/**
 * Appends one RecordBatch (or several concatenated) to a partition via its leader. Refreshes the cluster
 * view and retries when the leader moved (those errors guarantee nothing was written).
 */
export async function produce(cluster: Cluster, topic: string, partition: number, records: Buffer, opts: ProduceOptions & { autoCreate?: boolean } = {}): Promise<ProduceResult> {
  const acks: WireAcks = opts.acks ?? -1;
  const body = {
    transactionalId: null,
    acks,
    timeoutMs: opts.timeoutMs ?? 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
  for (let attempt = 0; ; attempt++) {
    const conn = await cluster.brokerConnection(await cluster.leaderOf(topic, partition, { refresh: attempt > 0, autoCreate: opts.autoCreate ?? false }));
    if (acks === 0) {
      await conn.requestNoResponse('Produce', body);
      return { baseOffset: -1n, logAppendTime: -1n, logStartOffset: -1n };
    }
    const resp = await conn.request('Produce', body);
    const p = resp.responses[0]?.partitionResponses[0];
    if (!p) throw new KafkaProtocolError(KafkaErrors.UNKNOWN_SERVER_ERROR, `Produce ${topic}-${partition}: empty response`);
    if (p.errorCode !== 0) {
      if (STALE_METADATA_ERRORS.has(p.errorCode) && attempt < 3) continue;
      const detail = p.errorMessage ?? p.recordErrors.map((r) => r.batchIndexErrorMessage).filter(Boolean).join('; ');
      throw new KafkaProtocolError(p.errorCode, `Produce ${topic}-${partition}`, detail || null);
    }
    return { baseOffset: p.baseOffset, logAppendTime: p.logAppendTimeMs, logStartOffset: p.logStartOffset };
  }
}

/**
 * Fetches from several partitions, one request per leader, in parallel. Partition errors are returned
 * (e.g. OFFSET_OUT_OF_RANGE, for the caller to reset), not thrown.
 */
export async function fetchRecords(cluster: Cluster, requests: readonly FetchPartitionRequest[], opts: FetchOptions = {}): Promise<FetchResult[]> {
  const maxWaitMs = opts.maxWaitMs ?? 500;
  const groups = await cluster.byLeader(requests);
  const parts = await Promise.all(
    [...groups].map(async ([node, items]) => {
      const conn = await cluster.brokerConnection(node);
      const resp = await conn.request(
        'Fetch',
        {
          replicaId: -1,
          maxWaitMs,
          minBytes: opts.minBytes ?? 1,
          maxBytes: opts.maxBytes ?? 50 * 1024 * 1024,
          isolationLevel: opts.isolationLevel ?? 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: groupByTopic(items).map(([topic, ps]) => ({
            topic,
            partitions: ps.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: p.maxBytes ?? 1024 * 1024, currentLeaderEpoch: -1, logStartOffset: -1n })),
          })),
        },
        { timeoutMs: 30_000 + maxWaitMs },
      );
      checkKafkaError(resp.errorCode, `Fetch from ${conn.address}`);
      const asked = new Map(items.map((i) => [`${i.topic}\0${i.partition}`, i.offset]));
      const res: FetchResult[] = [];
      for (const t of resp.responses) {
        for (const p of t.partitions) {
          const fetchOffset = asked.get(`${t.topic}\0${p.partitionIndex}`) ?? -1n;
          if (p.errorCode !== 0) {
            if (STALE_METADATA_ERRORS.has(p.errorCode)) cluster.forgetTopic(t.topic);
            res.push({
              topic: t.topic,
              partition: p.partitionIndex,
              fetchOffset,
              error: new KafkaProtocolError(p.errorCode, `Fetch ${t.topic}-${p.partitionIndex} at offset ${fetchOffset}`),
              highWatermark: -1n,
              lastStableOffset: -1n,
              logStartOffset: -1n,
              records: null,
            });
            continue;
          }
          res.push({
            topic: t.topic,
            partition: p.partitionIndex,
            fetchOffset,
            error: null,
            highWatermark: p.highWatermark,
            lastStableOffset: p.lastStableOffset,
            logStartOffset: p.logStartOffset,
            records: p.records && p.records.length > 0 ? p.records : null,
          });
        }
      }
      return res;
    }),
  );
  return parts.flat();
}
