/** Topic admin: CreateTopics, DeleteTopics, CreatePartitions, and auto-creation on Metadata/Produce. */
import type {
  CreatePartitionsRequest,
  CreatePartitionsResponseInput,
  CreatePartitionsResponseTopicResultInput,
  CreateTopicsRequest,
  CreateTopicsRequestCreatableTopic,
  CreateTopicsResponseCreatableTopicResultInput,
  CreateTopicsResponseInput,
  DeleteTopicsRequest,
  DeleteTopicsResponseDeletableTopicResultInput,
  DeleteTopicsResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import { SluiceError, isSluiceError } from '../../../errors.js';
import { validateTopicName } from '../../../engine/topic-store.js';
import { logConfigToEntries, parseLogConfig } from '../../../storage/config.js';
import {
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  type BrokerContext,
  type RequestContext,
} from '../context.js';
import { ZERO_UUID } from '../../../kafka-protocol/reader.js';
import { ConfigSource } from './configs.js';

/**
 * Creates `name` with the broker's default partition count (auto.create.topics.enable). Returns a Kafka
 * error code: NONE when created, TOPIC_ALREADY_EXISTS when someone else won the race.
 */
export async function autoCreateTopic(ctx: BrokerContext, name: string): Promise<number> {
  try {
    const d = await ctx.engine.createTopic(name, { partitions: ctx.defaultPartitions });
    ctx.topicIds.remember(d.name, d.topicId);
    ctx.logger.info({ topic: name, partitions: ctx.defaultPartitions }, 'topic auto-created');
    return ErrorCode.NONE;
  } catch (err) {
    return errorCodeOf(err);
  }
}

export async function handleCreateTopics(
  ctx: BrokerContext,
  req: CreateTopicsRequest,
  rc: RequestContext,
): Promise<CreateTopicsResponseInput> {
  const v = rc.apiVersion;
  const results: CreateTopicsResponseCreatableTopicResultInput[] = [];
  const seen = new Map<string, number>();
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  for (const t of req.topics) {
    if ((seen.get(t.name) ?? 0) > 1) {
      // Kafka rejects every copy of a name listed twice.
      results.push(failure(t.name, ErrorCode.INVALID_REQUEST, `topic "${t.name}" appears more than once in the request`));
      continue;
    }
    results.push(await createOne(ctx, t, req.validateOnly, v));
  }
  return { throttleTimeMs: 0, topics: results };
}

function failure(name: string, errorCode: number, errorMessage: string): CreateTopicsResponseCreatableTopicResultInput {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null };
}

