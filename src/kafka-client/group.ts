/**
 * A compact member of a classic consumer group: JoinGroup/SyncGroup with the range assignor over the
 * consumer protocol, heartbeats on a timer, offset commits as the member, LeaveGroup on close. The caller
 * polls `rebalanceNeeded` and calls `join()` again when a heartbeat or commit reports a rebalance.
 */
import {
  decodeConsumerProtocolAssignmentBytes,
  decodeConsumerProtocolSubscriptionBytes,
  encodeConsumerProtocolAssignmentBytes,
  encodeConsumerProtocolSubscriptionBytes,
} from '../kafka-protocol/generated/index.js';
import { KafkaErrors } from '../kafka-protocol/error-codes.js';
import type { KafkaClient } from './client.js';
import { COORDINATOR_RETRY_ERRORS, sleep } from './cluster.js';
import { KafkaProtocolError } from './errors.js';
import type { WireOffsetCommitEntry, TopicPartition, TopicPartitions } from './types.js';
import { assignRange } from '../coordinator/assignors/range.js';

export interface GroupMemberOptions {
  groupId: string;
  topics: readonly string[];
  /** Default 10 000 ms (brokers accept 6 000..1 800 000 by default). */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members to rejoin (default 30 000 ms). */
  rebalanceTimeoutMs?: number;
  /** Default 3 000 ms. */
  heartbeatIntervalMs?: number;
}

export interface GroupGeneration {
  generationId: number;
  memberId: string;
  leader: boolean;
  /** This member's partitions, sorted. */
  assignment: TopicPartition[];
}

/** Errors meaning "this member must rejoin". */
const REJOIN_ERRORS: ReadonlySet<number> = new Set<number>([KafkaErrors.ILLEGAL_GENERATION, KafkaErrors.UNKNOWN_MEMBER_ID, KafkaErrors.REBALANCE_IN_PROGRESS]);
const PROTOCOL = 'range';

