/**
 * Fetch (v4+). Each partition's records are the engine's read result — slices of memory-mapped segment
 * files — handed to the response writer by reference, so they reach the socket without a copy (the
 * dispatcher checks this and counts any copy in `metrics.fetchBytesCopied`).
 *
 * Long polls wait on the partitions' high watermarks with `engine.waitForAny` (one cancellable wait over
 * shared memory, no polling) until min_bytes are available or max_wait_ms passes. max_bytes and partition
 * max_bytes are honoured by `walkReadBudget` (src/engine/read-budget.ts, as the embedded consumer does), with at
 * least one batch for the first partition that has data (KIP-74). Fetch sessions are not kept: every answer is
 * sessionless (session id 0), which clients accept and answer with full fetches.
 */
import type {
  FetchRequest,
  FetchResponseInput,
  FetchResponsePartitionDataInput,
  FetchResponseableTopicResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WaitForDataTarget } from '../../../engine/types.js';
import { walkReadBudget } from '../../../engine/read-budget.js';
import { batchSizeAt } from '../../../record/batch-header.js';
import { isSluiceError } from '../../../errors.js';
import { ErrorCode, countRecords, errorCodeOf, type BrokerContext, type RequestContext } from '../context.js';
import { ZERO_UUID } from '../../../kafka-protocol/reader.js';

const EMPTY = Buffer.alloc(0);
const INT32_MAX = 0x7fffffff;

interface Target {
  topic: string | null;
  topicId: string;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  /** Set when the partition cannot be read at all (unknown topic id, ...). */
  fixedError: number;
}

