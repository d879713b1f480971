/**
 * Inputs and outputs of the classic-protocol group coordinator. They mirror the fields of Kafka's
 * JoinGroup/SyncGroup/Heartbeat/LeaveGroup/DescribeGroups/ListGroups requests and responses, minus the
 * wire details (versions, throttle times, tagged fields), which the Kafka frontend handles.
 * Every `errorCode` is a Kafka error code (see `KafkaErrors`).
 */
import type { CommittedOffset, Logger, Millis, OffsetCommitEntry } from '../engine/types.js';

/** Group states, spelled as Kafka reports them in DescribeGroups/ListGroups. */
export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupStateName[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

/** One (name, metadata) pair of a JoinGroup request, in the member's order of preference. */
export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupRequest {
  groupId: string;
  /** '' for a member that has no id yet. */
  memberId: string;
  /** group.instance.id of a static member (JoinGroup v5+); null/undefined for a dynamic member. */
  groupInstanceId?: string | null;
  protocolType: string;
  protocols: GroupProtocol[];
  sessionTimeoutMs: number;
  /** JoinGroup v0 has none: then (or when negative) the session timeout is used, as Kafka does. */
  rebalanceTimeoutMs?: number;
  clientId: string;
  clientHost: string;
  /** true from JoinGroup v4 (KIP-394): a member without id first gets MEMBER_ID_REQUIRED and its new id. */
  requireKnownMemberId?: boolean;
  /** true from JoinGroup v9 (KIP-814): a rejoining static leader may be told to skip the assignment. */
  supportSkippingAssignment?: boolean;
  /** JoinGroup v8+: the client's reason; only logged. */
  reason?: string | null;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  /** The member's metadata for the selected protocol. */
  metadata: Buffer;
}

export interface JoinGroupResult {
  errorCode: number;
  /** -1 on errors. */
  generationId: number;
  /** null on errors. */
  protocolType: string | null;
  /** null on errors (JoinGroup v0-6 send '' instead). */
  protocolName: string | null;
  /** '' on errors. */
  leader: string;
  /** The member's id; on MEMBER_ID_REQUIRED the id to rejoin with; '' on errors for a new member. */
  memberId: string;
  skipAssignment: boolean;
  /** Only filled for the leader. */
  members: JoinGroupMember[];
}

export interface MemberAssignment {
  memberId: string;
  assignment: Buffer;
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  /** SyncGroup v5+; checked against the group's when given. */
  protocolType?: string | null;
  /** SyncGroup v5+; checked against the group's when given. */
  protocolName?: string | null;
  /** Only the leader sends assignments; empty for followers. */
  assignments: MemberAssignment[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  /** Empty on errors. */
  assignment: Buffer;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
}

export interface LeaveGroupMemberIdentity {
  /** '' to remove a static member by `groupInstanceId` alone (admin removal, KIP-345). */
  memberId: string;
  groupInstanceId?: string | null;
  /** LeaveGroup v5+; only logged. */
  reason?: string | null;
}

export interface LeaveGroupRequest {
  groupId: string;
  /** LeaveGroup v0-2 carry one memberId: pass it as a single entry. */
  members: LeaveGroupMemberIdentity[];
}

export interface LeaveGroupMemberResult {
  memberId: string;
  groupInstanceId: string | null;
  errorCode: number;
}

export interface LeaveGroupResult {
  /**
   * Request-level error. For LeaveGroup v0-2 (no per-member results on the wire) answer this if it is
   * not NONE, else the first member's error (as Kafka's LeaveGroupResponse does).
   */
  errorCode: number;
  members: LeaveGroupMemberResult[];
}

export interface OffsetCommitValidationRequest {
  groupId: string;
  /** -1 for commits outside group management (simple consumers, admin clients). */
  generationId: number;
  /** '' for commits outside group management. */
  memberId: string;
  groupInstanceId?: string | null;
}

export interface OffsetCommitRequest extends OffsetCommitValidationRequest {
  offsets: OffsetCommitEntry[];
  /** The frontend's view of the topics: offsets of partitions it does not know answer UNKNOWN_TOPIC_OR_PARTITION. */
  partitionExists(topic: string, partition: number): boolean;
}

export interface OffsetFetchResult {
  errorCode: number;
  /** Empty when `errorCode` is not NONE; else as the offsets store answers (offset -1n where none is committed). */
  offsets: CommittedOffset[];
}

export interface DeleteGroupResult {
  groupId: string;
  errorCode: number;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The member's metadata for the group's protocol; empty unless the group is Stable (as Kafka). */
  metadata: Buffer;
  /** Empty unless the group is Stable (as Kafka). */
  assignment: Buffer;
}

export interface GroupDescription {
  errorCode: number;
  /** Set with GROUP_ID_NOT_FOUND (DescribeGroups v6+). */
  errorMessage: string | null;
  groupId: string;
  /** '' only when the coordinator cannot answer (errorCode set). */
  state: GroupStateName | '';
  protocolType: string;
  /** The selected protocol while Stable, else ''. */
  protocol: string;
  members: GroupMemberDescription[];
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupStateName;
}

/**
 * Where group metadata records go: the `__consumer_offsets` partition of the group, through the offsets
 * store. `value` null is a tombstone. A rejected promise is a failed write; a SluiceError's Kafka code is
 * mapped the way Kafka maps log-append errors for group metadata.
 * When it is the `OffsetsStore` itself (as in the broker), the coordinator also serves committed offsets,
 * knows the groups that only have stored records, and loads and unloads per `__consumer_offsets` partition.
 */
export interface GroupPersistence {
  storeGroup(groupId: string, key: Buffer, value: Buffer | null): Promise<void>;
}

export interface GroupCoordinatorOptions {
  /** group.min.session.timeout.ms. Default 6000. */
  minSessionTimeoutMs?: number;
  /** group.max.session.timeout.ms. Default 1800000. */
  maxSessionTimeoutMs?: number;
  /** group.initial.rebalance.delay.ms. Default 3000. */
  initialRebalanceDelayMs?: number;
  /** group.max.size. Default 2147483647 (Kafka's Int.MaxValue). */
  maxGroupSize?: number;
  /**
   * How long a new member's first JoinGroup may wait for the rebalance to complete before the member is
   * dropped (Kafka's fixed NewMemberJoinTimeoutMs). Default 300000.
   */
  newMemberJoinTimeoutMs?: number;
  persistence?: GroupPersistence;
  /** Time source for state timestamps. Default Date.now. Timers always use real time. */
  now?: () => Millis;
  logger?: Logger;
}
