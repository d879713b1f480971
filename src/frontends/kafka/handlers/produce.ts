/**
 * Produce (v3+, RecordBatch v2 only). The records field of each partition is a view of the request frame;
 * it goes to `engine.append` as is (the engine validates sizes, CRC and every record as Kafka's LogValidator,
 * and handles producer id / epoch / sequence checks; refused records go back as `record_errors`, v8+).
 * acks=0 gets no response at all, as in Kafka; an error then closes the connection so the client notices and
 * refreshes its metadata.
 */
import type {
  ProduceRequest,
  ProduceResponseInput,
  ProduceResponsePartitionProduceResponseInput,
  ProduceResponseTopicProduceResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import type { AppendResult } from '../../../engine/types.js';
import { InvalidRecordError, type RecordError } from '../../../errors.js';
import { MAGIC_OFFSET } from '../../../record/batch-header.js';
import { ErrorCode, countRecords, errorCodeOf, errorMessageOf, type BrokerContext, type RequestContext } from '../context.js';
import { CloseConnection, NO_RESPONSE, type NoResponse } from './types.js';
import { autoCreateTopic } from './topics.js';

type Outcome = { ok: true; result: AppendResult } | { ok: false; code: number; message: string; recordErrors?: readonly RecordError[] };

interface Slot {
  topic: string;
  partition: number;
  records: Buffer | null;
  outcome: Promise<Outcome> | Outcome | null;
}

const DEFAULT_TIMEOUT_MS = 30000;

export function handleProduce(ctx: BrokerContext, req: ProduceRequest, rc: RequestContext): Promise<ProduceResponseInput | NoResponse> {
  const conn = rc.connection;
  const acks = req.acks;
  const slots: Slot[] = [];
  for (const t of req.topicData) {
    for (const p of t.partitionData) slots.push({ topic: t.name, partition: p.index, records: p.records, outcome: null });
  }
  if (acks !== 0 && acks !== 1 && acks !== -1) {
    for (const s of slots) s.outcome = { ok: false, code: ErrorCode.INVALID_REQUIRED_ACKS, message: `invalid acks ${acks}` };
    return finish(req, rc, slots);
  }
  const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : DEFAULT_TIMEOUT_MS;
  const missing = ctx.autoCreateTopics ? [...new Set(slots.filter((s) => !ctx.engine.hasTopic(s.topic)).map((s) => s.topic))] : [];
  const prev = conn.produceGate;
  if (prev === null && missing.length === 0) {
    // Common path: append synchronously, so pipelined requests reach the log in request order.
    submitAll(ctx, slots, acks, timeoutMs);
    return finish(req, rc, slots);
  }
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  conn.produceGate = gate;
  return (async () => {
    try {
      if (prev !== null) await prev;
      for (const topic of missing) {
        if (ctx.engine.hasTopic(topic)) continue;
        const code = await autoCreateTopic(ctx, topic);
        if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS) {
          for (const s of slots) if (s.topic === topic) s.outcome = { ok: false, code, message: `topic ${topic} could not be created` };
        }
      }
      submitAll(ctx, slots, acks, timeoutMs);
    } finally {
      release();
      if (conn.produceGate === gate) conn.produceGate = null;
    }
    return finish(req, rc, slots);
  })();
}

function submitAll(ctx: BrokerContext, slots: Slot[], acks: 0 | 1 | -1, timeoutMs: number): void {
  for (const s of slots) {
    if (s.outcome !== null) continue;
    // Kafka's ProduceRequest.validateRecords (v3+): at least one batch, of magic 2.
    if (s.records === null || s.records.length === 0) {
      s.outcome = { ok: false, code: ErrorCode.INVALID_RECORD, message: 'Produce requests with version 3 and above must have at least one record batch per partition' };
      continue;
    }
    if (s.records.length > MAGIC_OFFSET && s.records[MAGIC_OFFSET] !== 2) {
      s.outcome = { ok: false, code: ErrorCode.INVALID_RECORD, message: `Produce requests with version 3 and above are only allowed to contain record batches with magic version 2, got magic ${s.records[MAGIC_OFFSET]}` };
      continue;
    }
    ctx.metrics.produceRecordBytes += s.records.length;
    const { topic, records } = s;
    s.outcome = ctx.engine.append(s.topic, s.partition, s.records, { acks, timeoutMs }).then(
      (result): Outcome => {
        if (ctx.observers.length > 0) reportProduced(ctx, topic, records);
        return { ok: true, result };
      },
      (err: unknown): Outcome => ({
        ok: false,
        code: errorCodeOf(err),
        message: errorMessageOf(err),
        ...(err instanceof InvalidRecordError ? { recordErrors: err.recordErrors } : {}),
      }),
    );
  }
}

/** Counted once appended (a retried duplicate the log dropped still counts: it arrived again). */
function reportProduced(ctx: BrokerContext, topic: string, records: Buffer): void {
  const n = countRecords(records);
  for (const o of ctx.observers) o.produced?.(topic, records.length, n);
}

async function finish(req: ProduceRequest, rc: RequestContext, slots: Slot[]): Promise<ProduceResponseInput | NoResponse> {
  const outcomes = await Promise.all(slots.map((s) => s.outcome!));
  if (req.acks === 0) {
    const failed = outcomes.find((o) => !o.ok);
    if (failed !== undefined && !failed.ok) throw new CloseConnection(`acks=0 produce failed: ${failed.message}`);
    return NO_RESPONSE;
  }
  const byTopic = new Map<string, ProduceResponsePartitionProduceResponseInput[]>();
  const responses: ProduceResponseTopicProduceResponseInput[] = [];
  slots.forEach((s, i) => {
    let list = byTopic.get(s.topic);
    if (list === undefined) {
      list = [];
      byTopic.set(s.topic, list);
      responses.push({ name: s.topic, partitionResponses: list });
    }
    const o = outcomes[i]!;
    if (o.ok) {
      list.push({
        index: s.partition,
        errorCode: 0,
        baseOffset: o.result.baseOffset,
        logAppendTimeMs: o.result.logAppendTime,
        logStartOffset: o.result.logStartOffset,
        recordErrors: [],
        errorMessage: null,
      });
    } else {
      list.push({
        index: s.partition,
        errorCode: o.code,
        baseOffset: -1n,
        logAppendTimeMs: -1n,
        logStartOffset: -1n,
        recordErrors: o.recordErrors?.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })) ?? [],
        errorMessage: rc.apiVersion >= 8 ? o.message : null,
      });
    }
  });
  return { responses, throttleTimeMs: 0 };
}
