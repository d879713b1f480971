/**
 * Kafka's consumer group coordinator for the classic rebalance protocol (JoinGroup/SyncGroup/Heartbeat/
 * LeaveGroup), as a protocol-agnostic state machine. It follows Kafka's GroupCoordinator/GroupMetadata:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
 *     ▲                 ▲      │ (no members left)                              │ leader's SyncGroup
 *     └─────────────────┼──────┘                                                ▼
 *                       └──────── join of a new member / leave / expiry ─── Stable
 *   (any) ──delete / close──▶ Dead
 *
 * The wire frontend decodes requests, calls these methods and encodes the results; nothing here knows
 * about versions beyond the few flags a request carries. Timers are real (setTimeout, unref'd); group
 * metadata is written through the narrow `GroupPersistence` hook in Kafka's record layout.
 */
import { randomUUID } from 'node:crypto';
import type { Logger, Millis } from '../engine/types.js';
import { kafkaErrorCodeOf } from '../kafka-protocol/sluice-errors.js';
import { encodeGroupMetadataKey, encodeGroupMetadataValue, decodeGroupMetadataValue, type GroupMetadataRecord } from './group-records.js';
import type {
  GroupCoordinatorOptions,
  GroupDescription,
  GroupListing,
  GroupMemberDescription,
  GroupPersistence,
  GroupProtocol,
  GroupStateName,
  HeartbeatRequest,
  JoinGroupMember,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupMemberResult,
  LeaveGroupRequest,
  LeaveGroupResult,
  OffsetCommitValidationRequest,
  SyncGroupRequest,
  SyncGroupResult,
} from './group-types.js';
import { KafkaErrors as E, kafkaErrorName } from '../kafka-protocol/error-codes.js';

export * from './group-types.js';

type JoinCallback = (result: JoinGroupResult) => void;
type SyncCallback = (result: SyncGroupResult) => void;
type Timer = ReturnType<typeof setTimeout>;

const EMPTY = Buffer.alloc(0);

export const DEFAULT_MIN_SESSION_TIMEOUT_MS = 6000;
export const DEFAULT_MAX_SESSION_TIMEOUT_MS = 1_800_000;
export const DEFAULT_INITIAL_REBALANCE_DELAY_MS = 3000;
export const DEFAULT_MAX_GROUP_SIZE = 2_147_483_647;
export const DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000;

/** Kafka's GroupState.validPreviousStates. */
const VALID_PREVIOUS: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  Empty: ['PreparingRebalance'],
};

function unrefTimer(fn: () => void, ms: number): Timer {
  const t = setTimeout(fn, Math.max(0, ms));
  t.unref();
  return t;
}

function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    memberId,
    skipAssignment: false,
    members: [],
  };
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

class Member {
  awaitingJoin: JoinCallback | null = null;
  awaitingSync: SyncCallback | null = null;
  assignment: Buffer = EMPTY;
  /** Joined but has not yet received a JoinGroup response: its session timer is the join timeout. */
  isNew = false;
  heartbeatTimer: Timer | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  metadata(protocol: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocol);
    if (!p) throw new Error(`member ${this.memberId} does not support protocol ${protocol}`);
    return p.metadata;
  }

  /** Same protocols with the same metadata, in the same order (Kafka's MemberMetadata.matches). */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (!p) throw new Error(`member ${this.memberId} does not support any candidate protocol`);
    return p.name;
  }
}

interface DelayedJoin {
  timer: Timer;
  /** The initial delay of a group that was Empty: never completes early, extended while members arrive. */
  initial: boolean;
  delayMs: number;
  remainingMs: number;
}

/** One group's membership state (Kafka's GroupMetadata, without offsets). */
class ClassicGroup {
  state: GroupStateName = 'Empty';
  stateTimestamp: Millis;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, with their expiry timers. */
  readonly pendingMembers = new Map<string, Timer>();
  readonly pendingSyncMembers = new Set<string>();
  private readonly supportedProtocols = new Map<string, number>();
  newMemberAdded = false;
  joinOp: DelayedJoin | null = null;
  syncTimer: Timer | null = null;

  constructor(
    readonly groupId: string,
    now: Millis,
  ) {
    this.stateTimestamp = now;
  }

