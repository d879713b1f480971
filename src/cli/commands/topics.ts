/** `sluice topics create|list|describe|delete|alter`: topic administration over the Kafka protocol. */
import { UsageError } from '../command.js';
import type { OptionDef } from '../command.js';
import { KafkaProtocolError } from '../../kafka-client/errors.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type TopicInfo } from '../../kafka-client/types.js';
import {
  BOOTSTRAP_OPTION,
  CLIENT_ID_OPTION,
  bool,
  defineGroup,
  int,
  keyValues,
  list,
  noPositionals,
  onePositional,
  table,
  withClient,
} from './common.js';

const CONFIG_OPTION: OptionDef = {
  name: 'config',
  type: 'string',
  multiple: true,
  value: 'KEY=VALUE',
  description: 'Topic config with Kafka\'s name, e.g. retention.ms=3600000 (repeatable)',
};
const PARTITIONS_OPTION: OptionDef = { name: 'partitions', type: 'string', short: 'p', value: 'N', description: 'Number of partitions' };
const INTERNAL_OPTION: OptionDef = { name: 'include-internal', type: 'boolean', description: 'Include internal topics such as __consumer_offsets' };
const COMMON = [BOOTSTRAP_OPTION, CLIENT_ID_OPTION];

export const topicsCommand = defineGroup({
  name: 'topics',
  summary: 'Create, list, describe, alter and delete topics on a running broker.',
  subcommands: [
    {
      name: 'create',
      summary: 'Create a topic.',
      usage: 'sluice topics create TOPIC [--partitions N] [--replication-factor N] [--config KEY=VALUE]...',
      options: [
        { ...PARTITIONS_OPTION, description: 'Number of partitions (default: the broker\'s num.partitions)' },
        { name: 'replication-factor', type: 'string', short: 'r', value: 'N', description: 'Replicas per partition (1 on a single node; default: the broker\'s)' },
        CONFIG_OPTION,
        { name: 'if-not-exists', type: 'boolean', description: 'Succeed if the topic already exists' },
        ...COMMON,
      ],
      async run(ctx) {
        const topic = onePositional(ctx, 'TOPIC');
        const numPartitions = int(ctx.values, 'partitions', { min: 1 }) ?? -1;
        const replicationFactor = int(ctx.values, 'replication-factor', { min: 1, max: 32767 }) ?? -1;
        const configs = keyValues(ctx.values, 'config');
        return withClient(ctx.values, async (client) => {
          try {
            const [r] = await client.createTopics([{ name: topic, numPartitions, replicationFactor, configs }]);
            const parts = r && r.numPartitions > 0 ? ` with ${r.numPartitions} partition${r.numPartitions === 1 ? '' : 's'}` : '';
            ctx.stdout.write(`Created topic ${topic}${parts}.\n`);
          } catch (e) {
            if (e instanceof KafkaProtocolError && e.errorName === 'TOPIC_ALREADY_EXISTS' && bool(ctx.values, 'if-not-exists')) {
              ctx.stdout.write(`Topic ${topic} already exists.\n`);
              return 0;
            }
            throw e;
          }
          return 0;
        });
      },
    },
    {
      name: 'list',
      summary: 'List topic names, one per line.',
      usage: 'sluice topics list [--include-internal]',
      options: [INTERNAL_OPTION, ...COMMON],
      async run(ctx) {
        noPositionals(ctx);
        return withClient(ctx.values, async (client) => {
          const md = await client.metadata(null);
          const names = md.topics
            .filter((t) => t.errorCode === 0 && (bool(ctx.values, 'include-internal') || !t.isInternal))
            .map((t) => t.name)
            .sort();
          for (const n of names) ctx.stdout.write(`${n}\n`);
          return 0;
        });
      },
    },
    {
      name: 'describe',
      summary: 'Show partitions, leaders, replicas, log start/end offsets, sizes and config overrides of topics (all when none given).',
      usage: 'sluice topics describe [TOPIC...] [--include-internal]',
      details:
        'Per partition: leader, replicas, in-sync replicas, log start offset and log end offset (from\n' +
        'ListOffsets) and size in bytes on the leader (from DescribeLogDirs; - when the broker does not\n' +
        'serve it). Configs lists the topic\'s overrides (non-default values).',
      options: [INTERNAL_OPTION, ...COMMON],
      async run(ctx) {
        return withClient(ctx.values, async (client) => {
          const wanted = ctx.positionals;
          const md = await client.metadata(wanted.length ? wanted : null);
          for (const t of md.topics) if (t.errorCode !== 0) throw new KafkaProtocolError(t.errorCode, `topic '${t.name}'`);
          const topics = md.topics
            .filter((t) => wanted.length > 0 || bool(ctx.values, 'include-internal') || !t.isInternal)
            .sort((a, b) => a.name.localeCompare(b.name));
          if (topics.length === 0) return 0;
          const reqs = topics.flatMap((t) => t.partitions.filter((p) => p.leader >= 0).map((p) => ({ topic: t.name, partition: p.partition })));
          const [starts, ends, configs, logDirs] = await Promise.all([
            client.listOffsets(reqs.map((r) => ({ ...r, timestamp: EARLIEST_TIMESTAMP }))),
            client.listOffsets(reqs.map((r) => ({ ...r, timestamp: LATEST_TIMESTAMP }))),
            client.describeConfigs(topics.map((t) => ({ type: 'topic' as const, name: t.name }))).catch(() => []),
            client.describeLogDirs(reqs).catch(() => undefined),
          ]);
          const key = (t: string, p: number): string => `${t}\0${p}`;
          const start = new Map(starts.map((o) => [key(o.topic, o.partition), o.offset]));
          const end = new Map(ends.map((o) => [key(o.topic, o.partition), o.offset]));
          // Sizes as the leader reports them (its current log, not a future one being moved in).
          const size = new Map((logDirs ?? []).filter((d) => !d.isFuture).map((d) => [key(d.topic, d.partition), d.sizeBytes]));
          const out: string[] = [];
          for (const t of topics) {
            const overrides = configs
              .find((c) => c.name === t.name)
              ?.entries.filter((e) => e.source === 'DYNAMIC_TOPIC_CONFIG')
              .map((e) => `${e.name}=${e.isSensitive ? '(sensitive)' : e.value ?? ''}`);
            out.push(describeHeader(t, overrides ?? []));
            const rows = t.partitions.map((p) => [
              String(p.partition),
              p.leader >= 0 ? String(p.leader) : 'none',
              p.replicas.join(','),
              p.isr.join(','),
              String(start.get(key(t.name, p.partition)) ?? '-'),
              String(end.get(key(t.name, p.partition)) ?? '-'),
              String(size.get(key(t.name, p.partition)) ?? '-'),
            ]);
            out.push(indent(table(['Partition', 'Leader', 'Replicas', 'Isr', 'LogStartOffset', 'LogEndOffset', 'Size'], rows)));
          }
          ctx.stdout.write(out.join(''));
          return 0;
        });
      },
    },
    {
      name: 'delete',
      summary: 'Delete topics and their data.',
      usage: 'sluice topics delete TOPIC... [--if-exists]',
      options: [{ name: 'if-exists', type: 'boolean', description: 'Succeed if a topic does not exist' }, ...COMMON],
      async run(ctx) {
        if (ctx.positionals.length === 0) throw new UsageError('missing TOPIC argument');
        return withClient(ctx.values, async (client) => {
          for (const topic of ctx.positionals) {
            try {
              await client.deleteTopics([topic]);
              ctx.stdout.write(`Deleted topic ${topic}.\n`);
            } catch (e) {
              if (e instanceof KafkaProtocolError && e.errorName === 'UNKNOWN_TOPIC_OR_PARTITION' && bool(ctx.values, 'if-exists')) continue;
              throw e;
            }
          }
          return 0;
        });
      },
    },
    {
      name: 'alter',
      summary: 'Add partitions, set config overrides or remove them (back to the default).',
      usage: 'sluice topics alter TOPIC [--partitions N] [--config KEY=VALUE]... [--delete-config KEY]...',
      options: [
        { ...PARTITIONS_OPTION, description: 'New total number of partitions (can only grow)' },
        CONFIG_OPTION,
        { name: 'delete-config', type: 'string', multiple: true, value: 'KEY', description: 'Remove a config override (repeatable)' },
        ...COMMON,
      ],
      async run(ctx) {
        const topic = onePositional(ctx, 'TOPIC');
        const partitions = int(ctx.values, 'partitions', { min: 1 });
        const changes: Record<string, string | null> = keyValues(ctx.values, 'config');
        for (const k of list(ctx.values, 'delete-config')) changes[k] = null;
        if (partitions === undefined && Object.keys(changes).length === 0) {
          throw new UsageError('nothing to alter: give --partitions, --config or --delete-config');
        }
        return withClient(ctx.values, async (client) => {
          const t = await client.topic(topic, { refresh: true });
          if (partitions !== undefined) {
            if (partitions < t.partitions.length) {
              throw new KafkaProtocolError(37, `topic '${topic}'`, `it has ${t.partitions.length} partitions; the count can only grow`);
            }
            if (partitions > t.partitions.length) {
              await client.createPartitions(topic, partitions);
              ctx.stdout.write(`Topic ${topic} now has ${partitions} partitions.\n`);
            }
          }
          if (Object.keys(changes).length > 0) {
            await client.alterConfigs({ type: 'topic', name: topic }, changes);
            for (const [k, v] of Object.entries(changes)) ctx.stdout.write(v === null ? `Removed ${k} from ${topic}.\n` : `Set ${k}=${v} on ${topic}.\n`);
          }
          return 0;
        });
      },
    },
  ],
});

function describeHeader(t: TopicInfo, overrides: string[]): string {
  const rf = t.partitions[0]?.replicas.length ?? 0;
  return `Topic: ${t.name}\tTopicId: ${t.topicId}\tPartitions: ${t.partitions.length}\tReplicationFactor: ${rf}\tConfigs: ${overrides.join(',')}\n`;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}
