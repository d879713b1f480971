/** `sluice consume TOPIC`: print records, from chosen offsets or as a member of a consumer group. */
import type { CommandDef } from '../command.js';
import { UsageError } from '../command.js';
import type { LogRecord } from '../../record/types.js';
import type { KafkaClient } from '../../kafka-client/client.js';
import { KafkaProtocolError } from '../../kafka-client/errors.js';
import { GroupMember } from '../../kafka-client/group.js';
import { decodeFetchedRecords } from '../../record/fetched.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from '../../kafka-client/types.js';
import { BOOTSTRAP_OPTION, CLIENT_ID_OPTION, bool, int, offsetFlag, onePositional, str, timeFlag, withClient } from './common.js';

export type OutputFormat = 'value' | 'kv' | 'json';

const AUTO_COMMIT_MS = 5_000;

export const consumeCommand: CommandDef = {
  name: 'consume',
  summary: 'Print records of a topic, from chosen offsets or as a member of a consumer group.',
  usage:
    'sluice consume TOPIC [--from-beginning | --offset N --partition P | --from-time ISO] [--group G] [--max-messages N] [--format value|kv|json] [--timeout-ms MS]',
  details:
    'Without --group it reads every partition (or --partition) from the end of the log, or from\n' +
    '--from-beginning, --offset or --from-time. With --group it joins the group (range assignor), resumes\n' +
    'from the group\'s committed offsets (new partitions start at the end, or at the beginning with\n' +
    '--from-beginning) and commits its position every 5 s and on exit. Runs until Ctrl-C, --max-messages, or\n' +
    '--timeout-ms without a new record. Formats: value (one value per line), kv (partition, offset,\n' +
    'timestamp, key, headers, value; tab-separated), json (one JSON object per line).',
  options: [
    { name: 'from-beginning', type: 'boolean', description: 'Start at the log start (with --group: when the group has no committed offset)' },
    { name: 'offset', type: 'string', short: 'o', value: 'N', description: 'Start at offset N (needs --partition)' },
    { name: 'from-time', type: 'string', value: 'ISO', description: 'Start at the first record with timestamp >= ISO-8601 time (or epoch ms)' },
    { name: 'partition', type: 'string', short: 'p', value: 'N', description: 'Read only partition N' },
    { name: 'group', type: 'string', short: 'g', value: 'GROUP', description: 'Consume as a member of consumer group GROUP' },
    { name: 'max-messages', type: 'string', short: 'n', value: 'N', description: 'Exit after N records' },
    { name: 'format', type: 'string', short: 'F', value: 'FORMAT', description: 'Output: value, kv or json', default: 'value' },
    { name: 'timeout-ms', type: 'string', short: 't', value: 'MS', description: 'Exit after MS without a new record (default: run until Ctrl-C)' },
    BOOTSTRAP_OPTION,
    CLIENT_ID_OPTION,
  ],
  async run(ctx) {
    const topic = onePositional(ctx, 'TOPIC');
    const { values } = ctx;
    const format = (str(values, 'format') ?? 'value') as OutputFormat;
    if (!['value', 'kv', 'json'].includes(format)) throw new UsageError(`--format must be value, kv or json, got "${format}"`);
    const fromBeginning = bool(values, 'from-beginning');
    const offset = offsetFlag(values, 'offset');
    const fromTime = timeFlag(values, 'from-time');
    const partition = int(values, 'partition', { min: 0 });
    const group = str(values, 'group');
    const maxMessages = int(values, 'max-messages', { min: 1 });
    const timeoutMs = int(values, 'timeout-ms', { min: 1 });
    if ([fromBeginning, offset !== undefined, fromTime !== undefined].filter(Boolean).length > 1) {
      throw new UsageError('choose one of --from-beginning, --offset and --from-time');
    }
    if (offset !== undefined && partition === undefined) throw new UsageError('--offset needs --partition');
    if (group !== undefined && (partition !== undefined || offset !== undefined || fromTime !== undefined)) {
      throw new UsageError('--group cannot be combined with --partition, --offset or --from-time (the group assigns partitions)');
    }
    if (group === '') throw new UsageError('--group must not be empty');

    return withClient(values, async (client) => {
      const t = await client.topic(topic);
      if (partition !== undefined && partition >= t.partitions.length) {
        throw new KafkaProtocolError(3, `partition ${partition} of topic '${topic}' (the topic has ${t.partitions.length})`);
      }
      const consumer = new ConsoleConsumer(client, topic, ctx.stdout, ctx.stderr, { format, maxMessages, timeoutMs, fromBeginning });
      if (group !== undefined) await consumer.runGroup(group);
      else {
        const parts = partition !== undefined ? [partition] : t.partitions.map((p) => p.partition);
        const ts = offset !== undefined ? null : fromTime ?? (fromBeginning ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP);
        await consumer.runPartitions(parts, offset ?? null, ts);
      }
      ctx.stderr.write(`Processed a total of ${consumer.count} messages\n`);
      return 0;
    });
  },
};