/** Kafka's RangeAssignor: per topic, contiguous partition ranges over the sorted subscribed members. */
export function rangeAssign(members: readonly { memberId: string; topics: readonly string[] }[], partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartitions[]> {
  const plan = assignRange(
    members.map((m) => ({ memberId: m.memberId, topics: [...m.topics] })),
    new Map(partitionCounts),
  );
  // The consumer protocol's assignment groups partitions by topic.
  const out = new Map<string, TopicPartitions[]>();
  for (const [memberId, tps] of plan) {
    const byTopic: TopicPartitions[] = [];
    for (const { topic, partition } of tps) {
      const last = byTopic[byTopic.length - 1];
      if (last !== undefined && last.topic === topic) last.partitions.push(partition);
      else byTopic.push({ topic, partitions: [partition] });
    }
    out.set(memberId, byTopic);
  }
  return out;
}

export class GroupMember {
  readonly groupId: string;
  private readonly client: KafkaClient;
  private readonly topics: string[];
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private memberId = '';
  private generationId = -1;
  private coordinator = -1;
  private heartbeat: NodeJS.Timeout | null = null;
  private heartbeatBusy = false;
  private rejoin = false;
  private current: GroupGeneration | null = null;
  /** Last heartbeat failure that was not a rebalance signal (e.g. the coordinator went away). */
  heartbeatError: Error | null = null;

  constructor(client: KafkaClient, opts: GroupMemberOptions) {
    this.client = client;
    this.groupId = opts.groupId;
    this.topics = [...opts.topics];
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = opts.rebalanceTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 3_000;
  }

  /** True once a heartbeat or commit learned that the group is rebalancing: call `join()` again. */
  get rebalanceNeeded(): boolean {
    return this.rejoin;
  }

  get generation(): GroupGeneration | null {
    return this.current;
  }

  /** Joins (or rejoins) the group and returns this member's assignment. */
  async join(): Promise<GroupGeneration> {
    this.stopHeartbeats();
    this.rejoin = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 50) throw new KafkaProtocolError(KafkaErrors.REBALANCE_IN_PROGRESS, `group '${this.groupId}': could not complete a rebalance`);
      if (this.coordinator < 0) this.coordinator = (await this.client.findCoordinator(this.groupId)).nodeId;
      const join = await this.client.send(
        'JoinGroup',
        {
          groupId: this.groupId,
          sessionTimeoutMs: this.sessionTimeoutMs,
          rebalanceTimeoutMs: this.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: PROTOCOL, metadata: encodeConsumerProtocolSubscriptionBytes(0, { topics: this.topics, userData: null }) }],
          reason: null,
        },
        this.coordinator,
        { timeoutMs: this.rebalanceTimeoutMs + 10_000 },
      );
      if (join.errorCode === KafkaErrors.MEMBER_ID_REQUIRED) {
        this.memberId = join.memberId; // KIP-394: join again with the id the coordinator handed out
        continue;
      }
      if (join.errorCode === KafkaErrors.UNKNOWN_MEMBER_ID) {
        this.memberId = '';
        continue;
      }
      if (join.errorCode === KafkaErrors.REBALANCE_IN_PROGRESS) continue;
      if (COORDINATOR_RETRY_ERRORS.has(join.errorCode)) {
        this.coordinator = -1;
        await sleep(100);
        continue;
      }
      if (join.errorCode !== 0) throw new KafkaProtocolError(join.errorCode, `JoinGroup '${this.groupId}'`);
      this.memberId = join.memberId;
      this.generationId = join.generationId;
      const leader = join.leader === join.memberId;
      let assignments: { memberId: string; assignment: Buffer }[] = [];
      if (leader && !join.skipAssignment) assignments = await this.assign(join.members);
      const sync = await this.client.send(
        'SyncGroup',
        {
          groupId: this.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocolName: join.protocolName ?? PROTOCOL,
          assignments,
        },
        this.coordinator,
        { timeoutMs: this.rebalanceTimeoutMs + 10_000 },
      );
      if (REJOIN_ERRORS.has(sync.errorCode)) {
        if (sync.errorCode === KafkaErrors.UNKNOWN_MEMBER_ID) this.memberId = '';
        continue;
      }
      if (COORDINATOR_RETRY_ERRORS.has(sync.errorCode)) {
        this.coordinator = -1;
        continue;
      }
      if (sync.errorCode !== 0) throw new KafkaProtocolError(sync.errorCode, `SyncGroup '${this.groupId}'`);
      const assignment: TopicPartition[] = [];
      if (sync.assignment.length > 0) {
        for (const a of decodeConsumerProtocolAssignmentBytes(sync.assignment).data.assignedPartitions) {
          for (const p of a.partitions) assignment.push({ topic: a.topic, partition: p });
        }
      }
      assignment.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      this.current = { generationId: this.generationId, memberId: this.memberId, leader, assignment };
      this.startHeartbeats();
      return this.current;
    }
  }

  /** The leader's job: range-assign the subscribed topics' partitions to the members. */
  private async assign(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subs = members.map((m) => {
      let topics: string[] = [];
      try {
        topics = decodeConsumerProtocolSubscriptionBytes(m.metadata).data.topics;
      } catch {
        // a member whose subscription cannot be read gets nothing
      }
      return { memberId: m.memberId, topics };
    });
    const wanted = [...new Set(subs.flatMap((s) => s.topics))];
    const md = wanted.length ? await this.client.metadata(wanted) : { topics: [] };
    const counts = new Map(md.topics.filter((t) => t.errorCode === 0).map((t) => [t.name, t.partitions.length]));
    const plan = rangeAssign(subs, counts);
    return subs.map((s) => ({
      memberId: s.memberId,
      assignment: encodeConsumerProtocolAssignmentBytes(0, { assignedPartitions: plan.get(s.memberId) ?? [], userData: null }),
    }));
  }

  /** Commits offsets as this member of the current generation. A rebalance error flags `rebalanceNeeded`. */
  async commit(offsets: readonly WireOffsetCommitEntry[]): Promise<void> {
    try {
      await this.client.offsetCommit(this.groupId, offsets, { generationId: this.generationId, memberId: this.memberId });
    } catch (e) {
      if (e instanceof KafkaProtocolError && REJOIN_ERRORS.has(e.errorCode)) this.rejoin = true;
      throw e;
    }
  }

  /** Stops heartbeats and leaves the group so the others rebalance at once (errors are ignored: best effort). */
  async leave(): Promise<void> {
    this.stopHeartbeats();
    if (!this.memberId || this.coordinator < 0) return;
    try {
      await this.client.send(
        'LeaveGroup',
        { groupId: this.groupId, memberId: this.memberId, members: [{ memberId: this.memberId, groupInstanceId: null, reason: 'the consumer is being closed' }] },
        this.coordinator,
        { timeoutMs: 5_000 },
      );
    } catch {
      // leaving is an optimisation: the session timeout removes the member anyway
    }
    this.memberId = '';
    this.current = null;
  }

  private startHeartbeats(): void {
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private stopHeartbeats(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private async beat(): Promise<void> {
    if (this.heartbeatBusy || this.rejoin) return;
    this.heartbeatBusy = true;
    try {
      const resp = await this.client.send(
        'Heartbeat',
        { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null },
        this.coordinator,
        { timeoutMs: this.sessionTimeoutMs },
      );
      if (REJOIN_ERRORS.has(resp.errorCode)) {
        if (resp.errorCode === KafkaErrors.UNKNOWN_MEMBER_ID) this.memberId = '';
        this.rejoin = true;
      } else if (COORDINATOR_RETRY_ERRORS.has(resp.errorCode)) {
        this.coordinator = -1;
        this.rejoin = true;
      } else if (resp.errorCode !== 0) {
        this.heartbeatError = new KafkaProtocolError(resp.errorCode, `Heartbeat '${this.groupId}'`);
      }
    } catch (e) {
      this.heartbeatError = e instanceof Error ? e : new Error(String(e));
    } finally {
      this.heartbeatBusy = false;
    }
  }
}
