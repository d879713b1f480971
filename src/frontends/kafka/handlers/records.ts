/** DeleteRecords (move the log start offset) and OffsetForLeaderEpoch (one node: every batch is in the partition's one epoch). */
import type {
  DeleteRecordsRequest,
  DeleteRecordsResponseInput,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import { ErrorCode, errorCodeOf, type BrokerContext, type RequestContext } from '../context.js';

export async function handleDeleteRecords(ctx: BrokerContext, req: DeleteRecordsRequest, _rc: RequestContext): Promise<DeleteRecordsResponseInput> {
  const topics = await Promise.all(
    req.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitions.map(async (p) => {
          try {
            const o = ctx.engine.offsets(t.name, p.partitionIndex);
            // -1 means "up to the high watermark".
            const target = p.offset === -1n ? o.highWatermark : p.offset;
            if (target < 0n || target > o.highWatermark) {
              return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
            }
            const low = await ctx.engine.deleteRecords(t.name, p.partitionIndex, target);
            return { partitionIndex: p.partitionIndex, lowWatermark: low, errorCode: 0 };
          } catch (err) {
            return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: errorCodeOf(err) };
          }
        }),
      ),
    })),
  );
  return { throttleTimeMs: 0, topics };
}

export async function handleOffsetForLeaderEpoch(
  ctx: BrokerContext,
  req: OffsetForLeaderEpochRequest,
  rc: RequestContext,
): Promise<OffsetForLeaderEpochResponseInput> {
  const v = rc.apiVersion;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        const fail = (errorCode: number) => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n });
        try {
          const o = ctx.engine.offsets(t.topic, p.partition);
          // The partition has had one leader epoch, its current one.
          const epoch = ctx.engine.leadership(t.topic, p.partition).leaderEpoch;
          // currentLeaderEpoch (v2+) -1 means "not checked".
          if (v >= 2 && p.currentLeaderEpoch > epoch) return fail(ErrorCode.UNKNOWN_LEADER_EPOCH);
          // An epoch newer than ours has no end offset (UNDEFINED_EPOCH_OFFSET).
          if (p.leaderEpoch > epoch) return { errorCode: 0, partition: p.partition, leaderEpoch: -1, endOffset: -1n };
          return { errorCode: 0, partition: p.partition, leaderEpoch: epoch, endOffset: o.logEndOffset };
        } catch (err) {
          return fail(errorCodeOf(err));
        }
      }),
    })),
  };
}
