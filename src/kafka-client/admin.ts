/**
 * Admin requests of the wire client: topics, partitions, configs and log directories. They go to the
 * controller when it is known; a topic they change is dropped from the cluster view.
 */
import { ZERO_UUID } from '../kafka-protocol/reader.js';
import { groupByTopic, type Cluster } from './cluster.js';
import { checkKafkaError } from './errors.js';
import type {
  ConfigChanges,
  ConfigEntry,
  ConfigResource,
  ConfigResourceType,
  ConfigSourceName,
  CreateTopicResult,
  CreateTopicSpec,
  LogDirPartition,
  ResourceConfigs,
  TopicPartition,
} from './types.js';

const RESOURCE_TYPE: Readonly<Record<ConfigResourceType, number>> = { topic: 2, broker: 4 };
const CONFIG_SOURCES: readonly ConfigSourceName[] = [
  'UNKNOWN',
  'DYNAMIC_TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
];

export async function createTopics(cluster: Cluster, specs: readonly CreateTopicSpec[], opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<CreateTopicResult[]> {
  const resp = await cluster.send(
    'CreateTopics',
    {
      topics: specs.map((s) => ({
        name: s.name,
        numPartitions: s.numPartitions ?? -1,
        replicationFactor: s.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: opts.timeoutMs ?? 30_000,
      validateOnly: opts.validateOnly ?? false,
    },
    cluster.adminNode(),
  );
  for (const t of resp.topics) checkKafkaError(t.errorCode, `topic '${t.name}'`, t.errorMessage);
  for (const s of specs) cluster.forgetTopic(s.name);
  return resp.topics.map((t) => ({ name: t.name, topicId: t.topicId, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor }));
}

export async function deleteTopics(cluster: Cluster, names: readonly string[], opts: { timeoutMs?: number } = {}): Promise<void> {
  const resp = await cluster.send(
    'DeleteTopics',
    { topics: names.map((name) => ({ name, topicId: ZERO_UUID })), topicNames: names, timeoutMs: opts.timeoutMs ?? 30_000 },
    cluster.adminNode(),
  );
  for (const n of names) cluster.forgetTopic(n);
  for (const r of resp.responses) checkKafkaError(r.errorCode, `topic '${r.name ?? r.topicId}'`, r.errorMessage);
}

/** Grows a topic to `count` partitions in total. */
export async function createPartitions(cluster: Cluster, topic: string, count: number, opts: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<void> {
  const resp = await cluster.send(
    'CreatePartitions',
    { topics: [{ name: topic, count, assignments: null }], timeoutMs: opts.timeoutMs ?? 30_000, validateOnly: opts.validateOnly ?? false },
    cluster.adminNode(),
  );
  cluster.forgetTopic(topic);
  for (const r of resp.results) checkKafkaError(r.errorCode, `topic '${r.name}'`, r.errorMessage);
}

export async function describeConfigs(cluster: Cluster, resources: readonly ConfigResource[]): Promise<ResourceConfigs[]> {
  const resp = await cluster.send(
    'DescribeConfigs',
    {
      resources: resources.map((r) => ({ resourceType: RESOURCE_TYPE[r.type], resourceName: r.name, configurationKeys: r.keys ? [...r.keys] : null })),
      includeSynonyms: false,
      includeDocumentation: false,
    },
    resources.find((r) => r.type === 'broker') ? Number(resources.find((r) => r.type === 'broker')!.name) : cluster.adminNode(),
  );
  return resp.results.map((r) => {
    const type: ConfigResourceType = r.resourceType === RESOURCE_TYPE.broker ? 'broker' : 'topic';
    checkKafkaError(r.errorCode, `${type} '${r.resourceName}'`, r.errorMessage);
    return {
      type,
      name: r.resourceName,
      entries: r.configs.map((c): ConfigEntry => {
        // v0 has no configSource, only isDefault
        const source = c.configSource > 0 ? CONFIG_SOURCES[c.configSource] ?? 'UNKNOWN' : c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN';
        return { name: c.name, value: c.value, readOnly: c.readOnly, isDefault: c.isDefault || source === 'DEFAULT_CONFIG', isSensitive: c.isSensitive, source };
      }),
    };
  });
}

/**
 * Sets (string) or removes (null) config overrides of one resource, leaving other overrides alone. Uses
 * IncrementalAlterConfigs; on brokers without it, emulates it with DescribeConfigs + AlterConfigs.
 */
export async function alterConfigs(cluster: Cluster, resource: { type: ConfigResourceType; name: string }, changes: ConfigChanges): Promise<void> {
  const resourceType = RESOURCE_TYPE[resource.type];
  const conn = await cluster.anyConnection();
  if (conn.supports('IncrementalAlterConfigs')) {
    const resp = await cluster.send(
      'IncrementalAlterConfigs',
      {
        resources: [
          {
            resourceType,
            resourceName: resource.name,
            configs: Object.entries(changes).map(([name, value]) => ({ name, configOperation: value === null ? 1 : 0, value })),
          },
        ],
        validateOnly: false,
      },
      cluster.adminNode(),
    );
    for (const r of resp.responses) checkKafkaError(r.errorCode, `${resource.type} '${r.resourceName}'`, r.errorMessage);
    return;
  }
  // AlterConfigs replaces the whole set of overrides: start from the current dynamic ones
  const [current] = await describeConfigs(cluster, [{ type: resource.type, name: resource.name }]);
  const merged = new Map<string, string | null>();
  for (const e of current!.entries) if (e.source === 'DYNAMIC_TOPIC_CONFIG' || e.source === 'DYNAMIC_BROKER_CONFIG') merged.set(e.name, e.value);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) merged.delete(k);
    else merged.set(k, v);
  }
  const resp = await cluster.send(
    'AlterConfigs',
    { resources: [{ resourceType, resourceName: resource.name, configs: [...merged].map(([name, value]) => ({ name, value })) }], validateOnly: false },
    cluster.adminNode(),
  );
  for (const r of resp.responses) checkKafkaError(r.errorCode, `${resource.type} '${r.resourceName}'`, r.errorMessage);
}

/**
 * Log directories and partition sizes (DescribeLogDirs), asked of every broker leading one of the
 * partitions (all topics of every known broker when `partitions` is omitted). Undefined when a broker
 * asked does not serve DescribeLogDirs; partitions a broker does not host are left out.
 */
export async function describeLogDirs(cluster: Cluster, partitions?: readonly TopicPartition[]): Promise<LogDirPartition[] | undefined> {
  let targets: [number, TopicPartition[] | null][];
  if (partitions === undefined) {
    targets = (await cluster.brokerIds()).map((node) => [node, null]);
  } else {
    targets = [...(await cluster.byLeader(partitions))];
  }
  const conns = await Promise.all(targets.map(async ([node]) => cluster.brokerConnection(node)));
  if (conns.some((c) => !c.supports('DescribeLogDirs'))) return undefined;
  const parts = await Promise.all(
    targets.map(async ([node, items], i) => {
      const topics = items === null ? null : groupByTopic(items).map(([topic, ps]) => ({ topic, partitions: ps.map((p) => p.partition) }));
      const resp = await conns[i]!.request('DescribeLogDirs', { topics });
      checkKafkaError(resp.errorCode, `DescribeLogDirs on broker ${node}`);
      const res: LogDirPartition[] = [];
      for (const d of resp.results) {
        checkKafkaError(d.errorCode, `log dir ${d.logDir} on broker ${node}`);
        for (const t of d.topics) {
          for (const p of t.partitions) {
            res.push({
              broker: node,
              logDir: d.logDir,
              topic: t.name,
              partition: p.partitionIndex,
              sizeBytes: p.partitionSize,
              offsetLag: p.offsetLag,
              isFuture: p.isFutureKey,
            });
          }
        }
      }
      return res;
    }),
  );
  return parts.flat();
}