export async function handleFetch(ctx: BrokerContext, req: FetchRequest, rc: RequestContext): Promise<FetchResponseInput> {
  const v = rc.apiVersion;
  if (v >= 7 && req.sessionId !== 0) {
    // An incremental fetch of a session we never created (we answer every fetch sessionless).
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const targets: Target[] = [];
  for (const t of req.topics) {
    let name: string | null = v >= 13 ? null : t.topic;
    let fixedError: number = ErrorCode.NONE;
    if (v >= 13) {
      name = t.topicId !== ZERO_UUID ? ((await ctx.topicIds.nameOf(t.topicId)) ?? null) : null;
      if (name === null) fixedError = ErrorCode.UNKNOWN_TOPIC_ID;
    }
    for (const p of t.partitions) {
      targets.push({
        topic: name,
        topicId: t.topicId,
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        partitionMaxBytes: p.partitionMaxBytes,
        fixedError,
      });
    }
  }
  const isolation = req.isolationLevel === 1 ? 'read_committed' : 'read_uncommitted';
  const maxBytes = req.maxBytes > 0 ? req.maxBytes : INT32_MAX;
  const minBytes = Math.max(0, req.minBytes);
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  for (;;) {
    const round = readAll(ctx, targets, isolation, maxBytes);
    const left = deadline - Date.now();
    if (round.bytes >= minBytes || round.errors > 0 || left <= 0 || rc.connection.isClosed || targets.length === 0) {
      if (ctx.observers.length > 0) reportFetched(ctx, targets, round.partitions);
      return buildResponse(targets, round.partitions);
    }
    await waitForAny(ctx, targets, round.partitions, left, rc.connection.closedSignal);
  }
}

/** Bytes and records per partition of the answer, for the metrics exporter (only the round that is sent). */
function reportFetched(ctx: BrokerContext, targets: Target[], partitions: FetchResponsePartitionDataInput[]): void {
  for (let i = 0; i < targets.length; i++) {
    const topic = targets[i]!.topic;
    const r = partitions[i]!.records;
    if (topic === null || r === null || !Buffer.isBuffer(r) || r.length === 0) continue;
    const n = countRecords(r);
    for (const o of ctx.observers) o.fetched?.(topic, r.length, n);
  }
}

interface Round {
  partitions: FetchResponsePartitionDataInput[];
  bytes: number;
  errors: number;
}

function readAll(ctx: BrokerContext, targets: Target[], isolation: 'read_committed' | 'read_uncommitted', maxBytes: number): Round {
  const partitions: FetchResponsePartitionDataInput[] = [];
  let errors = 0;
  const bytes = walkReadBudget(
    targets.length,
    maxBytes,
    (i) => targets[i]!.partitionMaxBytes,
    (i, limit, first) => {
      const out = readOne(ctx, targets[i]!, isolation, limit, first);
      if (out.errorCode !== ErrorCode.NONE) errors++;
      partitions.push(out);
      const r = out.records;
      return r !== null && Buffer.isBuffer(r) ? r.length : 0;
    },
  );
  return { partitions, bytes, errors };
}

/** `limit` and `first` as `walkReadBudget` gives them: limit 0 reads nothing, but offsets and errors are answered. */
function readOne(
  ctx: BrokerContext,
  t: Target,
  isolation: 'read_committed' | 'read_uncommitted',
  limit: number,
  first: boolean,
): FetchResponsePartitionDataInput {
  const fail = (errorCode: number): FetchResponsePartitionDataInput => ({
    partitionIndex: t.partition,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY,
  });
  if (t.fixedError !== ErrorCode.NONE || t.topic === null) return fail(t.fixedError || ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  try {
    const o = ctx.engine.offsets(t.topic, t.partition);
    const base = {
      partitionIndex: t.partition,
      highWatermark: o.highWatermark,
      lastStableOffset: o.lastStableOffset,
      logStartOffset: o.logStartOffset,
      abortedTransactions: isolation === 'read_committed' ? [] : null,
      preferredReadReplica: -1,
    };
    if (t.fetchOffset < o.logStartOffset || t.fetchOffset > o.logEndOffset) {
      return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: EMPTY };
    }
    if (limit === 0) return { ...base, errorCode: 0, records: EMPTY };
    const res = ctx.engine.read(t.topic, t.partition, t.fetchOffset, { maxBytes: limit, isolation });
    let records = res.records;
    // The engine returns at least one whole batch; only the first partition with data may exceed the limits.
    if (!first && records.length > limit) records = wholeBatchesWithin(records, limit);
    return {
      ...base,
      highWatermark: res.highWatermark,
      lastStableOffset: res.lastStableOffset,
      logStartOffset: res.logStartOffset,
      errorCode: 0,
      records,
    };
  } catch (err) {
    if (!isSluiceError(err)) ctx.logger.warn({ err, topic: t.topic, partition: t.partition }, 'fetch read failed');
    return fail(errorCodeOf(err));
  }
}

/** The longest prefix of whole batches that fits in `limit` bytes: a view, not a copy. */
function wholeBatchesWithin(records: Buffer, limit: number): Buffer {
  let end = 0;
  for (;;) {
    const size = batchSizeAt(records, end);
    if (size <= 0 || end + size > limit || end + size > records.length) break;
    end += size;
  }
  return end === records.length ? records : records.subarray(0, end);
}

/** Waits until any partition's high watermark moves past what this round saw, or `timeoutMs` passes. */
async function waitForAny(
  ctx: BrokerContext,
  targets: Target[],
  seen: FetchResponsePartitionDataInput[],
  timeoutMs: number,
  connectionClosed: AbortSignal,
): Promise<void> {
  const waits: WaitForDataTarget[] = [];
  targets.forEach((t, i) => {
    if (t.topic === null) return;
    const hw = seen[i]!.highWatermark;
    waits.push({ topic: t.topic, partition: t.partition, offset: hw > t.fetchOffset ? hw : t.fetchOffset });
  });
  if (waits.length === 0) {
    await sleep(timeoutMs, undefined, { signal: connectionClosed }).catch(() => undefined); // aborted: client gone
    return;
  }
  // A partition deleted since the round was read: read again (and answer its error).
  await ctx.engine.waitForAny(waits, timeoutMs, { signal: connectionClosed }).catch(() => true);
}

function buildResponse(targets: Target[], partitions: FetchResponsePartitionDataInput[]): FetchResponseInput {
  const responses: FetchResponseableTopicResponseInput[] = [];
  let current: { key: string; list: FetchResponsePartitionDataInput[] } | null = null;
  targets.forEach((t, i) => {
    const key = `${t.topic ?? ''}\u0000${t.topicId}`;
    if (current === null || current.key !== key) {
      current = { key, list: [] };
      responses.push({ topic: t.topic ?? '', topicId: t.topicId, partitions: current.list });
    }
    current.list.push(partitions[i]!);
  });
  return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
}
