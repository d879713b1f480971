/**
 * Metadata: this broker is the only broker, the controller and the leader of every partition. Unknown
 * topics are created when the request allows it (v4+ flag; always for v0-3) and the broker has
 * auto.create.topics.enable, as Kafka does.
 */
import type {
  MetadataRequest,
  MetadataResponseInput,
  MetadataResponsePartitionInput,
  MetadataResponseTopicInput,
} from '../../../kafka-protocol/generated/index.js';
import {
  ErrorCode,
  errorCodeOf,
  isInternalTopic,
  isUnknownTopic,
  type BrokerContext,
  type RequestContext,
} from '../context.js';
import { ZERO_UUID } from '../../../kafka-protocol/reader.js';
import { autoCreateTopic } from './topics.js';

export async function handleMetadata(ctx: BrokerContext, req: MetadataRequest, rc: RequestContext): Promise<MetadataResponseInput> {
  const v = rc.apiVersion;
  const engine = ctx.engine;
  const withIds = v >= 10;
  const topics: MetadataResponseTopicInput[] = [];
  // The engine hides internal topics from a plain listTopics(): the difference is the internal set.
  const visible = new Set(engine.listTopics());
  const internal = new Set(engine.listTopics({ includeInternal: true }).filter((n) => !visible.has(n)));
  // v0: an empty list means all topics; v1+: null means all topics.
  const all = req.topics === null || (v === 0 && req.topics.length === 0);
  if (all) {
    for (const name of engine.listTopics({ includeInternal: true })) {
      const t = await describeForMetadata(ctx, name, withIds, internal);
      if (t.errorCode === ErrorCode.NONE) topics.push(t);
    }
  } else {
    const allowAuto = (v < 4 || req.allowAutoTopicCreation) && ctx.autoCreateTopics;
    for (const rt of req.topics ?? []) {
      let name = rt.name;
      if (name === null) {
        const id = rt.topicId;
        name = id !== ZERO_UUID ? ((await ctx.topicIds.nameOf(id)) ?? null) : null;
        if (name === null) {
          topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: id, isInternal: false, partitions: [] });
          continue;
        }
      }
      if (!engine.hasTopic(name) && allowAuto) {
        const code = await autoCreateTopic(ctx, name);
        if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS) {
          topics.push({ errorCode: code, name, topicId: ZERO_UUID, isInternal: false, partitions: [] });
          continue;
        }
      }
      topics.push(await describeForMetadata(ctx, name, withIds, internal));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: ctx.brokerId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
    clusterId: ctx.clusterId,
    controllerId: ctx.brokerId,
    topics,
  };
}

async function describeForMetadata(ctx: BrokerContext, name: string, withIds: boolean, internal: Set<string>): Promise<MetadataResponseTopicInput> {
  try {
    const count = ctx.engine.partitionCount(name);
    const topicId = withIds ? await ctx.topicIds.idOf(name) : ZERO_UUID;
    const partitions: MetadataResponsePartitionInput[] = [];
    for (let p = 0; p < count; p++) {
      const { leader, leaderEpoch } = ctx.engine.leadership(name, p);
      partitions.push({
        errorCode: 0,
        partitionIndex: p,
        leaderId: leader,
        leaderEpoch,
        replicaNodes: [leader],
        isrNodes: [leader],
        offlineReplicas: [],
      });
    }
    return { errorCode: 0, name, topicId, isInternal: isInternalTopic(name, internal.has(name)), partitions };
  } catch (err) {
    const code = isUnknownTopic(err) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : errorCodeOf(err);
    return { errorCode: code, name, topicId: ZERO_UUID, isInternal: false, partitions: [] };
  }
}