  get size(): number {
    return this.members.size;
  }

  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.numAwaitingJoin() === this.members.size && this.pendingMembers.size === 0;
  }

  add(member: Member, callback: JoinCallback | null): void {
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.countProtocols(member, 1);
    member.awaitingJoin = callback;
    this.clearPending(member.memberId);
  }

  /**
   * Drops a member (or pending member id) and its timers. A join or sync still waiting for this member
   * gets UNKNOWN_MEMBER_ID, so no caller waits forever.
   */
  remove(memberId: string): void {
    const m = this.members.get(memberId);
    if (m) {
      this.members.delete(memberId);
      this.countProtocols(m, -1);
      if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === memberId) {
        this.staticMembers.delete(m.groupInstanceId);
      }
      if (m.heartbeatTimer) clearTimeout(m.heartbeatTimer);
      m.heartbeatTimer = null;
      invokeJoin(m, joinError('', E.UNKNOWN_MEMBER_ID));
      invokeSync(m, syncError(E.UNKNOWN_MEMBER_ID));
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    this.clearPending(memberId);
    this.pendingSyncMembers.delete(memberId);
  }

  private clearPending(memberId: string): void {
    const t = this.pendingMembers.get(memberId);
    if (t !== undefined) {
      clearTimeout(t);
      this.pendingMembers.delete(memberId);
    }
  }

  /** Sets a member's protocols/timeouts and join callback; a superseded join callback is answered. */
  updateMember(
    member: Member,
    protocols: GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    callback: JoinCallback | null,
  ): void {
    this.countProtocols(member, -1);
    member.protocols = protocols;
    this.countProtocols(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    // Kafka silently replaces the callback (the older request is abandoned by the client); answer it.
    if (callback !== null) invokeJoin(member, joinError(member.memberId, E.REBALANCE_IN_PROGRESS));
    member.awaitingJoin = callback;
  }

  /** Gives a static member a new member id; requests still waiting under the old id are fenced. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): Member {
    const m = this.members.get(oldMemberId);
    if (!m) throw new Error(`cannot replace unknown member ${oldMemberId}`);
    this.members.delete(oldMemberId);
    invokeJoin(m, joinError(oldMemberId, E.FENCED_INSTANCE_ID));
    invokeSync(m, syncError(E.FENCED_INSTANCE_ID));
    m.memberId = newMemberId;
    this.members.set(newMemberId, m);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    // The new id owes the SyncGroup the old one owed.
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return m;
  }

  /** Keeps the leader if it rejoined, else picks a member that did; false when none rejoined. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.awaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.awaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  supportsProtocols(protocolType: string, names: ReadonlySet<string>): boolean {
    if (this.state === 'Empty') return protocolType !== '' && names.size > 0;
    if (this.protocolType !== protocolType) return false;
    for (const n of names) if ((this.supportedProtocols.get(n) ?? 0) === this.members.size) return true;
    return false;
  }

  /** Kafka's vote: each member votes for its most preferred protocol that all members support. */
  selectProtocol(): string {
    if (this.members.size === 0) throw new Error('cannot select a protocol for an empty group');
    const candidates = new Set<string>();
    for (const [name, count] of this.supportedProtocols) if (count === this.members.size) candidates.add(name);
    const votes = new Map<string, number>();
    let best = '';
    let bestVotes = 0;
    for (const m of this.members.values()) {
      const choice = m.vote(candidates);
      const n = (votes.get(choice) ?? 0) + 1;
      votes.set(choice, n);
      if (n > bestVotes) {
        best = choice;
        bestVotes = n;
      }
    }
    return best;
  }

  currentMemberMetadata(): JoinGroupMember[] {
    const protocol = this.protocolName;
    if (protocol === null) throw new Error(`group ${this.groupId} has no protocol`);
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(protocol),
    }));
  }

  clearTimers(): void {
    if (this.joinOp) clearTimeout(this.joinOp.timer);
    this.joinOp = null;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    for (const t of this.pendingMembers.values()) clearTimeout(t);
    this.pendingMembers.clear();
    for (const m of this.members.values()) {
      if (m.heartbeatTimer) clearTimeout(m.heartbeatTimer);
      m.heartbeatTimer = null;
    }
  }

  private countProtocols(member: Member, delta: number): void {
    for (const p of member.protocols) {
      const n = (this.supportedProtocols.get(p.name) ?? 0) + delta;
      if (n === 0) this.supportedProtocols.delete(p.name);
      else this.supportedProtocols.set(p.name, n);
    }
  }
}

function invokeJoin(member: Member, result: JoinGroupResult): boolean {
  const cb = member.awaitingJoin;
  if (!cb) return false;
  member.awaitingJoin = null;
  cb(result);
  return true;
}

function invokeSync(member: Member, result: SyncGroupResult): boolean {
  const cb = member.awaitingSync;
  if (!cb) return false;
  member.awaitingSync = null;
  cb(result);
  return true;
}

