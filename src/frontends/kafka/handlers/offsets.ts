/**
 * Committed offsets: OffsetCommit (validated by the group coordinator and stored durably in
 * `__consumer_offsets`) and OffsetFetch (v8+ batches several groups; an unknown group or partition answers
 * offset -1, as Kafka does). Both are the coordinator's; these handlers translate wire versions.
 */
import type {
  OffsetCommitRequest,
  OffsetCommitResponseInput,
  OffsetCommitResponsePartitionInput,
  OffsetFetchRequest,
  OffsetFetchResponseInput,
  OffsetFetchResponsePartitionInput,
} from '../../../kafka-protocol/generated/index.js';
import type { OffsetCommitEntry } from '../../../engine/types.js';
import type { TopicPartition } from '../../../coordinator/types.js';
import { ErrorCode, type BrokerContext, type RequestContext } from '../context.js';

export async function handleOffsetCommit(ctx: BrokerContext, req: OffsetCommitRequest, rc: RequestContext): Promise<OffsetCommitResponseInput> {
  const v = rc.apiVersion;
  const generationId = v >= 1 ? req.generationIdOrMemberEpoch : -1;
  const memberId = v >= 1 ? req.memberId : '';
  const offsets: OffsetCommitEntry[] = req.topics.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.name,
      partition: p.partitionIndex,
      offset: p.committedOffset,
      metadata: p.committedMetadata,
      leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
    })),
  );
  const results = await ctx.groups.commitOffsets({
    groupId: req.groupId,
    generationId,
    memberId,
    groupInstanceId: v >= 7 ? req.groupInstanceId : null,
    offsets,
    partitionExists: (topic, partition) => ctx.engine.hasTopic(topic) && partition >= 0 && partition < ctx.engine.partitionCount(topic),
  });
  // A partition named twice answers as its last entry did.
  const codes = new Map<string, number>();
  const key = (topic: string, partition: number): string => `${partition}:${topic}`;
  offsets.forEach((o, i) => codes.set(key(o.topic, o.partition), results[i]!));
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map(
        (p): OffsetCommitResponsePartitionInput => ({ partitionIndex: p.partitionIndex, errorCode: codes.get(key(t.name, p.partitionIndex)) ?? 0 }),
      ),
    })),
  };
}

interface FetchedTopic {
  name: string;
  partitions: OffsetFetchResponsePartitionInput[];
}

function fetchGroup(
  ctx: BrokerContext,
  groupId: string,
  topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
): { errorCode: number; topics: FetchedTopic[] } {
  const wanted: TopicPartition[] | undefined =
    topics === null ? undefined : topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
  const { errorCode, offsets: found } = ctx.groups.fetchOffsets(groupId, wanted);
  if (errorCode !== ErrorCode.NONE) {
    const out: FetchedTopic[] = (topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1n, committedLeaderEpoch: -1, metadata: null, errorCode })),
    }));
    return { errorCode, topics: out };
  }
  const byTopic = new Map<string, FetchedTopic>();
  const out: FetchedTopic[] = [];
  for (const o of found) {
    let t = byTopic.get(o.topic);
    if (t === undefined) {
      t = { name: o.topic, partitions: [] };
      byTopic.set(o.topic, t);
      out.push(t);
    }
    t.partitions.push({
      partitionIndex: o.partition,
      committedOffset: o.offset,
      committedLeaderEpoch: o.leaderEpoch,
      metadata: o.offset < 0n ? '' : (o.metadata ?? ''),
      errorCode: 0,
    });
  }
  return { errorCode: 0, topics: out };
}

export async function handleOffsetFetch(ctx: BrokerContext, req: OffsetFetchRequest, rc: RequestContext): Promise<OffsetFetchResponseInput> {
  const v = rc.apiVersion;
  if (v >= 8) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((g) => {
        const r = fetchGroup(ctx, g.groupId, g.topics);
        return { groupId: g.groupId, topics: r.topics, errorCode: r.errorCode };
      }),
    };
  }
  // v0-1 cannot ask for all topics (null arrives only from v2).
  const r = fetchGroup(ctx, req.groupId, req.topics);
  return { throttleTimeMs: 0, topics: r.topics, errorCode: r.errorCode };
}
