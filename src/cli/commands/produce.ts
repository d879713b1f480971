/** `sluice produce TOPIC`: lines from stdin or a file become records. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CommandDef, OptionDef } from '../command.js';
import { UsageError } from '../command.js';
import { DefaultPartitioner } from '../../client/partitioner.js';
import { encodeBatch } from '../../record/batch.js';
import { CompressionType } from '../../record/batch-header.js';
import { compressionTypeFromName } from '../../record/compression.js';
import type { RecordHeader, RecordInput } from '../../record/types.js';
import type { KafkaClient } from '../../kafka-client/client.js';
import type { WireAcks } from '../../kafka-client/types.js';
import { BOOTSTRAP_OPTION, CLIENT_ID_OPTION, bool, int, keyValues, onePositional, str, withClient, type Values } from './common.js';

export const COMPRESSION_OPTION: OptionDef = {
  name: 'compression',
  type: 'string',
  short: 'z',
  value: 'CODEC',
  description: 'Batch compression: none, gzip, snappy, lz4 or zstd',
  default: 'none',
};
export const ACKS_OPTION: OptionDef = {
  name: 'acks',
  type: 'string',
  value: '0|1|all',
  description: 'Acknowledgement: 0 (none), 1 (leader), all (in-sync replicas)',
  default: 'all',
};

export function compressionFlag(values: Values): CompressionType {
  const name = str(values, 'compression') ?? 'none';
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(name)) {
    throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got "${name}"`);
  }
  return compressionTypeFromName(name);
}

export function acksFlag(values: Values, dflt: WireAcks): WireAcks {
  const s = str(values, 'acks');
  if (s === undefined) return dflt;
  if (s === '0') return 0;
  if (s === '1') return 1;
  if (s === 'all' || s === '-1') return -1;
  throw new UsageError(`--acks must be 0, 1 or all, got "${s}"`);
}

/** Sends batches of records per partition, several requests in flight, keeping per-partition order. */
class LineProducer {
  private readonly pending = new Map<number, { records: RecordInput[]; bytes: number; lines: number[] }>();
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown = null;
  /** (line number, partition, offset) of each record, for --verbose. */
  readonly acked: { line: number; partition: number; offset: bigint }[] = [];
  sent = 0;

  constructor(
    private readonly client: KafkaClient,
    private readonly topic: string,
    private readonly numPartitions: number,
    private readonly opts: { acks: WireAcks; compression: CompressionType; batchBytes: number; maxInFlight: number },
    private readonly partitioner = new DefaultPartitioner(),
  ) {}

  async add(rec: RecordInput, line: number, explicit: number | undefined): Promise<void> {
    if (this.failure) throw this.failure;
    const key = rec.key === undefined ? null : (rec.key as string | Buffer | null);
    const p = this.partitioner.partition(this.topic, this.numPartitions, key, explicit);
    let acc = this.pending.get(p);
    if (!acc) this.pending.set(p, (acc = { records: [], bytes: 0, lines: [] }));
    acc.records.push(rec);
    acc.lines.push(line);
    acc.bytes += 16 + byteLen(rec.key) + byteLen(rec.value);
    if (acc.bytes >= this.opts.batchBytes) await this.send(p);
  }

  /** Sends every partial batch (end of input, or the linger timer). */
  async flushAll(): Promise<void> {
    for (const p of [...this.pending.keys()]) await this.send(p);
  }