/** How Kafka turns a failed group-metadata append into the error a JoinGroup/SyncGroup caller sees. */
export function groupStoreErrorCode(err: unknown): number {
  const code = kafkaErrorCodeOf(err);
  switch (code) {
    case E.UNKNOWN_TOPIC_OR_PARTITION:
    case E.NOT_ENOUGH_REPLICAS:
    case E.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return E.COORDINATOR_NOT_AVAILABLE;
    case E.NOT_LEADER_OR_FOLLOWER:
    case E.KAFKA_STORAGE_ERROR:
      return E.NOT_COORDINATOR;
    case E.REQUEST_TIMED_OUT:
      return E.REBALANCE_IN_PROGRESS;
    case E.MESSAGE_TOO_LARGE:
    case E.RECORD_LIST_TOO_LARGE:
    case E.INVALID_FETCH_SIZE:
      return E.UNKNOWN_SERVER_ERROR;
    default:
      return code;
  }
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly initialRebalanceDelayMs: number;
  private readonly maxGroupSize: number;
  private readonly newMemberJoinTimeoutMs: number;
  private readonly persistence: GroupPersistence | undefined;
  private readonly now: () => Millis;
  private readonly log: Logger | undefined;
  private closed = false;

  constructor(options: GroupCoordinatorOptions = {}) {
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS;
    this.initialRebalanceDelayMs = options.initialRebalanceDelayMs ?? DEFAULT_INITIAL_REBALANCE_DELAY_MS;
    this.maxGroupSize = options.maxGroupSize ?? DEFAULT_MAX_GROUP_SIZE;
    this.newMemberJoinTimeoutMs = options.newMemberJoinTimeoutMs ?? DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS;
    this.persistence = options.persistence;
    this.now = options.now ?? Date.now;
    this.log = options.logger;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- JoinGroup

  /** Resolves when the member's join phase completes (or at once with an error). Never rejects. */
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    return new Promise((resolve) => this.handleJoinGroup(request, resolve));
  }

  private handleJoinGroup(req: JoinGroupRequest, cb: JoinCallback): void {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return cb(joinError(req.memberId, statusError));
    if (req.sessionTimeoutMs < this.minSessionTimeoutMs || req.sessionTimeoutMs > this.maxSessionTimeoutMs) {
      return cb(joinError(req.memberId, E.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = req.memberId === '';
    let group = this.groups.get(req.groupId);
    if (!group) {
      // Only a member without id creates a group; a known id for an unknown group is stale.
      if (!isUnknownMember) return cb(joinError(req.memberId, E.UNKNOWN_MEMBER_ID));
      group = this.createGroup(req.groupId);
    }
    if (!this.acceptJoiningMember(group, req.memberId)) {
      group.remove(req.memberId);
      cb(joinError('', E.GROUP_MAX_SIZE_REACHED));
    } else if (isUnknownMember) {
      this.doNewMemberJoinGroup(group, req, cb);
    } else {
      this.doCurrentMemberJoinGroup(group, req, cb);
    }
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        // Counting awaiting members lets the last ones to rejoin an oversized group be turned away.
        return group.members.get(memberId)?.awaitingJoin != null || group.numAwaitingJoin() < this.maxGroupSize;
      case 'CompletingRebalance':
      case 'Stable':
        return group.members.has(memberId) || group.size < this.maxGroupSize;
    }
  }

  private doNewMemberJoinGroup(group: ClassicGroup, req: JoinGroupRequest, cb: JoinCallback): void {
    if (group.state === 'Dead') return cb(joinError('', E.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(req.protocolType, protocolNames(req.protocols))) {
      return cb(joinError('', E.INCONSISTENT_GROUP_PROTOCOL));
    }
    const instanceId = req.groupInstanceId ?? null;
    const newMemberId = `${instanceId ?? req.clientId}-${randomUUID()}`;
    if (instanceId !== null) {
      const oldMemberId = group.staticMembers.get(instanceId);
      if (oldMemberId !== undefined) {
        this.updateStaticMemberAndRebalance(group, oldMemberId, newMemberId, instanceId, req, cb);
      } else {
        this.addMemberAndRebalance(group, newMemberId, req, cb);
      }
    } else if (req.requireKnownMemberId) {
      // KIP-394: hand out the id first; the member becomes real when it rejoins with it.
      group.pendingMembers.set(
        newMemberId,
        unrefTimer(() => this.onPendingMemberExpired(group, newMemberId), req.sessionTimeoutMs),
      );
      cb(joinError(newMemberId, E.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, req, cb);
    }
  }

  private doCurrentMemberJoinGroup(group: ClassicGroup, req: JoinGroupRequest, cb: JoinCallback): void {
    const memberId = req.memberId;
    const instanceId = req.groupInstanceId ?? null;
    if (group.state === 'Dead') return cb(joinError(memberId, E.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(req.protocolType, protocolNames(req.protocols))) {
      return cb(joinError(memberId, E.INCONSISTENT_GROUP_PROTOCOL));
    }
    if (group.pendingMembers.has(memberId)) {
      // Pending ids are only handed to dynamic members; a static one must rejoin without an id.
      if (instanceId !== null) return cb(joinError(memberId, E.UNKNOWN_MEMBER_ID));
      this.addMemberAndRebalance(group, memberId, req, cb);
      return;
    }
    const memberError = this.validateCurrentMember(group, memberId, instanceId);
    if (memberError !== null) return cb(joinError(memberId, memberError));
    const member = group.members.get(memberId)!;
    const rebalanceTimeoutMs = rebalanceTimeoutOf(req);
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member rejoined');
        return;
      case 'CompletingRebalance':
        if (member.matches(req.protocols)) {
          // The member probably missed the JoinGroup response: answer it again for this generation.
          cb(this.joinResult(group, member, group.leaderId === memberId ? group.currentMemberMetadata() : []));
        } else {
          this.updateMemberAndRebalance(group, member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member metadata changed');
        }
        return;
      case 'Stable':
        if (group.leaderId === memberId) {
          // A leader's rejoin forces a rebalance: it is how the leader reacts to topic metadata changes.
          this.updateMemberAndRebalance(group, member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'leader rejoined');
        } else if (!member.matches(req.protocols)) {
          this.updateMemberAndRebalance(group, member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member metadata changed');
        } else {
          cb(this.joinResult(group, member, []));
        }
        return;
      case 'Empty':
        cb(joinError(memberId, E.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  private joinResult(group: ClassicGroup, member: Member, members: JoinGroupMember[]): JoinGroupResult {
    return {
      errorCode: E.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      skipAssignment: false,
      members,
    };
  }

  private addMemberAndRebalance(group: ClassicGroup, memberId: string, req: JoinGroupRequest, cb: JoinCallback): void {
    const member = new Member(
      memberId,
      req.groupInstanceId ?? null,
      req.clientId,
      req.clientHost,
      rebalanceTimeoutOf(req),
      req.sessionTimeoutMs,
      req.protocolType,
      req.protocols,
    );
    member.isNew = true;
    // A member arriving during the initial delay extends it (group.initial.rebalance.delay.ms).
    if (group.state === 'PreparingRebalance' && group.joinOp?.initial) group.newMemberAdded = true;
    group.add(member, cb);
    // A new member cannot heartbeat before its first JoinGroup response, so it gets a join timeout
    // instead; a client that gave up and retried does not leave a ghost member forever.
    this.scheduleHeartbeatExpiration(group, member, this.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(group, `new member ${memberId} joined${reasonSuffix(req.reason)}`);
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: Member,
    protocols: GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    cb: JoinCallback,
    reason: string,
  ): void {
    group.updateMember(member, protocols, rebalanceTimeoutMs, sessionTimeoutMs, cb);
    this.maybePrepareRebalance(group, `${reason}: ${member.memberId}`);
  }

  /** KIP-345: a known group.instance.id rejoining without member id takes over the old member. */
  private updateStaticMemberAndRebalance(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    instanceId: string,
    req: JoinGroupRequest,
    cb: JoinCallback,
  ): void {
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    this.scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
    const oldProtocols = member.protocols;
    const oldRebalanceTimeoutMs = member.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = member.sessionTimeoutMs;
    group.updateMember(member, req.protocols, rebalanceTimeoutOf(req), req.sessionTimeoutMs, cb);

    switch (group.state) {
      case 'Stable': {
        // No rebalance unless the rejoin changes the protocol the group would select (as Kafka).
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalance(group, `static member ${instanceId} rejoined with a protocol change`);
          return;
        }
        const assignment = new Map<string, Buffer>();
        for (const m of group.members.values()) assignment.set(m.memberId, m.assignment);
        this.storeGroup(group, assignment, (errorCode) => {
          if (member.awaitingJoin !== cb) return; // answered meanwhile (fenced again, removed, closed)
          if (errorCode !== E.NONE) {
            this.log?.warn({ groupId: group.groupId, error: kafkaErrorName(errorCode) }, 'failed to persist static member replacement');
            group.updateMember(member, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
            if (this.isLive(group) && group.members.get(newMemberId) === member) {
              const old = group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
              this.scheduleHeartbeatExpiration(group, old, old.sessionTimeoutMs);
            }
            cb({
              ...joinError('', errorCode),
              generationId: group.generationId,
              protocolType: group.protocolType,
              protocolName: group.protocolName,
              leader: currentLeader ?? '',
            });
            return;
          }
          // If a rebalance started meanwhile, the member's join is answered by that rebalance.
          if (group.state !== 'Stable') return;
          const isLeader = group.leaderId === newMemberId;
          if (req.supportSkippingAssignment) {
            // JoinGroup v9+: the static leader learns it leads but must not re-run the assignor.
            invokeJoin(member, {
              ...this.joinResult(group, member, isLeader ? group.currentMemberMetadata() : []),
              skipAssignment: isLeader,
            });
          } else {
            // Older clients get the old leader id, so a returning leader does not compute an assignment
            // that a Stable group would never distribute.
            invokeJoin(member, { ...this.joinResult(group, member, []), leader: currentLeader ?? '' });
          }
        });
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning for the old id: start over.
        this.prepareRebalance(group, `static member ${instanceId} rejoined during CompletingRebalance`);
        return;
      case 'PreparingRebalance':
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  // ---------------------------------------------------------------- SyncGroup

  /** Followers resolve when the leader's assignment is stored; never rejects. */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    return new Promise((resolve) => this.handleSyncGroup(request, resolve));
  }

  private handleSyncGroup(req: SyncGroupRequest, cb: SyncCallback): void {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return cb(syncError(statusError));
    const group = this.groups.get(req.groupId);
    if (!group) return cb(syncError(E.UNKNOWN_MEMBER_ID));
    const validationError = this.validateSyncGroup(group, req);
    if (validationError !== null) return cb(syncError(validationError));
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case 'Empty':
        return cb(syncError(E.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return cb(syncError(E.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        invokeSync(member, syncError(E.REBALANCE_IN_PROGRESS)); // a duplicate SyncGroup replaces the older one
        member.awaitingSync = cb;
        this.removePendingSyncMember(group, req.memberId);
        if (group.leaderId !== req.memberId) return;
        const generationId = group.generationId;
        const assignment = new Map<string, Buffer>();
        for (const a of req.assignments) assignment.set(a.memberId, a.assignment);
        for (const id of group.members.keys()) {
          if (!assignment.has(id)) {
            this.log?.warn({ groupId: group.groupId, memberId: id, generationId }, 'leader sent no assignment for member; using an empty one');
            assignment.set(id, EMPTY);
          }
        }
        this.storeGroup(group, assignment, (errorCode) => {
          // A join, leave or expiry may have moved the group on while the write was in flight.
          if (!this.isLive(group) || group.state !== 'CompletingRebalance' || group.generationId !== generationId) return;
          if (errorCode !== E.NONE) {
            this.resetAndPropagateAssignmentError(group, errorCode);
            this.maybePrepareRebalance(group, `storing the assignment failed: ${kafkaErrorName(errorCode)}`);
          } else {
            this.setAndPropagateAssignment(group, assignment);
            this.transition(group, 'Stable');
            this.log?.info({ groupId: group.groupId, generationId, members: group.size }, 'group stable');
          }
        });
        return;
      }
      case 'Stable':
        this.removePendingSyncMember(group, req.memberId);
        cb({ errorCode: E.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
        this.scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return;
      case 'Dead':
        return cb(syncError(E.COORDINATOR_NOT_AVAILABLE));
    }
  }

  private validateSyncGroup(group: ClassicGroup, req: SyncGroupRequest): number | null {
    if (group.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, req.memberId, req.groupInstanceId ?? null);
    if (memberError !== null) return memberError;
    if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    if (req.protocolType != null && req.protocolType !== group.protocolType) return E.INCONSISTENT_GROUP_PROTOCOL;
    if (req.protocolName != null && req.protocolName !== group.protocolName) return E.INCONSISTENT_GROUP_PROTOCOL;
    return null;
  }

  private setAndPropagateAssignment(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): void {
    for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
    this.propagateAssignment(group, E.NONE);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === E.NONE;
    for (const m of group.members.values()) {
      const delivered = invokeSync(m, {
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: m.assignment,
      });
      // Expiries were ignored while the member waited; its session restarts now.
      if (delivered) this.scheduleHeartbeatExpiration(group, m, m.sessionTimeoutMs);
    }
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(req: HeartbeatRequest): number {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return statusError;
    const group = this.groups.get(req.groupId);
    if (!group) return E.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, req.memberId, req.groupInstanceId ?? null);
    if (memberError !== null) return memberError;
    if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case 'Empty':
        return E.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      // Clients may heartbeat between their JoinGroup and SyncGroup responses.
      case 'Stable':
        this.scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return E.NONE;
      case 'PreparingRebalance':
        this.scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return E.REBALANCE_IN_PROGRESS;
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leaveGroup(req: LeaveGroupRequest): LeaveGroupResult {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return { errorCode: statusError, members: [] };
    const group = this.groups.get(req.groupId);
    const result = (memberId: string, groupInstanceId: string | null, errorCode: number): LeaveGroupMemberResult => ({
      memberId,
      groupInstanceId,
      errorCode,
    });
    if (!group) {
      return {
        errorCode: E.NONE,
        members: req.members.map((m) => result(m.memberId, m.groupInstanceId ?? null, E.UNKNOWN_MEMBER_ID)),
      };
    }
    if (group.state === 'Dead') return { errorCode: E.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = req.members.map((leaving) => {
      const instanceId = leaving.groupInstanceId ?? null;
      const why = `left the group${reasonSuffix(leaving.reason)}`;
      if (leaving.memberId === '') {
        // Administrative removal of a static member by instance id alone.
        const current = instanceId !== null ? group.staticMembers.get(instanceId) : undefined;
        if (current === undefined) return result('', instanceId, E.UNKNOWN_MEMBER_ID);
        this.removeMemberAndUpdateGroup(group, group.members.get(current)!, why);
        return result('', instanceId, E.NONE);
      }
      if (group.pendingMembers.has(leaving.memberId)) {
        this.removePendingMemberAndUpdateGroup(group, leaving.memberId);
        return result(leaving.memberId, instanceId, E.NONE);
      }
      const memberError = this.validateCurrentMember(group, leaving.memberId, instanceId);
      if (memberError !== null) return result(leaving.memberId, instanceId, memberError);
      this.removeMemberAndUpdateGroup(group, group.members.get(leaving.memberId)!, why);
      return result(leaving.memberId, instanceId, E.NONE);
    });
    return { errorCode: E.NONE, members };
  }

  // ---------------------------------------------------------------- offsets

  /**
   * Whether an OffsetCommit may be stored (Kafka's validateOffsetCommit). Commits with generation -1 and
   * no member id (simple consumers, admin clients) are allowed while the group has no members, and
   * create the group if it is unknown, as Kafka does. Counts as a heartbeat for members.
   */
  validateOffsetCommit(req: OffsetCommitValidationRequest): number {
    const statusError = this.validateGroupStatus(req.groupId, true);
    if (statusError !== null) return statusError;
    const instanceId = req.groupInstanceId ?? null;
    let group = this.groups.get(req.groupId);
    if (!group) {
      // A positive generation for an unknown group is a commit from an older generation.
      if (req.generationId >= 0) return E.ILLEGAL_GENERATION;
      group = this.createGroup(req.groupId);
    }
    if (group.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    if (req.generationId < 0 && group.state === 'Empty') return E.NONE;
    if (req.generationId >= 0 || req.memberId !== '' || instanceId !== null) {
      const memberError = this.validateCurrentMember(group, req.memberId, instanceId);
      if (memberError !== null) return memberError;
      if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    } else if (group.state !== 'Empty') {
      return E.UNKNOWN_MEMBER_ID; // only members commit for a group with members
    }
    switch (group.state) {
      case 'Empty':
        return E.NONE;
      case 'Stable':
      case 'PreparingRebalance': {
        // Commits are allowed during PreparingRebalance; the heartbeat tells the member to rejoin.
        const member = group.members.get(req.memberId)!;
        this.scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return E.NONE;
      }
      case 'CompletingRebalance':
        // The member has the new generation but no assignment yet.
        return E.REBALANCE_IN_PROGRESS;
    }
  }

  /** Offsets are fetched whatever the group state (groups may not use group management at all). */
  validateOffsetFetch(groupId: string): number {
    return this.validateGroupStatus(groupId, true) ?? E.NONE;
  }

  // ---------------------------------------------------------------- admin

  /**
   * DescribeGroups for one group. Unknown groups describe as Dead with no members and no error, or
   * GROUP_ID_NOT_FOUND from DescribeGroups v6 (pass the request version).
   */
  describeGroup(groupId: string, apiVersion = 0): GroupDescription {
    const base = { groupId, errorMessage: null, protocolType: '', protocol: '', members: [] };
    const statusError = this.validateGroupStatus(groupId, true);
    if (statusError !== null) return { ...base, errorCode: statusError, state: '' };
    const group = this.groups.get(groupId);
    if (!group) {
      return apiVersion >= 6
        ? { ...base, errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.`, state: 'Dead' }
        : { ...base, errorCode: E.NONE, state: 'Dead' };
    }
    const stableProtocol = group.state === 'Stable' ? group.protocolName : null;
    const members: GroupMemberDescription[] = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      metadata: stableProtocol !== null ? m.metadata(stableProtocol) : EMPTY,
      assignment: stableProtocol !== null ? m.assignment : EMPTY,
    }));
    return {
      ...base,
      errorCode: E.NONE,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocol: stableProtocol ?? '',
      members,
    };
  }

  /**
   * ListGroups. `statesFilter` (v4+) matches state names case-insensitively; `typesFilter` (v5+) keeps
   * the list only if it includes 'classic', the only group type here. Empty filters match everything.
   */
  listGroups(statesFilter: readonly string[] = [], typesFilter: readonly string[] = []): GroupListing[] {
    if (this.closed) return [];
    if (typesFilter.length > 0 && !typesFilter.some((t) => t.toLowerCase() === 'classic')) return [];
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const out: GroupListing[] = [];
    for (const g of this.groups.values()) {
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }

  /**
   * DeleteGroups for one group: only an Empty group can go. Writes the group-metadata tombstone; the
   * frontend deletes the group's offsets through the offsets store.
   */
  async deleteGroup(groupId: string): Promise<number> {
    const statusError = this.validateGroupStatus(groupId, true);
    if (statusError !== null) return statusError;
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return E.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return E.NON_EMPTY_GROUP;
    this.transition(group, 'Dead');
    group.clearTimers();
    this.groups.delete(groupId);
    if (this.persistence) {
      try {
        await this.persistence.storeGroup(groupId, encodeGroupMetadataKey(groupId), null);
      } catch (err) {
        // As Kafka: the group is gone either way; a lost tombstone only brings back an Empty group.
        this.log?.warn({ groupId, err }, 'failed to write group metadata tombstone');
      }
    }
    this.log?.info({ groupId }, 'group deleted');
    return E.NONE;
  }

  /**
   * Makes a group known without members, so groups that only have committed offsets are listed and
   * described as Empty. Idempotent; the frontend calls it for the group ids the offsets store holds.
   */
  ensureGroup(groupId: string): void {
    if (this.closed || this.groups.has(groupId)) return;
    this.createGroup(groupId);
  }

  /**
   * Restores a group from its latest `__consumer_offsets` record (value null: tombstone) while replaying
   * the topic at startup. Generation and protocol type come back; members do not (their connections are
   * gone): their next Heartbeat gets UNKNOWN_MEMBER_ID, they rejoin, and the generation continues from
   * the stored one. A group that already has live state is left alone. Returns whether it applied.
   * Throws CorruptRecordError for bytes that are not a group metadata value.
   */
  loadGroup(groupId: string, value: Buffer | null): boolean {
    if (this.closed) return false;
    const existing = this.groups.get(groupId);
    if (existing && (existing.state !== 'Empty' || existing.size > 0)) return false;
    if (value === null) {
      if (existing) {
        existing.clearTimers();
        this.groups.delete(groupId);
      }
      return true;
    }
    const record = decodeGroupMetadataValue(value);
    const group = existing ?? this.createGroup(groupId);
    group.generationId = record.generation;
    group.protocolType = record.protocolType === '' ? null : record.protocolType;
    group.protocolName = null;
    group.leaderId = null;
    // An Empty record's timestamp is when the group emptied; otherwise it empties now.
    group.stateTimestamp = record.members.length === 0 && record.currentStateTimestamp >= 0 ? record.currentStateTimestamp : this.now();
    return true;
  }

  /**
   * Stops the coordinator: clears every timer, answers waiting JoinGroup/SyncGroup calls with
   * NOT_COORDINATOR (clients look the coordinator up again), and answers later calls with
   * COORDINATOR_NOT_AVAILABLE.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of this.groups.values()) {
      group.clearTimers();
      group.state = 'Dead';
      for (const m of group.members.values()) {
        invokeJoin(m, joinError(m.memberId, E.NOT_COORDINATOR));
        invokeSync(m, syncError(E.NOT_COORDINATOR));
      }
    }
    this.groups.clear();
  }

  // ---------------------------------------------------------------- rebalance machinery

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (VALID_PREVIOUS.PreparingRebalance.includes(group.state)) this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    // Members waiting for an assignment must rejoin instead.
    if (group.state === 'CompletingRebalance') this.resetAndPropagateAssignmentError(group, E.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const fromEmpty = group.state === 'Empty';
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs();
    this.transition(group, 'PreparingRebalance');
    this.log?.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'preparing to rebalance group');
    if (fromEmpty) {
      const delay = this.initialRebalanceDelayMs;
      this.scheduleJoin(group, true, delay, Math.max(rebalanceTimeoutMs - delay, 0));
    } else {
      this.scheduleJoin(group, false, rebalanceTimeoutMs, 0);
      this.tryCompleteJoin(group);
    }
  }

  private scheduleJoin(group: ClassicGroup, initial: boolean, delayMs: number, remainingMs: number): void {
    if (group.joinOp) clearTimeout(group.joinOp.timer);
    const op: DelayedJoin = { initial, delayMs, remainingMs, timer: unrefTimer(() => this.onJoinTimer(group, op), delayMs) };
    group.joinOp = op;
  }

  private onJoinTimer(group: ClassicGroup, op: DelayedJoin): void {
    if (group.joinOp !== op || !this.isLive(group)) return;
    group.joinOp = null;
    if (op.initial && group.newMemberAdded && op.remainingMs !== 0) {
      // Kafka's InitialDelayedJoin: wait another delay while members keep arriving, within the
      // rebalance timeout.
      group.newMemberAdded = false;
      const delay = Math.min(this.initialRebalanceDelayMs, op.remainingMs);
      this.scheduleJoin(group, true, delay, Math.max(op.remainingMs - op.delayMs, 0));
      return;
    }
    this.onCompleteJoin(group);
  }

  /** Completes the join phase early once every member (and no pending id) has joined. */
  private tryCompleteJoin(group: ClassicGroup): void {
    const op = group.joinOp;
    if (!op || op.initial || !group.hasAllMembersJoined()) return;
    clearTimeout(op.timer);
    group.joinOp = null;
    this.onCompleteJoin(group);
  }

  private onCompleteJoin(group: ClassicGroup): void {
    group.newMemberAdded = false;
    // Dynamic members that did not rejoin in time are dropped; static ones stay until their session
    // expires, so a restarting static member keeps its place.
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin && m.groupInstanceId === null) group.remove(m.memberId);
    }
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // Only static members that have not rejoined are left: wait for them (or their expiry).
      this.log?.warn({ groupId: group.groupId }, 'no member rejoined before the rebalance timeout; waiting again');
      this.scheduleJoin(group, false, group.rebalanceTimeoutMs(), 0);
      return;
    }
    group.generationId++;
    group.pendingSyncMembers.clear();
    if (group.size === 0) {
      group.protocolName = null;
      this.transition(group, 'Empty');
      this.log?.info({ groupId: group.groupId, generationId: group.generationId }, 'group is now empty');
      this.storeGroup(group, new Map(), (errorCode) => {
        // No member depends on this record; a lost write only leaves an older generation on disk.
        if (errorCode !== E.NONE) {
          this.log?.warn({ groupId: group.groupId, error: kafkaErrorName(errorCode) }, 'failed to persist empty group');
        }
      });
      return;
    }
    group.protocolName = group.selectProtocol();
    this.transition(group, 'CompletingRebalance');
    this.log?.info(
      { groupId: group.groupId, generationId: group.generationId, protocol: group.protocolName, members: group.size },
      'join phase complete',
    );
    const leaderMembers = group.currentMemberMetadata();
    for (const m of group.members.values()) {
      invokeJoin(m, this.joinResult(group, m, m.memberId === group.leaderId ? leaderMembers : []));
      this.scheduleHeartbeatExpiration(group, m, m.sessionTimeoutMs);
      m.isNew = false;
      group.pendingSyncMembers.add(m.memberId);
    }
    this.schedulePendingSync(group);
  }

  /** Members that never send SyncGroup within the rebalance timeout are removed (Kafka's DelayedSync). */
  private schedulePendingSync(group: ClassicGroup): void {
    if (group.syncTimer) clearTimeout(group.syncTimer);
    const generationId = group.generationId;
    group.syncTimer = unrefTimer(() => this.onPendingSyncExpired(group, generationId), group.rebalanceTimeoutMs());
  }

  private onPendingSyncExpired(group: ClassicGroup, generationId: number): void {
    group.syncTimer = null;
    if (!this.isLive(group) || group.generationId !== generationId) return;
    if (group.state !== 'CompletingRebalance' && group.state !== 'Stable') return;
    if (group.pendingSyncMembers.size === 0) return;
    const missing = [...group.pendingSyncMembers];
    for (const id of missing) group.remove(id);
    this.prepareRebalance(group, `members did not send SyncGroup in time: ${missing.join(', ')}`);
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0 && group.syncTimer) {
      clearTimeout(group.syncTimer);
      group.syncTimer = null;
    }
  }

  private removeSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    if (group.syncTimer) clearTimeout(group.syncTimer);
    group.syncTimer = null;
  }

  private scheduleHeartbeatExpiration(group: ClassicGroup, member: Member, timeoutMs: number): void {
    if (member.heartbeatTimer) clearTimeout(member.heartbeatTimer);
    member.heartbeatTimer = unrefTimer(() => this.onHeartbeatExpired(group, member), timeoutMs);
  }

  private onHeartbeatExpired(group: ClassicGroup, member: Member): void {
    member.heartbeatTimer = null;
    if (!this.isLive(group) || group.members.get(member.memberId) !== member) return;
    // A known member waiting in JoinGroup/SyncGroup cannot heartbeat; its session restarts when the
    // response goes out. A new member's timer is its join timeout and does expire.
    if (!member.isNew && (member.awaitingJoin || member.awaitingSync)) return;
    this.log?.info({ groupId: group.groupId, memberId: member.memberId }, 'member session expired');
    this.removeMemberAndUpdateGroup(group, member, 'session timeout');
  }

  private onPendingMemberExpired(group: ClassicGroup, memberId: string): void {
    if (!this.isLive(group) || !group.pendingMembers.has(memberId)) return;
    this.removePendingMemberAndUpdateGroup(group, memberId);
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: Member, reason: string): void {
    // A pending JoinGroup of the removed member is answered (with UNKNOWN_MEMBER_ID) by remove().
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group, `member ${member.memberId} ${reason}`);
        return;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        return;
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  private removePendingMemberAndUpdateGroup(group: ClassicGroup, memberId: string): void {
    group.remove(memberId);
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
  }

  /** Writes the group's metadata record, then calls `done` with a Kafka error code (NONE on success). */
  private storeGroup(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>, done: (errorCode: number) => void): void {
    const persistence = this.persistence;
    if (!persistence) return done(E.NONE);
    let key: Buffer;
    let value: Buffer;
    try {
      key = encodeGroupMetadataKey(group.groupId);
      value = encodeGroupMetadataValue(this.groupRecord(group, assignment));
    } catch (err) {
      this.log?.error({ groupId: group.groupId, err }, 'cannot encode group metadata');
      return done(E.UNKNOWN_SERVER_ERROR);
    }
    let write: Promise<void>;
    try {
      write = persistence.storeGroup(group.groupId, key, value);
    } catch (err) {
      write = Promise.reject(err);
    }
    write.then(
      () => done(E.NONE),
      (err: unknown) => {
        this.log?.warn({ groupId: group.groupId, err }, 'failed to store group metadata');
        done(groupStoreErrorCode(err));
      },
    );
  }

  private groupRecord(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): GroupMetadataRecord {
    const protocol = group.protocolName;
    return {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol,
      leader: group.leaderId,
      currentStateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: protocol !== null ? m.metadata(protocol) : EMPTY,
        assignment: assignment.get(m.memberId) ?? EMPTY,
      })),
    };
  }

  // ---------------------------------------------------------------- helpers

  /** Kafka's validateCurrentMember: a static member's instance id must map to its member id. */
  private validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number | null {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current === undefined) return E.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return E.FENCED_INSTANCE_ID;
    }
    return group.members.has(memberId) ? null : E.UNKNOWN_MEMBER_ID;
  }

  /**
   * Group-id and coordinator checks every request starts with. Offset and admin APIs accept the empty
   * group id (as Kafka, for compatibility); the membership APIs do not.
   */
  private validateGroupStatus(groupId: string, allowEmptyGroupId: boolean): number | null {
    if (!allowEmptyGroupId && groupId === '') return E.INVALID_GROUP_ID;
    if (this.closed) return E.COORDINATOR_NOT_AVAILABLE;
    return null;
  }

  private createGroup(groupId: string): ClassicGroup {
    const group = new ClassicGroup(groupId, this.now());
    this.groups.set(groupId, group);
    return group;
  }

  private isLive(group: ClassicGroup): boolean {
    return !this.closed && group.state !== 'Dead' && this.groups.get(group.groupId) === group;
  }

  private transition(group: ClassicGroup, to: GroupStateName): void {
    if (!VALID_PREVIOUS[to].includes(group.state)) {
      throw new Error(`group ${group.groupId}: invalid transition ${group.state} -> ${to}`);
    }
    group.state = to;
    group.stateTimestamp = this.now();
  }
}

function protocolNames(protocols: readonly GroupProtocol[]): Set<string> {
  return new Set(protocols.map((p) => p.name));
}

function rebalanceTimeoutOf(req: JoinGroupRequest): number {
  return req.rebalanceTimeoutMs === undefined || req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs;
}

function reasonSuffix(reason: string | null | undefined): string {
  return reason ? ` (client reason: ${reason})` : '';
}
