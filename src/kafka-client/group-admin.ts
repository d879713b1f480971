/**
 * Consumer groups seen from outside (the `sluice groups` view): list, describe and delete groups, read and
 * commit their offsets, each at the group's coordinator. A member of a group is `GroupMember` (group.ts).
 */
import { decodeConsumerProtocolAssignmentBytes, decodeConsumerProtocolSubscriptionBytes } from '../kafka-protocol/generated/index.js';
import { KafkaErrors } from '../kafka-protocol/error-codes.js';
import { groupByTopic, type Cluster } from './cluster.js';
import { KafkaProtocolError, checkKafkaError } from './errors.js';
import type {
  WireCommittedOffset,
  DescribedGroup,
  DescribedGroupMember,
  ListedGroup,
  WireOffsetCommitEntry,
  OffsetCommitOptions,
  TopicPartition,
  TopicPartitions,
} from './types.js';

/** Every group of every broker. */
export async function listGroups(cluster: Cluster): Promise<ListedGroup[]> {
  const per = await Promise.all(
    (await cluster.brokerIds()).map(async (node) => {
      const resp = await cluster.send('ListGroups', { statesFilter: [], typesFilter: [] }, node);
      checkKafkaError(resp.errorCode, `ListGroups from broker ${node}`);
      return resp.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState, coordinator: node }));
    }),
  );
  return per.flat().sort((a, b) => a.groupId.localeCompare(b.groupId));
}

/** Describes groups; an unknown group comes back in state "Dead" with no members, as Kafka reports it. */
export async function describeGroups(cluster: Cluster, groupIds: readonly string[]): Promise<DescribedGroup[]> {
  return Promise.all(
    groupIds.map(async (groupId) => {
      const coordinator = await cluster.findCoordinator(groupId);
      const resp = await cluster.send('DescribeGroups', { groups: [groupId], includeAuthorizedOperations: false }, coordinator.nodeId);
      const g = resp.groups[0];
      if (!g) throw new KafkaProtocolError(KafkaErrors.UNKNOWN_SERVER_ERROR, `DescribeGroups '${groupId}': empty response`);
      checkKafkaError(g.errorCode, `group '${groupId}'`);
      const consumer = g.protocolType === 'consumer';
      return {
        groupId: g.groupId,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        coordinator,
        members: g.members.map((m): DescribedGroupMember => {
          let assignment: TopicPartitions[] = [];
          let subscribedTopics: string[] = [];
          if (consumer) {
            try {
              if (m.memberAssignment.length > 0) {
                assignment = decodeConsumerProtocolAssignmentBytes(m.memberAssignment).data.assignedPartitions.map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) }));
              }
              if (m.memberMetadata.length > 0) subscribedTopics = decodeConsumerProtocolSubscriptionBytes(m.memberMetadata).data.topics;
            } catch {
              // not decodable as the consumer protocol: show the member without its assignment
            }
          }
          return { memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost, assignment, subscribedTopics };
        }),
      };
    }),
  );
}

export async function deleteGroups(cluster: Cluster, groupIds: readonly string[]): Promise<void> {
  for (const groupId of groupIds) {
    const resp = await cluster.sendToCoordinator(groupId, 'DeleteGroups', { groupsNames: [groupId] });
    for (const r of resp.results) checkKafkaError(r.errorCode, `group '${r.groupId}'`);
  }
}

/** Committed offsets of a group: of the given partitions, or of everything it committed when omitted. */
export async function offsetFetch(cluster: Cluster, groupId: string, partitions?: readonly TopicPartition[]): Promise<WireCommittedOffset[]> {
  const coordinator = await cluster.findCoordinator(groupId);
  const conn = await cluster.brokerConnection(coordinator.nodeId);
  const v = conn.versionOf('OffsetFetch') ?? 0;
  if (v < 2 && !partitions) throw new KafkaProtocolError(KafkaErrors.UNSUPPORTED_VERSION, `broker ${conn.address} cannot list all committed offsets of a group (OffsetFetch v${v})`);
  const topics = partitions ? groupByTopic(partitions).map(([name, ps]) => ({ name, partitionIndexes: ps.map((p) => p.partition) })) : null;
  const resp = await conn.request(
    'OffsetFetch',
    v >= 8 ? { groups: [{ groupId, topics, memberId: null, memberEpoch: -1 }], requireStable: false } : { groupId, topics, requireStable: false },
  );
  const out: WireCommittedOffset[] = [];
  if (v >= 8) {
    const g = resp.groups[0];
    if (!g) throw new KafkaProtocolError(KafkaErrors.UNKNOWN_SERVER_ERROR, `OffsetFetch '${groupId}': empty response`);
    checkKafkaError(g.errorCode, `group '${groupId}'`);
    for (const t of g.topics) {
      for (const p of t.partitions) {
        checkKafkaError(p.errorCode, `committed offset of ${t.name}-${p.partitionIndex}`);
        out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
      }
    }
  } else {
    checkKafkaError(resp.errorCode, `group '${groupId}'`);
    for (const t of resp.topics) {
      for (const p of t.partitions) {
        checkKafkaError(p.errorCode, `committed offset of ${t.name}-${p.partitionIndex}`);
        out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
      }
    }
  }
  return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Commits offsets; by default as a simple consumer (generation -1, no member id), as reset-offsets does. */
export async function offsetCommit(cluster: Cluster, groupId: string, offsets: readonly WireOffsetCommitEntry[], opts: OffsetCommitOptions = {}): Promise<void> {
  if (offsets.length === 0) return;
  const resp = await cluster.sendToCoordinator(groupId, 'OffsetCommit', {
    groupId,
    generationIdOrMemberEpoch: opts.generationId ?? -1,
    memberId: opts.memberId ?? '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: groupByTopic(offsets).map(([name, ps]) => ({
      name,
      partitions: ps.map((p) => ({ partitionIndex: p.partition, committedOffset: p.offset, committedMetadata: p.metadata ?? null, committedLeaderEpoch: -1, commitTimestamp: -1n })),
    })),
  });
  for (const t of resp.topics) for (const p of t.partitions) checkKafkaError(p.errorCode, `commit of ${t.name}-${p.partitionIndex} for group '${groupId}'`);
}
