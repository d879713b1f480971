/**
 * Kafka's RangeAssignor ("range"): per topic, the subscribed members in MemberInfo order get contiguous
 * ranges of partitions; the first (numPartitions % numMembers) members get one extra.
 */
import type { Assignment, GroupMember, PartitionAssignor } from '../types.js';
import { compareMembers, emptyAssignment, subscribedTopics } from './common.js';

export function assignRange(members: GroupMember[], partitionsPerTopic: Map<string, number>): Assignment {
  const out = emptyAssignment(members);
  const sorted = [...members].sort(compareMembers);
  for (const topic of subscribedTopics(members, partitionsPerTopic)) {
    const n = partitionsPerTopic.get(topic)!;
    const subs = sorted.filter((m) => m.topics.includes(topic));
    const per = Math.floor(n / subs.length);
    const extra = n % subs.length;
    for (let i = 0; i < subs.length; i++) {
      const start = per * i + Math.min(i, extra);
      const len = per + (i < extra ? 1 : 0);
      const list = out.get(subs[i]!.memberId)!;
      for (let p = start; p < start + len; p++) list.push({ topic, partition: p });
    }
  }
  return out;
}

export const RangeAssignor: PartitionAssignor = { name: 'range', assign: assignRange };
