/** `sluice groups list|describe|delete|reset-offsets`: consumer group administration. */
import { UsageError } from '../command.js';
import type { KafkaClient } from '../../kafka-client/client.js';
import { KafkaProtocolError } from '../../kafka-client/errors.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type DescribedGroup, type TopicPartition } from '../../kafka-client/types.js';
import {
  BOOTSTRAP_OPTION,
  CLIENT_ID_OPTION,
  bool,
  defineGroup,
  noPositionals,
  offsetFlag,
  str,
  table,
  timeFlag,
  withClient,
} from './common.js';

const COMMON = [BOOTSTRAP_OPTION, CLIENT_ID_OPTION];
const ACTIVE_STATES = new Set(['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Assigning', 'Reconciling']);
const tpKey = (topic: string, partition: number): string => `${topic}\0${partition}`;

/** Group ids from positionals, or from --group. */
function groupIds(positionals: string[], values: Record<string, unknown>): string[] {
  const g = typeof values['group'] === 'string' ? [values['group']] : [];
  const ids = [...positionals, ...g];
  if (ids.length === 0) throw new UsageError('missing GROUP argument');
  return ids;
}

/** A group that the coordinator does not know: Dead with no members, and nothing committed. */
async function describeExisting(client: KafkaClient, groupId: string): Promise<{ desc: DescribedGroup; committed: Awaited<ReturnType<KafkaClient['offsetFetch']>> }> {
  const [desc] = await client.describeGroups([groupId]);
  const committed = (await client.offsetFetch(groupId)).filter((c) => c.offset >= 0n);
  if (!desc || (desc.state === 'Dead' && desc.members.length === 0 && committed.length === 0)) {
    throw new KafkaProtocolError(69, `group '${groupId}'`);
  }
  return { desc, committed };
}