async function createOne(
  ctx: BrokerContext,
  t: CreateTopicsRequestCreatableTopic,
  validateOnly: boolean,
  v: number,
): Promise<CreateTopicsResponseCreatableTopicResultInput> {
  const name = t.name;
  let partitions = t.numPartitions;
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      return failure(name, ErrorCode.INVALID_REQUEST, 'numPartitions and replicationFactor must be -1 when assignments are given');
    }
    const indexes = new Set(t.assignments.map((a) => a.partitionIndex));
    for (let i = 0; i < t.assignments.length; i++) {
      if (!indexes.has(i)) return failure(name, ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partition assignments must cover 0..n-1');
    }
    for (const a of t.assignments) {
      if (a.brokerIds.length !== 1 || a.brokerIds[0] !== ctx.brokerId) {
        return failure(name, ErrorCode.INVALID_REPLICA_ASSIGNMENT, `this single-node cluster only has broker ${ctx.brokerId}`);
      }
    }
    partitions = t.assignments.length;
  } else {
    if (partitions === -1) partitions = ctx.defaultPartitions;
    if (partitions <= 0) return failure(name, ErrorCode.INVALID_PARTITIONS, `number of partitions must be larger than 0, got ${t.numPartitions}`);
    if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
      const message =
        t.replicationFactor <= 0
          ? `replication factor must be larger than 0, got ${t.replicationFactor}`
          : `replication factor: ${t.replicationFactor} larger than available brokers: 1`;
      return failure(name, ErrorCode.INVALID_REPLICATION_FACTOR, message);
    }
  }
  const configs: Record<string, string> = {};
  for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
  try {
    if (validateOnly) {
      validateTopicName(name);
      if (ctx.engine.hasTopic(name)) throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic "${name}" already exists`);
      // A pure check of names and values (no engine state): the same parser the engine applies on create.
      const effective = logConfigToEntries(parseLogConfig(configs));
      return {
        name,
        topicId: ZERO_UUID,
        errorCode: 0,
        errorMessage: null,
        numPartitions: partitions,
        replicationFactor: 1,
        configs: v >= 5 ? configEntries(effective, configs) : null,
      };
    }
    const d = await ctx.engine.createTopic(name, { partitions, configs });
    ctx.topicIds.remember(d.name, d.topicId);
    return {
      name,
      topicId: d.topicId,
      errorCode: 0,
      errorMessage: null,
      numPartitions: d.partitions.length,
      replicationFactor: 1,
      configs: configEntries(d.configs, d.overrides),
    };
  } catch (err) {
    if (!isSluiceError(err)) ctx.logger.warn({ err, topic: name }, 'create topic failed');
    return failure(name, errorCodeOf(err), errorMessageOf(err));
  }
}

function configEntries(configs: Record<string, string>, overrides: Record<string, string>) {
  return Object.keys(configs)
    .sort()
    .map((name) => ({
      name,
      value: configs[name] ?? null,
      readOnly: false,
      configSource: name in overrides ? ConfigSource.DYNAMIC_TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG,
      isSensitive: false,
    }));
}

export async function handleDeleteTopics(
  ctx: BrokerContext,
  req: DeleteTopicsRequest,
  rc: RequestContext,
): Promise<DeleteTopicsResponseInput> {
  const v = rc.apiVersion;
  const targets: { name: string | null; topicId: string }[] =
    v >= 6 ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId })) : req.topicNames.map((n) => ({ name: n, topicId: ZERO_UUID }));
  const responses: DeleteTopicsResponseDeletableTopicResultInput[] = [];
  for (const t of targets) {
    let name = t.name;
    let topicId = t.topicId;
    if (name === null || name === '') {
      name = topicId !== ZERO_UUID ? ((await ctx.topicIds.nameOf(topicId)) ?? null) : null;
      if (name === null) {
        responses.push({ name: null, topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: `unknown topic id ${topicId}` });
        continue;
      }
    }
    try {
      if (topicId === ZERO_UUID && v >= 6) topicId = await ctx.topicIds.idOf(name);
      await ctx.engine.deleteTopic(name);
      ctx.topicIds.forget(name);
      responses.push({ name, topicId, errorCode: 0, errorMessage: null });
    } catch (err) {
      responses.push({ name, topicId, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err) });
    }
  }
  return { throttleTimeMs: 0, responses };
}

export async function handleCreatePartitions(
  ctx: BrokerContext,
  req: CreatePartitionsRequest,
  _rc: RequestContext,
): Promise<CreatePartitionsResponseInput> {
  const results: CreatePartitionsResponseTopicResultInput[] = [];
  for (const t of req.topics) {
    try {
      const current = ctx.engine.partitionCount(t.name);
      if (t.count <= current) {
        results.push({
          name: t.name,
          errorCode: ErrorCode.INVALID_PARTITIONS,
          errorMessage: `topic currently has ${current} partitions, which is higher than the requested ${t.count}`,
        });
        continue;
      }
      if (t.assignments !== null) {
        const bad =
          t.assignments.length !== t.count - current ||
          t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== ctx.brokerId);
        if (bad) {
          results.push({ name: t.name, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'invalid replica assignment' });
          continue;
        }
      }
      if (!req.validateOnly) await ctx.engine.addPartitions(t.name, t.count);
      results.push({ name: t.name, errorCode: 0, errorMessage: null });
    } catch (err) {
      results.push({ name: t.name, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err) });
    }
  }
  return { throttleTimeMs: 0, results };
}
