/**
 * Configs: DescribeConfigs (topics and this broker), AlterConfigs (replaces a topic's overrides) and
 * IncrementalAlterConfigs (SET / DELETE / APPEND / SUBTRACT). Broker configs are static here: they are
 * described, not altered.
 */
import type {
  AlterConfigsRequest,
  AlterConfigsResponseInput,
  DescribeConfigsRequest,
  DescribeConfigsResponseInput,
  DescribeConfigsResponseResourceResultInput,
  DescribeConfigsResponseResultInput,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import type { TopicDescription } from '../../../engine/types.js';
import { SluiceError } from '../../../errors.js';
import { parseLogConfig } from '../../../storage/config.js';
import { ErrorCode, errorCodeOf, errorMessageOf, type BrokerContext, type RequestContext } from '../context.js';

/** Kafka's ConfigSource ids (DescribeConfigs v1+). */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigResource types. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

/** Kafka's ConfigType ids (DescribeConfigs v3+). */
const ConfigType = { UNKNOWN: 0, BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

/** Topic configs whose values are comma-separated lists (the only ones APPEND/SUBTRACT apply to). */
const LIST_CONFIGS = new Set(['cleanup.policy', 'leader.replication.throttled.replicas', 'follower.replication.throttled.replicas']);
const INT_CONFIGS = new Set(['max.message.bytes', 'segment.index.bytes', 'index.interval.bytes', 'min.insync.replicas', 'num.partitions', 'broker.id', 'node.id', 'socket.request.max.bytes', 'offsets.topic.num.partitions', 'default.replication.factor', 'group.initial.rebalance.delay.ms', 'group.min.session.timeout.ms', 'group.max.session.timeout.ms', 'port']);

function configTypeOf(name: string, value: string | null): number {
  if (LIST_CONFIGS.has(name)) return ConfigType.LIST;
  if (INT_CONFIGS.has(name)) return ConfigType.INT;
  if (value === null) return ConfigType.UNKNOWN;
  if (value === 'true' || value === 'false') return ConfigType.BOOLEAN;
  if (/^-?\d+$/.test(value)) return ConfigType.LONG;
  if (/^-?\d*\.\d+$/.test(value)) return ConfigType.DOUBLE;
  return ConfigType.STRING;
}

export async function handleDescribeConfigs(
  ctx: BrokerContext,
  req: DescribeConfigsRequest,
  rc: RequestContext,
): Promise<DescribeConfigsResponseInput> {
  const v = rc.apiVersion;
  const results: DescribeConfigsResponseResultInput[] = [];
  for (const res of req.resources) {
    const base = { resourceType: res.resourceType, resourceName: res.resourceName };
    const wanted = res.configurationKeys === null ? null : new Set(res.configurationKeys);
    const entry = (name: string, value: string | null, source: number, readOnly: boolean): DescribeConfigsResponseResourceResultInput => ({
      name,
      value,
      readOnly,
      isDefault: source === ConfigSource.DEFAULT_CONFIG,
      configSource: source,
      isSensitive: false,
      synonyms: v >= 1 && req.includeSynonyms ? [{ name, value, source }] : [],
      configType: configTypeOf(name, value),
      documentation: null,
    });
    try {
      if (res.resourceType === ResourceType.TOPIC) {
        const d = await ctx.engine.describeTopic(res.resourceName);
        const configs = Object.keys(d.configs)
          .sort()
          .filter((k) => wanted === null || wanted.has(k))
          .map((k) =>
            entry(k, d.configs[k] ?? null, k in d.overrides ? ConfigSource.DYNAMIC_TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG, false),
          );
        results.push({ ...base, errorCode: 0, errorMessage: null, configs });
      } else if (res.resourceType === ResourceType.BROKER) {
        if (res.resourceName !== '' && res.resourceName !== String(ctx.brokerId)) {
          results.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown broker ${res.resourceName}`, configs: [] });
          continue;
        }
        const configs = [...ctx.brokerConfigs.keys()]
          .sort()
          .filter((k) => wanted === null || wanted.has(k))
          .map((k) => entry(k, ctx.brokerConfigs.get(k) ?? null, ConfigSource.STATIC_BROKER_CONFIG, true));
        results.push({ ...base, errorCode: 0, errorMessage: null, configs });
      } else {
        results.push({
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `resource type ${res.resourceType} is not supported`,
          configs: [],
        });
      }
    } catch (err) {
      results.push({ ...base, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err), configs: [] });
    }
  }
  return { throttleTimeMs: 0, results };
}

interface ResourceResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/** Checks a topic's complete new override set and applies it as a diff against the current one. */
async function applyTopicOverrides(
  ctx: BrokerContext,
  topic: string,
  current: Record<string, string>,
  next: Record<string, string>,
  validateOnly: boolean,
): Promise<void> {
  parseLogConfig(next); // throws ConfigError (INVALID_CONFIG) naming the bad key
  const changes: Record<string, string | null> = {};
  for (const k of Object.keys(current)) if (!(k in next)) changes[k] = null;
  for (const [k, val] of Object.entries(next)) if (current[k] !== val) changes[k] = val;
  if (validateOnly || Object.keys(changes).length === 0) return;
  await ctx.engine.alterTopicConfig(topic, changes);
}

function nonTopic(res: { resourceType: number; resourceName: string }): ResourceResult {
  const message =
    res.resourceType === ResourceType.BROKER || res.resourceType === ResourceType.BROKER_LOGGER
      ? 'broker configs are static on this broker'
      : `resource type ${res.resourceType} is not supported`;
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message, resourceType: res.resourceType, resourceName: res.resourceName };
}

/**
 * The shared shape of AlterConfigs and IncrementalAlterConfigs: per topic resource, compute the new overrides
 * from the current description, apply them (or only validate), and answer per resource.
 */
async function alterTopicResources<R extends { resourceType: number; resourceName: string }>(
  ctx: BrokerContext,
  resources: readonly R[],
  validateOnly: boolean,
  nextOverrides: (res: R, current: TopicDescription) => Record<string, string>,
): Promise<ResourceResult[]> {
  const responses: ResourceResult[] = [];
  for (const res of resources) {
    if (res.resourceType !== ResourceType.TOPIC) {
      responses.push(nonTopic(res));
      continue;
    }
    try {
      const d = await ctx.engine.describeTopic(res.resourceName);
      await applyTopicOverrides(ctx, res.resourceName, d.overrides, nextOverrides(res, d), validateOnly);
      responses.push({ errorCode: 0, errorMessage: null, resourceType: res.resourceType, resourceName: res.resourceName });
    } catch (err) {
      responses.push({ errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err), resourceType: res.resourceType, resourceName: res.resourceName });
    }
  }
  return responses;
}

export async function handleAlterConfigs(ctx: BrokerContext, req: AlterConfigsRequest, _rc: RequestContext): Promise<AlterConfigsResponseInput> {
  const responses = await alterTopicResources(ctx, req.resources, req.validateOnly, (res) => {
    const next: Record<string, string> = {};
    for (const c of res.configs) {
      if (c.name in next) throw new SluiceError('INVALID_ARGUMENT', `config ${c.name} is given twice`);
      if (c.value !== null) next[c.name] = c.value;
    }
    return next;
  });
  return { throttleTimeMs: 0, responses };
}

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

export async function handleIncrementalAlterConfigs(
  ctx: BrokerContext,
  req: IncrementalAlterConfigsRequest,
  _rc: RequestContext,
): Promise<IncrementalAlterConfigsResponseInput> {
  const responses = await alterTopicResources(ctx, req.resources, req.validateOnly, (res, d) => {
    const next: Record<string, string> = { ...d.overrides };
    const seen = new Set<string>();
    for (const c of res.configs) {
      if (seen.has(c.name)) throw new SluiceError('INVALID_ARGUMENT', `config ${c.name} is altered twice`);
      seen.add(c.name);
      switch (c.configOperation) {
        case OP_SET:
          if (c.value === null) throw new SluiceError('INVALID_CONFIG', `config ${c.name}: SET needs a value`);
          next[c.name] = c.value;
          break;
        case OP_DELETE:
          delete next[c.name];
          break;
        case OP_APPEND:
        case OP_SUBTRACT: {
          if (!LIST_CONFIGS.has(c.name)) {
            throw new SluiceError('INVALID_CONFIG', `config ${c.name} is not a list: APPEND/SUBTRACT do not apply`);
          }
          const currentValue = next[c.name] ?? d.configs[c.name] ?? '';
          const items = currentValue.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
          const given = (c.value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
          const result =
            c.configOperation === OP_APPEND
              ? [...items, ...given.filter((g) => !items.includes(g))]
              : items.filter((i) => !given.includes(i));
          next[c.name] = result.join(',');
          break;
        }
        default:
          throw new SluiceError('INVALID_ARGUMENT', `unknown config operation ${c.configOperation}`);
      }
    }
    return next;
  });
  return { throttleTimeMs: 0, responses };
}