export const groupsCommand = defineGroup({
  name: 'groups',
  summary: 'List, describe (with lag), delete consumer groups and reset their offsets.',
  subcommands: [
    {
      name: 'list',
      summary: 'List consumer groups, one per line (with --state: and their state).',
      usage: 'sluice groups list [--state]',
      options: [{ name: 'state', type: 'boolean', description: 'Show each group\'s state and protocol type' }, ...COMMON],
      async run(ctx) {
        noPositionals(ctx);
        return withClient(ctx.values, async (client) => {
          const groups = await client.listGroups();
          if (bool(ctx.values, 'state')) {
            ctx.stdout.write(table(['GROUP', 'STATE', 'PROTOCOL-TYPE'], groups.map((g) => [g.groupId, g.state || '-', g.protocolType || '-'])));
          } else {
            for (const g of groups) ctx.stdout.write(`${g.groupId}\n`);
          }
          return 0;
        });
      },
    },
    {
      name: 'describe',
      summary: 'Show a group\'s state, members and, per partition, committed offset, log-end offset and lag.',
      usage: 'sluice groups describe GROUP...',
      details: 'LAG is LOG-END-OFFSET - CURRENT-OFFSET; "-" where the group has not committed an offset yet.',
      options: [{ name: 'group', type: 'string', short: 'g', value: 'GROUP', description: 'Group to describe (or give it as an argument)' }, ...COMMON],
      async run(ctx) {
        const ids = groupIds(ctx.positionals, ctx.values);
        return withClient(ctx.values, async (client) => {
          const out: string[] = [];
          for (const groupId of ids) {
            const { desc, committed } = await describeExisting(client, groupId);
            const owner = new Map<string, (typeof desc.members)[number]>();
            for (const m of desc.members) for (const a of m.assignment) for (const p of a.partitions) owner.set(tpKey(a.topic, p), m);
            const parts = new Map<string, TopicPartition>();
            for (const c of committed) parts.set(tpKey(c.topic, c.partition), { topic: c.topic, partition: c.partition });
            for (const m of desc.members) for (const a of m.assignment) for (const p of a.partitions) parts.set(tpKey(a.topic, p), { topic: a.topic, partition: p });
            const list = [...parts.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
            const ends = new Map<string, bigint>();
            // log-end offsets of topics that still exist (a deleted topic may keep committed offsets)
            const md = list.length ? await client.metadata([...new Set(list.map((p) => p.topic))]) : { topics: [] };
            const live = new Set(md.topics.filter((t) => t.errorCode === 0).map((t) => t.name));
            const known = list.filter((p) => live.has(p.topic));
            if (known.length) {
              for (const r of await client.listOffsets(known.map((p) => ({ ...p, timestamp: LATEST_TIMESTAMP })))) ends.set(tpKey(r.topic, r.partition), r.offset);
            }
            const cur = new Map(committed.map((c) => [tpKey(c.topic, c.partition), c.offset]));
            const c = desc.coordinator;
            out.push(
              `Group: ${groupId}\tState: ${desc.state}\tProtocol: ${desc.protocolType || '-'}/${desc.protocol || '-'}\tCoordinator: ${c.nodeId} (${c.host}:${c.port})\tMembers: ${desc.members.length}\n`,
            );
            const rows = list.map((p) => {
              const k = tpKey(p.topic, p.partition);
              const co = cur.get(k);
              const end = ends.get(k);
              const lag = co !== undefined && end !== undefined ? String(end - co > 0n ? end - co : 0n) : '-';
              const m = owner.get(k);
              return [p.topic, String(p.partition), co !== undefined ? String(co) : '-', end !== undefined ? String(end) : '-', lag, m?.memberId ?? '-', m?.clientHost ?? '-', m?.clientId ?? '-'];
            });
            if (rows.length) out.push('\n' + table(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'], rows));
            if (desc.members.length) {
              const mrows = desc.members.map((m) => [
                m.memberId,
                m.clientHost,
                m.clientId,
                String(m.assignment.reduce((n, a) => n + a.partitions.length, 0)),
                m.assignment.map((a) => `${a.topic}(${a.partitions.join(',')})`).join(' ') || '-',
              ]);
              out.push('\n' + table(['CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', 'ASSIGNMENT'], mrows));
            }
            out.push('\n');
          }
          ctx.stdout.write(out.join(''));
          return 0;
        });
      },
    },
    {
      name: 'delete',
      summary: 'Delete groups and their committed offsets (the groups must have no active members).',
      usage: 'sluice groups delete GROUP...',
      options: [{ name: 'group', type: 'string', short: 'g', value: 'GROUP', description: 'Group to delete (or give it as an argument)' }, ...COMMON],
      async run(ctx) {
        const ids = groupIds(ctx.positionals, ctx.values);
        return withClient(ctx.values, async (client) => {
          for (const g of ids) {
            await client.deleteGroups([g]);
            ctx.stdout.write(`Deleted group ${g}.\n`);
          }
          return 0;
        });
      },
    },
    {
      name: 'reset-offsets',
      summary: 'Move a group\'s committed offsets for a topic. Prints the plan; applies it only with --execute.',
      usage: 'sluice groups reset-offsets --group G --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO) [--partition N] [--dry-run | --execute]',
      details:
        'As with Kafka\'s tool, nothing changes without --execute (--dry-run only prints the plan). The group\n' +
        'must have no active members. --to-offset is clamped to each partition\'s [log start, log end].',
      options: [
        { name: 'group', type: 'string', short: 'g', value: 'GROUP', description: 'Consumer group' },
        { name: 'topic', type: 'string', short: 't', value: 'TOPIC', description: 'Topic whose offsets move' },
        { name: 'partition', type: 'string', short: 'p', value: 'N', description: 'Only this partition (default: all)' },
        { name: 'to-earliest', type: 'boolean', description: 'To the log start offset' },
        { name: 'to-latest', type: 'boolean', description: 'To the log end offset' },
        { name: 'to-offset', type: 'string', value: 'N', description: 'To offset N' },
        { name: 'to-datetime', type: 'string', value: 'ISO', description: 'To the first offset with timestamp >= ISO-8601 time' },
        { name: 'dry-run', type: 'boolean', description: 'Only print the plan (the default)' },
        { name: 'execute', type: 'boolean', description: 'Commit the new offsets' },
        ...COMMON,
      ],
      async run(ctx) {
        noPositionals(ctx);
        const { values } = ctx;
        const groupId = str(values, 'group');
        const topic = str(values, 'topic');
        if (!groupId) throw new UsageError('missing --group');
        if (!topic) throw new UsageError('missing --topic');
        const toOffset = offsetFlag(values, 'to-offset');
        const toTime = timeFlag(values, 'to-datetime');
        const strategies = [bool(values, 'to-earliest'), bool(values, 'to-latest'), toOffset !== undefined, toTime !== undefined].filter(Boolean).length;
        if (strategies !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset and --to-datetime');
        if (bool(values, 'dry-run') && bool(values, 'execute')) throw new UsageError('--dry-run and --execute exclude each other');
        const partitionFlag = str(values, 'partition');
        if (partitionFlag !== undefined && !/^\d+$/.test(partitionFlag)) throw new UsageError(`--partition expects a partition number, got "${partitionFlag}"`);
        const execute = bool(values, 'execute');

        return withClient(values, async (client) => {
          const t = await client.topic(topic, { refresh: true });
          let partitions = t.partitions.map((p) => p.partition);
          if (partitionFlag !== undefined) {
            const p = Number(partitionFlag);
            if (!partitions.includes(p)) throw new KafkaProtocolError(3, `partition ${p} of topic '${topic}' (the topic has ${partitions.length})`);
            partitions = [p];
          }
          const [desc] = await client.describeGroups([groupId]);
          if (desc && (ACTIVE_STATES.has(desc.state) || desc.members.length > 0)) {
            throw new Error(`group '${groupId}' has active members (state ${desc.state}); stop its consumers before resetting offsets`);
          }
          const tps = partitions.map((partition) => ({ topic, partition }));
          const [starts, ends, committed] = await Promise.all([
            client.listOffsets(tps.map((p) => ({ ...p, timestamp: EARLIEST_TIMESTAMP }))),
            client.listOffsets(tps.map((p) => ({ ...p, timestamp: LATEST_TIMESTAMP }))),
            client.offsetFetch(groupId, tps),
          ]);
          const start = new Map(starts.map((o) => [o.partition, o.offset]));
          const end = new Map(ends.map((o) => [o.partition, o.offset]));
          let target = new Map<number, bigint>();
          if (bool(values, 'to-earliest')) target = start;
          else if (bool(values, 'to-latest')) target = end;
          else if (toOffset !== undefined) {
            for (const p of partitions) {
              const lo = start.get(p)!;
              const hi = end.get(p)!;
              target.set(p, toOffset < lo ? lo : toOffset > hi ? hi : toOffset);
            }
          } else {
            for (const r of await client.listOffsets(tps.map((p) => ({ ...p, timestamp: toTime! })))) target.set(r.partition, r.offset >= 0n ? r.offset : end.get(r.partition)!);
          }
          const cur = new Map(committed.map((c) => [c.partition, c.offset]));
          const rows = partitions.map((p) => [groupId, topic, String(p), cur.get(p) !== undefined && cur.get(p)! >= 0n ? String(cur.get(p)) : '-', String(target.get(p))]);
          ctx.stdout.write(table(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'], rows));
          if (!execute) {
            ctx.stderr.write('Dry run: nothing was changed (pass --execute to commit these offsets).\n');
            return 0;
          }
          await client.offsetCommit(groupId, partitions.map((p) => ({ topic, partition: p, offset: target.get(p)! })));
          ctx.stdout.write(`Committed new offsets for group ${groupId}.\n`);
          return 0;
        });
      },
    },
  ],
});
