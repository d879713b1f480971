/**
 * `sluice perf produce|consume`: load generators in the spirit of Kafka's perf-test tools. Produce sends
 * pre-built batches round-robin over the partitions with several requests in flight; consume fetches from
 * the log start and counts records from batch headers (no decompression unless --decode).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { OptionDef } from '../command.js';
import { UsageError } from '../command.js';
import { encodeBatch } from '../../record/batch.js';
import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, RECORD_COUNT_OFFSET, BATCH_HEADER_SIZE } from '../../record/batch-header.js';
import { decodeFetchedRecords } from '../../record/fetched.js';
import type { KafkaClient } from '../../kafka-client/client.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type WireAcks } from '../../kafka-client/types.js';
import { ACKS_OPTION, COMPRESSION_OPTION, acksFlag, compressionFlag } from './produce.js';
import { BOOTSTRAP_OPTION, CLIENT_ID_OPTION, bool, defineGroup, int, onePositional, str, withClient, type Values } from './common.js';

const COMMON = [BOOTSTRAP_OPTION, CLIENT_ID_OPTION];
const NUM_RECORDS: OptionDef = { name: 'num-records', type: 'string', short: 'n', value: 'N', description: 'Stop after N records' };
const DURATION: OptionDef = { name: 'duration', type: 'string', short: 'd', value: 'SECONDS', description: 'Stop after this many seconds' };
const JSON_OPT: OptionDef = { name: 'json', type: 'boolean', description: 'Print the final result as one JSON object' };
const MB = 1024 * 1024;

/** Latency samples (ms) and their percentiles. */
export interface LatencySummary {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(samples: Float64Array | number[]): LatencySummary {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  const at = (q: number): number => (n === 0 ? 0 : s[Math.min(n - 1, Math.ceil(q * n) - 1)]!);
  let sum = 0;
  for (const v of s) sum += v;
  return { count: n, avg: n ? sum / n : 0, p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: n ? s[n - 1]! : 0 };
}

/** Growable float array for latency samples (millions of pushes without boxing). */
class Samples {
  private buf = new Float64Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

function limits(values: Values): { numRecords: number; durationMs: number } {
  const n = int(values, 'num-records', { min: 1 });
  const d = int(values, 'duration', { min: 1 });
  if (n === undefined && d === undefined) throw new UsageError('give --num-records or --duration');
  return { numRecords: n ?? Number.MAX_SAFE_INTEGER, durationMs: d !== undefined ? d * 1000 : Number.POSITIVE_INFINITY };
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

/** Prints a progress line every second to stderr; returns a stop function. */
function progress(stderr: NodeJS.WritableStream, sample: () => { records: number; bytes: number; lat: Samples }): () => void {
  let lastRecords = 0;
  let lastBytes = 0;
  let lastLat = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const { records, bytes, lat } = sample();
    const secs = (now - last) / 1000;
    const window = lat.view().subarray(lastLat);
    let sum = 0;
    let max = 0;
    for (const v of window) {
      sum += v;
      if (v > max) max = v;
    }
    const avg = window.length ? sum / window.length : 0;
    stderr.write(
      `${records - lastRecords} records, ${fmt((records - lastRecords) / secs)} records/s (${fmt((bytes - lastBytes) / MB / secs, 2)} MB/s), ` +
        `${fmt(avg, 2)} ms avg latency, ${fmt(max, 2)} ms max latency\n`,
    );
    lastRecords = records;
    lastBytes = bytes;
    lastLat = lat.length;
    last = now;
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

function report(stdout: NodeJS.WritableStream, json: boolean, kind: string, records: number, bytes: number, elapsedMs: number, lat: LatencySummary, extra: Record<string, number | string> = {}): void {
  const secs = elapsedMs / 1000;
  const rps = records / secs;
  const mbps = bytes / MB / secs;
  if (json) {
    stdout.write(JSON.stringify({ kind, records, bytes, seconds: secs, recordsPerSec: rps, mbPerSec: mbps, latencyMs: lat, ...extra }) + '\n');
    return;
  }
  stdout.write(
    `${records} records ${kind} in ${fmt(secs, 2)} s, ${fmt(rps)} records/s (${fmt(mbps, 2)} MB/s), ` +
      `${fmt(lat.avg, 2)} ms avg latency, ${fmt(lat.max, 2)} ms max latency, ` +
      `${fmt(lat.p50, 2)} ms p50, ${fmt(lat.p95, 2)} ms p95, ${fmt(lat.p99, 2)} ms p99, ${fmt(lat.p999, 2)} ms p99.9.\n`,
  );
}

/** Letters like Kafka's ProducerPerformance payloads, so compression has something to work with. */
function payload(size: number): Buffer {
  const b = randomBytes(size);
  for (let i = 0; i < size; i++) b[i] = 65 + (b[i]! % 26);
  return b;
}

async function perfProduce(client: KafkaClient, topic: string, values: Values, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { numRecords, durationMs } = limits(values);
  const recordSize = int(values, 'record-size', { min: 0 }) ?? 100;
  const throughput = int(values, 'throughput', { min: -1 }) ?? -1;
  if (throughput === 0) throw new UsageError('--throughput must be positive or -1 (no limit)');
  const acks: WireAcks = acksFlag(values, 1);
  const compression = compressionFlag(values);
  const batchBytes = int(values, 'batch-size', { min: 1 }) ?? 16384;
  const maxInFlight = int(values, 'max-in-flight', { min: 1 }) ?? 8;
  const t = await client.topic(topic, { autoCreate: true });
  const partitions = t.partitions.map((p) => p.partition);
  let perBatch = Math.max(1, Math.floor(batchBytes / (recordSize + 12)));
  // with a cap, keep batches to ~10 ms of records so the rate is smooth rather than bursty
  if (throughput > 0) perBatch = Math.min(perBatch, Math.max(1, Math.ceil(throughput / 100)));
  // a small pool of distinct pre-built batches, reused round-robin (encoding is not what is measured)
  const pool: Buffer[] = [];
  const fullBatches = Math.min(16, Math.ceil(numRecords / perBatch));
  for (let i = 0; i < fullBatches; i++) {
    pool.push(encodeBatch(Array.from({ length: perBatch }, () => ({ value: payload(recordSize) })), { compression }));
  }
  const lastCount = numRecords !== Number.MAX_SAFE_INTEGER ? numRecords % perBatch : 0;
  const tail = lastCount > 0 ? encodeBatch(Array.from({ length: lastCount }, () => ({ value: payload(recordSize) })), { compression }) : null;
  const conns = await Promise.all(partitions.map((p) => client.leaderConnection(topic, p)));

  const lat = new Samples();
  let sent = 0;
  let acked = 0;
  let ackedBytes = 0;
  let failure: unknown = null;
  const inFlight = new Set<Promise<void>>();
  const stop = progress(stderr, () => ({ records: acked, bytes: ackedBytes, lat }));
  const start = performance.now();
  let k = 0;
  try {
    while (sent < numRecords && performance.now() - start < durationMs && !failure) {
      const n = Math.min(perBatch, numRecords - sent);
      const batch = n === perBatch ? pool[k % pool.length]! : tail!;
      const pi = k % partitions.length;
      k++;
      if (throughput > 0) {
        const due = start + (sent / throughput) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() - start >= durationMs) break;
      }
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      sent += n;
      const body = { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: partitions[pi]!, records: batch }] }] };
      const t0 = performance.now();
      const conn = conns[pi]!;
      const req: Promise<void> = (acks === 0 ? conn.requestNoResponse('Produce', body) : conn.request('Produce', body).then((resp) => {
        const code = resp.responses[0]?.partitionResponses[0]?.errorCode ?? -1;
        if (code !== 0) throw new Error(`produce to ${topic}-${partitions[pi]} failed with Kafka error ${code}`);
      }))
        .then(() => {
          lat.push(performance.now() - t0);
          acked += n;
          ackedBytes += n * recordSize;
        })
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => inFlight.delete(req));
      inFlight.add(req);
    }
    await Promise.all(inFlight);
  } finally {
    stop();
  }
  if (failure) throw failure;
  const elapsed = performance.now() - start;
  report(stdout, bool(values, 'json'), 'sent', acked, ackedBytes, elapsed, summarize(lat.view()), { recordSize, batchRecords: perBatch, acks, partitions: partitions.length });
  return 0;
}

