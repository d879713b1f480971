/**
 * Kafka's StickyAssignor ("sticky") and CooperativeStickyAssignor ("cooperative-sticky").
 *
 * Goals, in Kafka's order: (1) balance — no member could take a partition it subscribes to from a member
 * holding at least two more partitions; (2) stickiness — keep as many previously owned partitions where
 * they were as balance allows. The algorithm:
 *   1. every member keeps the partitions it owned that still exist and that it still subscribes to (when two
 *      members claim one, the higher generation wins);
 *   2. unowned partitions go, fewest-candidates first, to the eligible member holding the fewest partitions;
 *   3. while some member could take a partition from a member with ≥ 2 more, move one — preferring
 *      partitions that member did not own before, so owned partitions move only when balance requires it.
 * Each move lowers the sum of squared counts, so step 3 ends, and when it ends the assignment is balanced in
 * Kafka's sense (AbstractStickyAssignor.isBalanced). On fresh groups this reproduces the javadoc examples.
 *
 * The cooperative variant then withholds every partition moving from one live owner to another: the owner
 * revokes it first and a follow-up rebalance hands it over (KIP-429).
 */
import type { Assignment, GroupMember, PartitionAssignor } from '../types.js';
import { compareMembers, compareStrings, emptyAssignment, subscribedTopics, tpKey } from './common.js';

interface PartitionSlot {
  topic: string;
  partition: number;
  /** Member indexes (in sorted member order) subscribed to the topic. */
  eligible: number[];
  /** Member index that owned it before, after conflict resolution, or -1. */
  prevOwner: number;
  owner: number;
}

function stickyAssign(members: GroupMember[], partitionsPerTopic: Map<string, number>, cooperative: boolean): Assignment {
  const out = emptyAssignment(members);
  if (members.length === 0) return out;
  const sorted = [...members].sort(compareMembers);
  const topics = subscribedTopics(members, partitionsPerTopic);

  // Slots for every subscribed partition, with their eligible members.
  const slots: PartitionSlot[] = [];
  const slotByKey = new Map<string, PartitionSlot>();
  const subsByTopic = new Map<string, number[]>();
  for (const t of topics) subsByTopic.set(t, []);
  sorted.forEach((m, i) => {
    for (const t of new Set(m.topics)) subsByTopic.get(t)?.push(i);
  });
  for (const t of topics) {
    const eligible = subsByTopic.get(t)!;
    const n = partitionsPerTopic.get(t)!;
    for (let p = 0; p < n; p++) {
      const s: PartitionSlot = { topic: t, partition: p, eligible, prevOwner: -1, owner: -1 };
      slots.push(s);
      slotByKey.set(tpKey(t, p), s);
    }
  }

  // 1. Keep valid owned partitions; the highest generation wins a contested partition.
  const held: PartitionSlot[][] = sorted.map(() => []);
  const byGeneration = sorted.map((_, i) => i).sort((a, b) => (sorted[b]!.generation ?? -1) - (sorted[a]!.generation ?? -1) || a - b);
  for (const i of byGeneration) {
    const m = sorted[i]!;
    const subscribed = new Set(m.topics);
    for (const tp of m.ownedPartitions ?? []) {
      const s = slotByKey.get(tpKey(tp.topic, tp.partition));
      if (!s || s.owner !== -1 || !subscribed.has(tp.topic)) continue;
      s.owner = i;
      s.prevOwner = i;
      held[i]!.push(s);
    }
  }

  // 2. Unowned partitions, most constrained first, to the least loaded eligible member.
  const unowned = slots.filter((s) => s.owner === -1);
  unowned.sort((a, b) => a.eligible.length - b.eligible.length || compareStrings(a.topic, b.topic) || a.partition - b.partition);
  for (const s of unowned) {
    const target = leastLoaded(s.eligible, held);
    s.owner = target;
    held[target]!.push(s);
  }

  // 3. Rebalance by single moves until no member can take a partition from one with ≥ 2 more.
  for (;;) {
    const order = held.map((_, i) => i).sort((a, b) => held[b]!.length - held[a]!.length || a - b);
    let moved = false;
    for (const from of order) {
      const list = held[from]!;
      if (list.length < 2) break; // nobody can be 2 below this (or any later) member
      // Newly given partitions first (moving them costs no stickiness), latest first.
      let pick = -1;
      let to = -1;
      for (let pass = 0; pass < 2 && pick < 0; pass++) {
        for (let j = list.length - 1; j >= 0; j--) {
          const s = list[j]!;
          if ((s.prevOwner === from) !== (pass === 1)) continue;
          const cand = leastLoaded(s.eligible, held);
          if (held[cand]!.length <= list.length - 2) {
            pick = j;
            to = cand;
            break;
          }
        }
      }
      if (pick >= 0) {
        const [s] = list.splice(pick, 1);
        s!.owner = to;
        held[to]!.push(s!);
        moved = true;
        break;
      }
    }
    if (!moved) break;
  }

  for (let i = 0; i < sorted.length; i++) {
    const list = out.get(sorted[i]!.memberId)!;
    for (const s of held[i]!) {
      // Cooperative: a partition changing hands is revoked this round and assigned in the next.
      if (cooperative && s.prevOwner !== -1 && s.prevOwner !== i) continue;
      list.push({ topic: s.topic, partition: s.partition });
    }
  }
  return out;
}

function leastLoaded(eligible: number[], held: PartitionSlot[][]): number {
  let best = eligible[0]!;
  for (let k = 1; k < eligible.length; k++) {
    const i = eligible[k]!;
    if (held[i]!.length < held[best]!.length) best = i;
  }
  return best;
}

export function assignSticky(members: GroupMember[], partitionsPerTopic: Map<string, number>): Assignment {
  return stickyAssign(members, partitionsPerTopic, false);
}

export function assignCooperativeSticky(members: GroupMember[], partitionsPerTopic: Map<string, number>): Assignment {
  return stickyAssign(members, partitionsPerTopic, true);
}

export const StickyAssignor: PartitionAssignor = { name: 'sticky', assign: assignSticky };
export const CooperativeStickyAssignor: PartitionAssignor = { name: 'cooperative-sticky', assign: assignCooperativeSticky };