  async drain(): Promise<void> {
    await this.flushAll();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async send(p: number): Promise<void> {
    const acc = this.pending.get(p);
    if (!acc || acc.records.length === 0) return;
    this.pending.delete(p);
    this.partitioner.batchSent(this.topic, p, this.numPartitions);
    while (this.inFlight.size >= this.opts.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const batch = encodeBatch(acc.records, { compression: this.opts.compression });
    const req = this.client
      .produce(this.topic, p, batch, { acks: this.opts.acks, autoCreate: true })
      .then((r) => {
        this.sent += acc.records.length;
        if (r.baseOffset >= 0n) acc.lines.forEach((line, i) => this.acked.push({ line, partition: p, offset: r.baseOffset + BigInt(i) }));
      })
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.inFlight.delete(req));
    this.inFlight.add(req);
  }
}

function byteLen(v: RecordInput['value'] | RecordInput['key']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

export const produceCommand: CommandDef = {
  name: 'produce',
  summary: 'Write lines from stdin or a file to a topic, one record per line.',
  usage: 'sluice produce TOPIC [--file FILE] [--key-separator SEP] [--header KEY=VALUE]... [--partition N] [--compression CODEC] [--acks 0|1|all]',
  details:
    'Keyed records go to murmur2(key) % partitions, as Kafka\'s Java client does, so they land where any\n' +
    'Kafka producer would put them; keyless records use the sticky partitioner. The topic is auto-created\n' +
    'when the broker allows it. Records are batched (--batch-size) and sent with several requests in flight.',
  options: [
    { name: 'file', type: 'string', short: 'f', value: 'FILE', description: 'Read lines from FILE instead of stdin' },
    { name: 'key-separator', type: 'string', short: 'k', value: 'SEP', description: 'Split each line at the first SEP into key and value' },
    { name: 'header', type: 'string', short: 'H', multiple: true, value: 'KEY=VALUE', description: 'Header added to every record (repeatable)' },
    { name: 'partition', type: 'string', short: 'p', value: 'N', description: 'Write every record to partition N' },
    COMPRESSION_OPTION,
    ACKS_OPTION,
    { name: 'batch-size', type: 'string', value: 'BYTES', description: 'Target bytes per batch and partition', default: '16384' },
    { name: 'linger-ms', type: 'string', value: 'MS', description: 'Send a partial batch after this long without new input', default: '5' },
    { name: 'verbose', type: 'boolean', short: 'v', description: 'Print TOPIC-PARTITION@OFFSET of each record' },
    BOOTSTRAP_OPTION,
    CLIENT_ID_OPTION,
  ],
  async run(ctx) {
    const topic = onePositional(ctx, 'TOPIC');
    const { values } = ctx;
    const sep = str(values, 'key-separator');
    if (sep === '') throw new UsageError('--key-separator must not be empty');
    const headerMap = keyValues(values, 'header');
    const headers: RecordHeader[] = Object.entries(headerMap).map(([key, value]) => ({ key, value: Buffer.from(value) }));
    const explicit = int(values, 'partition', { min: 0 });
    const compression = compressionFlag(values);
    const acks = acksFlag(values, -1);
    const batchBytes = int(values, 'batch-size', { min: 1 }) ?? 16384;
    const lingerMs = int(values, 'linger-ms', { min: 0 }) ?? 5;
    const file = str(values, 'file');
    const verbose = bool(values, 'verbose');

    return withClient(values, async (client) => {
      const t = await client.topic(topic, { autoCreate: true });
      if (explicit !== undefined && explicit >= t.partitions.length) {
        throw new UsageError(`--partition ${explicit} does not exist: topic '${topic}' has ${t.partitions.length} partition(s)`);
      }
      const producer = new LineProducer(client, topic, t.partitions.length, { acks, compression, batchBytes, maxInFlight: 5 });
      const input = file ? createReadStream(file) : process.stdin;
      const opened = new Promise<void>((resolve, reject) => {
        input.once('error', reject);
        if (file) input.once('open', () => resolve());
        else resolve();
      });
      await opened.catch((e: NodeJS.ErrnoException) => {
        throw new Error(`cannot read ${file}: ${e.code ?? e.message}`);
      });
      const rl = createInterface({ input, crlfDelay: Infinity });
      let lineNo = 0;
      let linger: NodeJS.Timeout | null = null;
      try {
        for await (const line of rl) {
          lineNo++;
          let key: string | null = null;
          let value = line;
          if (sep !== undefined) {
            const i = line.indexOf(sep);
            if (i < 0) throw new Error(`line ${lineNo} has no key separator "${sep}"`);
            key = line.slice(0, i);
            value = line.slice(i + sep.length);
          }
          await producer.add({ key, value, ...(headers.length ? { headers } : {}) }, lineNo, explicit);
          // interactive input: send what we have once the input pauses
          if (linger) clearTimeout(linger);
          linger = setTimeout(() => void producer.flushAll().catch(() => undefined), lingerMs);
        }
      } finally {
        if (linger) clearTimeout(linger);
        rl.close();
      }
      await producer.drain();
      if (verbose) {
        producer.acked.sort((a, b) => a.line - b.line);
        for (const a of producer.acked) ctx.stdout.write(`${topic}-${a.partition}@${a.offset}\n`);
        if (acks === 0) ctx.stderr.write(`sent ${producer.sent} records with acks=0 (no offsets reported)\n`);
      }
      return 0;
    });
  },
};