interface ConsoleOptions {
  format: OutputFormat;
  maxMessages: number | undefined;
  timeoutMs: number | undefined;
  fromBeginning: boolean;
}

class ConsoleConsumer {
  count = 0;
  private stopping = false;
  private readonly positions = new Map<number, bigint>();
  private lastRecordAt = Date.now();

  constructor(
    private readonly client: KafkaClient,
    private readonly topic: string,
    private readonly out: NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
    private readonly opts: ConsoleOptions,
  ) {}

  /** Standalone: fixed partitions from an offset (`offset`) or a ListOffsets timestamp (`ts`). */
  async runPartitions(partitions: number[], offset: bigint | null, ts: bigint | null): Promise<void> {
    if (offset !== null) this.positions.set(partitions[0]!, offset);
    else await this.resetTo(partitions, ts!);
    this.lastRecordAt = Date.now();
    await this.withSignals(async () => {
      while (!this.done()) await this.pollOnce();
    });
  }

  /** As a group member: join, resume from committed offsets, commit periodically and on exit, leave. */
  async runGroup(groupId: string): Promise<void> {
    const member = new GroupMember(this.client, { groupId, topics: [this.topic] });
    const commit = async (): Promise<void> => {
      const offsets = [...this.positions].map(([partition, offset]) => ({ topic: this.topic, partition, offset }));
      if (offsets.length) await member.commit(offsets);
    };
    const assign = async (): Promise<void> => {
      const gen = await member.join();
      this.positions.clear();
      const mine = gen.assignment.filter((tp) => tp.topic === this.topic).map((tp) => tp.partition);
      if (mine.length === 0) return;
      const committed = await this.client.offsetFetch(groupId, mine.map((partition) => ({ topic: this.topic, partition })));
      const fresh: number[] = [];
      for (const p of mine) {
        const c = committed.find((x) => x.partition === p);
        if (c && c.offset >= 0n) this.positions.set(p, c.offset);
        else fresh.push(p);
      }
      if (fresh.length) await this.resetTo(fresh, this.opts.fromBeginning ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP);
    };
    try {
      await this.withSignals(async () => {
        await assign();
        this.lastRecordAt = Date.now(); // the idle timeout starts once we own partitions, not during the join
        let lastCommit = Date.now();
        while (!this.done()) {
          if (member.rebalanceNeeded) {
            await commit().catch(() => undefined);
            await assign();
          }
          if (this.positions.size === 0) await new Promise((r) => setTimeout(r, 200)); // nothing assigned to us
          else await this.pollOnce();
          if (Date.now() - lastCommit >= AUTO_COMMIT_MS) {
            await commit().catch((e: unknown) => {
              if (!(e instanceof KafkaProtocolError) || !member.rebalanceNeeded) throw e;
            });
            lastCommit = Date.now();
          }
        }
        if (!member.rebalanceNeeded) await commit();
      });
    } finally {
      await member.leave();
    }
  }

