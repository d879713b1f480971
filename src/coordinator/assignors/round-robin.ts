/**
 * Kafka's RoundRobinAssignor ("roundrobin"): all subscribed topic-partitions, sorted by topic then partition,
 * dealt in turn over the members in MemberInfo order; a member not subscribed to a partition's topic is
 * skipped for that partition (the dealing position still moves past it).
 */
import type { Assignment, GroupMember, PartitionAssignor } from '../types.js';
import { compareMembers, emptyAssignment, subscribedTopics } from './common.js';

export function assignRoundRobin(members: GroupMember[], partitionsPerTopic: Map<string, number>): Assignment {
  const out = emptyAssignment(members);
  const sorted = [...members].sort(compareMembers);
  const subs = sorted.map((m) => new Set(m.topics));
  let next = 0; // Kafka's CircularIterator position
  for (const topic of subscribedTopics(members, partitionsPerTopic)) {
    const n = partitionsPerTopic.get(topic)!;
    for (let p = 0; p < n; p++) {
      // subscribedTopics only lists topics someone subscribes to, so this loop ends.
      while (!subs[next]!.has(topic)) next = (next + 1) % sorted.length;
      out.get(sorted[next]!.memberId)!.push({ topic, partition: p });
      next = (next + 1) % sorted.length;
    }
  }
  return out;
}

export const RoundRobinAssignor: PartitionAssignor = { name: 'roundrobin', assign: assignRoundRobin };
