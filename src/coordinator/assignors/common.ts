/** Helpers shared by the assignors. */
import type { Assignment, GroupMember } from '../types.js';

/** Java's String.compareTo: by UTF-16 code units, which is what JS `<` compares too. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Kafka's MemberInfo ordering: static members (with a group.instance.id) first, by instance id; then dynamic
 * members by member id.
 */
export function compareMembers(a: GroupMember, b: GroupMember): number {
  const ai = a.groupInstanceId ?? null;
  const bi = b.groupInstanceId ?? null;
  if (ai !== null && bi !== null) return compareStrings(ai, bi) || compareStrings(a.memberId, b.memberId);
  if (ai !== null) return -1;
  if (bi !== null) return 1;
  return compareStrings(a.memberId, b.memberId);
}

/** An assignment with an (empty) entry for every member. */
export function emptyAssignment(members: GroupMember[]): Assignment {
  const out: Assignment = new Map();
  for (const m of members) out.set(m.memberId, []);
  return out;
}

/** Subscribed topics that exist, sorted. */
export function subscribedTopics(members: GroupMember[], partitionsPerTopic: Map<string, number>): string[] {
  const set = new Set<string>();
  for (const m of members) for (const t of m.topics) if ((partitionsPerTopic.get(t) ?? 0) > 0) set.add(t);
  return [...set].sort(compareStrings);
}

export function tpKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}
