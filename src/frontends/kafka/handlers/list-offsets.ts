/**
 * ListOffsets: -1 latest (high watermark, or last stable offset for read_committed), -2 earliest (log
 * start), -3 max timestamp (v7+), -4 earliest local (= earliest, no tiered storage), other timestamps
 * through the engine's time index. v0 answers with the old offsets array.
 */
import type {
  ListOffsetsRequest,
  ListOffsetsResponseInput,
  ListOffsetsResponsePartitionResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import type { TimestampOffset } from '../../../engine/types.js';
import { decodeBatch } from '../../../record/batch.js';
import { BATCH_HEADER_SIZE, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, batchSizeAt } from '../../../record/batch-header.js';
import { SluiceError } from '../../../errors.js';
import { errorCodeOf, type BrokerContext, type RequestContext } from '../context.js';

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;
const SCAN_BYTES = 1 << 20;

export async function handleListOffsets(ctx: BrokerContext, req: ListOffsetsRequest, rc: RequestContext): Promise<ListOffsetsResponseInput> {
  const v = rc.apiVersion;
  const committed = req.isolationLevel === 1;
  const topics = await Promise.all(
    req.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitions.map(async (p): Promise<ListOffsetsResponsePartitionResponseInput> => {
          try {
            const found = await resolve(ctx, t.name, p.partitionIndex, p.timestamp, committed);
            if (v === 0) {
              // v0: up to maxNumOffsets offsets; only the one we resolve (never more than asked for).
              const list = found.offset >= 0n && p.maxNumOffsets > 0 ? [found.offset] : [];
              return { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: list };
            }
            return {
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              timestamp: found.timestamp,
              offset: found.offset,
              leaderEpoch: found.offset >= 0n ? ctx.engine.leadership(t.name, p.partitionIndex).leaderEpoch : -1,
            };
          } catch (err) {
            return {
              partitionIndex: p.partitionIndex,
              errorCode: errorCodeOf(err),
              oldStyleOffsets: [],
              timestamp: -1n,
              offset: -1n,
              leaderEpoch: -1,
            };
          }
        }),
      ),
    })),
  );
  return { throttleTimeMs: 0, topics };
}

async function resolve(ctx: BrokerContext, topic: string, partition: number, ts: bigint, committed: boolean): Promise<TimestampOffset> {
  const engine = ctx.engine;
  if (ts === LATEST) {
    const o = engine.offsets(topic, partition);
    return { offset: committed ? o.lastStableOffset : o.highWatermark, timestamp: -1n };
  }
  if (ts === EARLIEST || ts === EARLIEST_LOCAL) return { offset: engine.offsets(topic, partition).logStartOffset, timestamp: -1n };
  if (ts === LATEST_TIERED) return { offset: -1n, timestamp: -1n }; // nothing is tiered
  if (ts === MAX_TIMESTAMP) return maxTimestamp(ctx, topic, partition, committed);
  if (ts < 0n) throw new SluiceError('INVALID_ARGUMENT', `invalid ListOffsets timestamp ${ts}`);
  return engine.listOffset(topic, partition, { timestamp: ts });
}

/**
 * The first record with the largest timestamp. Walks the batch headers of the partition (mapped memory,
 * no decompression), then decodes only the winning batch to find the record.
 */
function maxTimestamp(ctx: BrokerContext, topic: string, partition: number, committed: boolean): TimestampOffset {
  const engine = ctx.engine;
  const isolation = committed ? 'read_committed' : 'read_uncommitted';
  let offset = engine.offsets(topic, partition).logStartOffset;
  let best: { ts: bigint; batch: Buffer } | null = null;
  for (;;) {
    const res = engine.read(topic, partition, offset, { maxBytes: SCAN_BYTES, isolation });
    const buf = res.records;
    if (buf.length === 0) break;
    for (let pos = 0; pos + BATCH_HEADER_SIZE <= buf.length; ) {
      const size = batchSizeAt(buf, pos);
      if (size <= 0 || pos + size > buf.length) break;
      const maxTs = buf.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET);
      if (best === null || maxTs > best.ts) best = { ts: maxTs, batch: buf.subarray(pos, pos + size) };
      pos += size;
    }
    if (res.nextOffset <= offset) break;
    offset = res.nextOffset;
  }
  if (best === null) return { offset: -1n, timestamp: -1n };
  const decoded = decodeBatch(best.batch);
  for (const r of decoded.records) if (r.timestamp === best.ts) return { offset: r.offset, timestamp: best.ts };
  // LogAppendTime batches: every record carries the batch's time; Kafka reports the last offset.
  const last = best.batch.readBigInt64BE(0) + BigInt(best.batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET));
  return { offset: last, timestamp: best.ts };
}