async function perfConsume(client: KafkaClient, topic: string, values: Values, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { numRecords, durationMs } = limits(values);
  const fetchSize = int(values, 'fetch-size', { min: 1024 }) ?? MB;
  const timeoutMs = int(values, 'timeout-ms', { min: 1 }) ?? 10_000;
  const decode = bool(values, 'decode');
  const t = await client.topic(topic);
  const tps = t.partitions.map((p) => ({ topic, partition: p.partition }));
  const starts = await client.listOffsets(tps.map((p) => ({ ...p, timestamp: EARLIEST_TIMESTAMP })));
  const ends = await client.listOffsets(tps.map((p) => ({ ...p, timestamp: LATEST_TIMESTAMP })));
  const pos = new Map(starts.map((s) => [s.partition, s.offset]));
  const available = ends.reduce((n, e) => n + Number(e.offset - (pos.get(e.partition) ?? 0n)), 0);
  if (numRecords !== Number.MAX_SAFE_INTEGER && available < numRecords) {
    stderr.write(`note: the topic holds ${available} records; waiting up to ${timeoutMs} ms for more\n`);
  }
  const lat = new Samples();
  let records = 0;
  let bytes = 0;
  let lastData = performance.now();
  const stop = progress(stderr, () => ({ records, bytes, lat }));
  const start = performance.now();
  try {
    while (records < numRecords && performance.now() - start < durationMs && performance.now() - lastData < timeoutMs) {
      const t0 = performance.now();
      const res = await client.fetch(
        [...pos].map(([partition, offset]) => ({ topic, partition, offset, maxBytes: fetchSize })),
        { maxWaitMs: 100, maxBytes: 64 * MB },
      );
      lat.push(performance.now() - t0);
      for (const r of res) {
        if (r.error) throw r.error;
        if (!r.records) continue;
        lastData = performance.now();
        if (decode) {
          const d = decodeFetchedRecords(r.records, r.fetchOffset);
          for (const rec of d.records) bytes += (rec.value?.length ?? 0) + (rec.key?.length ?? 0);
          records += d.records.length;
          pos.set(r.partition, d.nextOffset);
          continue;
        }
        // header-only walk: count records at or after the fetch offset in complete batches
        const buf = r.records;
        let p = 0;
        let next = r.fetchOffset;
        while (p + BATCH_HEADER_SIZE <= buf.length) {
          const size = buf.readInt32BE(p + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
          if (p + size > buf.length) break;
          const base = buf.readBigInt64BE(p);
          const last = base + BigInt(buf.readInt32BE(p + LAST_OFFSET_DELTA_OFFSET));
          if (last >= next) {
            const count = buf.readInt32BE(p + RECORD_COUNT_OFFSET);
            const skipped = base < r.fetchOffset ? Number(r.fetchOffset - base) : 0;
            records += Math.max(0, count - skipped);
            bytes += size;
            next = last + 1n;
          }
          p += size;
        }
        pos.set(r.partition, next);
      }
    }
  } finally {
    stop();
  }
  const elapsed = performance.now() - start;
  report(stdout, bool(values, 'json'), 'consumed', records, bytes, elapsed, summarize(lat.view()), { fetches: lat.length, decoded: decode ? 'yes' : 'no' });
  return 0;
}

export const perfCommand = defineGroup({
  name: 'perf',
  summary: 'Measure produce or consume throughput and latency against a broker (a load generator).',
  details:
    'Progress (records/s, MB/s, latency) is printed to stderr every second; the final line (or --json object)\n' +
    'goes to stdout with records/s, MB/s and latency avg/p50/p95/p99/p99.9/max. Produce latency is per\n' +
    'Produce request (one batch); consume latency is per Fetch request.',
  subcommands: [
    {
      name: 'produce',
      summary: 'Send pre-built record batches as fast as allowed, several requests in flight.',
      usage: 'sluice perf produce TOPIC (--num-records N | --duration S) [--record-size B] [--throughput R] [--acks 0|1|all] [--compression CODEC] [--batch-size BYTES]',
      options: [
        NUM_RECORDS,
        DURATION,
        { name: 'record-size', type: 'string', short: 's', value: 'BYTES', description: 'Value size of each record', default: '100' },
        { name: 'throughput', type: 'string', value: 'R', description: 'Cap in records/s (batches then hold ~10 ms of records); -1 = no cap', default: '-1' },
        { ...ACKS_OPTION, default: '1' },
        COMPRESSION_OPTION,
        { name: 'batch-size', type: 'string', value: 'BYTES', description: 'Bytes of records per batch (one batch per request)', default: '16384' },
        { name: 'max-in-flight', type: 'string', value: 'N', description: 'Produce requests in flight at once', default: '8' },
        JSON_OPT,
        ...COMMON,
      ],
      async run(ctx) {
        const topic = onePositional(ctx, 'TOPIC');
        limits(ctx.values);
        compressionFlag(ctx.values);
        acksFlag(ctx.values, 1);
        return withClient(ctx.values, (client) => perfProduce(client, topic, ctx.values, ctx.stdout, ctx.stderr));
      },
    },
    {
      name: 'consume',
      summary: 'Fetch a topic from its log start and measure the rate.',
      usage: 'sluice perf consume TOPIC (--num-records N | --duration S) [--fetch-size BYTES] [--decode] [--timeout-ms MS]',
      options: [
        NUM_RECORDS,
        DURATION,
        { name: 'fetch-size', type: 'string', value: 'BYTES', description: 'Max bytes per partition and fetch', default: '1048576' },
        { name: 'decode', type: 'boolean', description: 'Decode (and decompress) every record; MB/s then counts keys+values' },
        { name: 'timeout-ms', type: 'string', value: 'MS', description: 'Stop after this long without new data', default: '10000' },
        JSON_OPT,
        ...COMMON,
      ],
      async run(ctx) {
        const topic = onePositional(ctx, 'TOPIC');
        limits(ctx.values);
        if (str(ctx.values, 'fetch-size') !== undefined) int(ctx.values, 'fetch-size', { min: 1024 });
        return withClient(ctx.values, (client) => perfConsume(client, topic, ctx.values, ctx.stdout, ctx.stderr));
      },
    },
  ],
});
