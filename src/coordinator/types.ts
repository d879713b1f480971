/** Shapes shared by the group-coordination code: partition assignment and committed offsets. */
import type { CommittedOffset, OffsetCommitEntry } from '../engine/types.js';

export type { CommittedOffset, OffsetCommitEntry };

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** One member of a group as an assignor sees it (Kafka's ConsumerPartitionAssignor.Subscription). */
export interface GroupMember {
  memberId: string;
  /** Static membership id (group.instance.id); static members sort by it. */
  groupInstanceId?: string | null;
  /** Topics the member subscribes to. */
  topics: string[];
  /** Partitions the member owned before this rebalance (what sticky assignors keep). */
  ownedPartitions?: TopicPartition[];
  /** Generation of `ownedPartitions`; when two members claim a partition, the higher generation keeps it. */
  generation?: number;
  /** Opaque assignor data from the wire (unused by the built-in assignors here). */
  userData?: Buffer;
}

/** memberId → its partitions. Every member given to `assign` has an entry (possibly empty). */
export type Assignment = Map<string, TopicPartition[]>;

/** A client-side partition assignment strategy, named by its Kafka protocol name. */
export interface PartitionAssignor {
  readonly name: string;
  assign(members: GroupMember[], partitionsPerTopic: Map<string, number>): Assignment;
}