  private done(): boolean {
    if (this.stopping) return true;
    if (this.opts.maxMessages !== undefined && this.count >= this.opts.maxMessages) return true;
    if (this.opts.timeoutMs !== undefined && Date.now() - this.lastRecordAt >= this.opts.timeoutMs) return true;
    return false;
  }

  /** Ctrl-C / SIGTERM end the loop cleanly (commit, leave) instead of killing the process. */
  private async withSignals(body: () => Promise<void>): Promise<void> {
    const stop = (): void => {
      this.stopping = true;
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const onOutErr = (): void => {
      this.stopping = true; // e.g. EPIPE when piped into `head`
    };
    this.out.on('error', onOutErr);
    try {
      await body();
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      this.out.off('error', onOutErr);
    }
  }

  private async resetTo(partitions: number[], timestamp: bigint): Promise<void> {
    const res = await this.client.listOffsets(partitions.map((partition) => ({ topic: this.topic, partition, timestamp })));
    const needLatest: number[] = [];
    for (const r of res) {
      if (r.offset >= 0n) this.positions.set(r.partition, r.offset);
      else needLatest.push(r.partition); // no record at or after that time: start at the end
    }
    if (needLatest.length) await this.resetTo(needLatest, LATEST_TIMESTAMP);
  }

  private async pollOnce(): Promise<void> {
    const idleLeft = this.opts.timeoutMs !== undefined ? this.opts.timeoutMs - (Date.now() - this.lastRecordAt) : 500;
    const maxWaitMs = Math.max(0, Math.min(500, idleLeft));
    const results = await this.client.fetch(
      [...this.positions].map(([partition, offset]) => ({ topic: this.topic, partition, offset })),
      { maxWaitMs },
    );
    for (const r of results) {
      if (this.done()) return;
      if (r.error) {
        if (r.error.errorName === 'OFFSET_OUT_OF_RANGE') {
          await this.resetTo([r.partition], this.opts.fromBeginning ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP);
          this.err.write(`partition ${r.partition}: offset ${r.fetchOffset} is out of range; moved to ${this.positions.get(r.partition)}\n`);
          continue;
        }
        if (r.error.retriable) continue;
        throw r.error;
      }
      const { records, nextOffset } = decodeFetchedRecords(r.records, r.fetchOffset);
      for (const rec of records) {
        if (this.done()) return;
        await this.print(r.partition, rec);
        this.positions.set(r.partition, rec.offset + 1n);
      }
      this.positions.set(r.partition, nextOffset > (this.positions.get(r.partition) ?? 0n) ? nextOffset : this.positions.get(r.partition)!);
    }
  }

  private async print(partition: number, rec: LogRecord): Promise<void> {
    this.count++;
    this.lastRecordAt = Date.now();
    const line = formatRecord(this.opts.format, partition, rec);
    if (!this.out.write(line)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }
}

function text(b: Buffer | null): string {
  return b === null ? 'null' : b.toString('utf8');
}

/** One output line (with its newline) for a record in the chosen format. */
export function formatRecord(format: OutputFormat, partition: number, rec: LogRecord): string {
  if (format === 'value') return `${text(rec.value)}\n`;
  if (format === 'kv') {
    const headers = rec.headers.map((h) => `${h.key}=${text(h.value)}`).join(',');
    return `partition:${partition}\toffset:${rec.offset}\ttimestamp:${rec.timestamp}\tkey:${text(rec.key)}\theaders:${headers}\tvalue:${text(rec.value)}\n`;
  }
  const headers: Record<string, string | null> = {};
  for (const h of rec.headers) headers[h.key] = h.value === null ? null : h.value.toString('utf8');
  return (
    JSON.stringify({
      partition,
      offset: Number(rec.offset),
      timestamp: Number(rec.timestamp),
      key: rec.key === null ? null : rec.key.toString('utf8'),
      value: rec.value === null ? null : rec.value.toString('utf8'),
      headers,
    }) + '\n'
  );
}
