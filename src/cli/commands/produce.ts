/** `sluice produce TOPIC`: lines from stdin or a file become records. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CommandDef, OptionDef } from '../command.js';
import { UsageError } from '../command.js';
import { Producer, type CompressionName, type ProducerMessage } from '../../client/producer.js';
import { CompressionType } from '../../record/batch-header.js';
import { compressionTypeFromName } from '../../record/compression.js';
import type { RecordHeader } from '../../record/types.js';
import { KafkaProduceTarget } from '../../kafka-client/produce-target.js';
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

const CODECS: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function compressionNameFlag(values: Values): CompressionName {
  const name = str(values, 'compression') ?? 'none';
  const codec = CODECS.find((c) => c === name);
  if (codec === undefined) throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got "${name}"`);
  return codec;
}

export function compressionFlag(values: Values): CompressionType {
  return compressionTypeFromName(compressionNameFlag(values));
}

export function acksFlag(values: Values, dflt: WireAcks): WireAcks {
  const s = str(values, 'acks');
  if (s === undefined) return dflt;
  if (s === '0') return 0;
  if (s === '1') return 1;
  if (s === 'all' || s === '-1') return -1;
  throw new UsageError(`--acks must be 0, 1 or all, got "${s}"`);
}

/** Produce requests in flight per partition (the library producer's maximum when idempotent). */
const MAX_IN_FLIGHT = 5;

export const produceCommand: CommandDef = {
  name: 'produce',
  summary: 'Write lines from stdin or a file to a topic, one record per line.',
  usage: 'sluice produce TOPIC [--file FILE] [--key-separator SEP] [--header KEY=VALUE]... [--partition N] [--compression CODEC] [--acks 0|1|all]',
  details:
    'Keyed records go to murmur2(key) % partitions, as Kafka\'s Java client does, so they land where any\n' +
    'Kafka producer would put them; keyless records use the sticky partitioner. The topic is auto-created\n' +
    'when the broker allows it. Records are batched (--batch-size, --linger-ms) by the library\'s producer and\n' +
    'sent with several requests in flight; with --acks all it is idempotent (a retried batch is written once).',
  options: [
    { name: 'file', type: 'string', short: 'f', value: 'FILE', description: 'Read lines from FILE instead of stdin' },
    { name: 'key-separator', type: 'string', short: 'k', value: 'SEP', description: 'Split each line at the first SEP into key and value' },
    { name: 'header', type: 'string', short: 'H', multiple: true, value: 'KEY=VALUE', description: 'Header added to every record (repeatable)' },
    { name: 'partition', type: 'string', short: 'p', value: 'N', description: 'Write every record to partition N' },
    COMPRESSION_OPTION,
    ACKS_OPTION,
    { name: 'batch-size', type: 'string', value: 'BYTES', description: 'Target bytes per batch and partition', default: '16384' },
    { name: 'linger-ms', type: 'string', value: 'MS', description: 'How long a partial batch waits for more lines before it is sent', default: '5' },
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
    const compression = compressionNameFlag(values);
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
      // The library producer over the wire: idempotent with acks=all, as its default is.
      const producer = new Producer(new KafkaProduceTarget(client, { autoCreate: true }), {
        acks,
        compression,
        batchSize: batchBytes,
        lingerMs,
        maxInFlight: MAX_IN_FLIGHT,
      });
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
      /** (partition, offset) of each acknowledged line by line number, for --verbose. */
      const acked: ({ partition: number; offset: bigint } | undefined)[] = [];
      let sent = 0;
      let failure: unknown = null;
      // Lines sent and not yet acknowledged, oldest first: reading pauses while they hold more than
      // MAX_IN_FLIGHT batches' worth, so a large file is not read into memory ahead of the broker.
      const unacked: { done: Promise<void>; bytes: number }[] = [];
      let unackedBytes = 0;
      let lineNo = 0;
      try {
        for await (const line of rl) {
          if (failure) throw failure;
          lineNo++;
          let key: string | null = null;
          let value = line;
          if (sep !== undefined) {
            const i = line.indexOf(sep);
            if (i < 0) throw new Error(`line ${lineNo} has no key separator "${sep}"`);
            key = line.slice(0, i);
            value = line.slice(i + sep.length);
          }
          const message: ProducerMessage = { key, value, ...(headers.length ? { headers } : {}), ...(explicit !== undefined ? { partition: explicit } : {}) };
          const n = lineNo;
          const done = producer.send({ topic, messages: [message] }).then(
            ([m]) => {
              sent++;
              if (verbose && m!.offset >= 0n) acked[n] = { partition: m!.partition, offset: m!.offset };
            },
            (e: unknown) => {
              failure ??= e;
            },
          );
          const bytes = line.length + 1; // + the newline: empty lines count too
          unacked.push({ done, bytes });
          unackedBytes += bytes;
          while (unackedBytes >= MAX_IN_FLIGHT * batchBytes && failure === null) {
            const oldest = unacked.shift()!;
            await oldest.done;
            unackedBytes -= oldest.bytes;
          }
        }
      } finally {
        rl.close();
      }
      await Promise.all(unacked.map((u) => u.done));
      if (failure) throw failure;
      if (verbose) {
        for (const a of acked) if (a) ctx.stdout.write(`${topic}-${a.partition}@${a.offset}\n`);
        if (acks === 0) ctx.stderr.write(`sent ${sent} records with acks=0 (no offsets reported)\n`);
      }
      return 0;
    });
  },
};
