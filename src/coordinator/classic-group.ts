/**
 * One consumer group under the classic rebalance protocol (Kafka's GroupMetadata plus the per-group half of
 * its GroupCoordinator): membership and the state machine of JoinGroup/SyncGroup/Heartbeat/LeaveGroup.
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
 *     ▲                 ▲      │ (no members left)                              │ leader's SyncGroup
 *     └─────────────────┼──────┘                                                ▼
 *                       └──────── join of a new member / leave / expiry ─── Stable
 *   Empty ──delete──▶ Dead;  (any) ──partition unloaded / coordinator closed──▶ Dead
 *
 * Routing, the checks every request starts with and persistence belong to the coordinator, reached
 * through `GroupContext`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger, Millis } from '../engine/types.js';
import { KafkaErrors as E, kafkaErrorName } from '../kafka-protocol/error-codes.js';
import type { GroupMetadataRecord } from './group-records.js';
import type {
  GroupDescription,
  GroupMemberDescription,
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
} from './group-types.js';
import { EMPTY, Member, joinError, syncError, unrefTimer, type JoinCallback, type SyncCallback, type Timer } from './member.js';

/** The coordinator settings a group's state machine uses (group.* broker configs). */
export interface GroupConfig {
  readonly initialRebalanceDelayMs: number;
  readonly maxGroupSize: number;
  readonly newMemberJoinTimeoutMs: number;
}

/** What a group needs from its coordinator. */
export interface GroupContext {
  readonly config: GroupConfig;
  readonly log: Logger | undefined;
  now(): Millis;
  /** Writes the group's metadata record, then calls `done` with a Kafka error code (NONE on success). */
  store(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>, done: (errorCode: number) => void): void;
  /** Whether the group is still the coordinator's group for its id (not deleted, unloaded or closed). */
  isLive(group: ClassicGroup): boolean;
}

/** Kafka's GroupState.validPreviousStates. */
const VALID_PREVIOUS: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  Empty: ['PreparingRebalance'],
};

interface DelayedJoin {
  timer: Timer;
  /** The initial delay of a group that was Empty: never completes early, extended while members arrive. */
  initial: boolean;
  delayMs: number;
  remainingMs: number;
}

export class ClassicGroup {
  state: GroupStateName = 'Empty';
  stateTimestamp: Millis;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id. */
  private readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, with their expiry timers. */
  private readonly pendingMembers = new Map<string, Timer>();
  private readonly pendingSyncMembers = new Set<string>();
  private readonly supportedProtocols = new Map<string, number>();
  private newMemberAdded = false;
  private joinOp: DelayedJoin | null = null;
  private syncTimer: Timer | null = null;

  constructor(
    readonly groupId: string,
    private readonly ctx: GroupContext,
  ) {
    this.stateTimestamp = ctx.now();
  }

  get size(): number {
    return this.members.size;
  }

  // ---------------------------------------------------------------- JoinGroup

  /** The coordinator has checked the group id and the session timeout, and found or created the group. */
  join(req: JoinGroupRequest, cb: JoinCallback): void {
    if (!this.acceptJoiningMember(req.memberId)) {
      this.remove(req.memberId);
      cb(joinError('', E.GROUP_MAX_SIZE_REACHED));
    } else if (req.memberId === '') {
      this.doNewMemberJoinGroup(req, cb);
    } else {
      this.doCurrentMemberJoinGroup(req, cb);
    }
    if (this.state === 'PreparingRebalance') this.tryCompleteJoin();
  }

  private acceptJoiningMember(memberId: string): boolean {
    const maxGroupSize = this.ctx.config.maxGroupSize;
    switch (this.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        // Counting awaiting members lets the last ones to rejoin an oversized group be turned away.
        return this.members.get(memberId)?.awaitingJoin != null || this.numAwaitingJoin() < maxGroupSize;
      case 'CompletingRebalance':
      case 'Stable':
        return this.members.has(memberId) || this.size < maxGroupSize;
    }
  }

  private doNewMemberJoinGroup(req: JoinGroupRequest, cb: JoinCallback): void {
    if (this.state === 'Dead') return cb(joinError('', E.COORDINATOR_NOT_AVAILABLE));
    if (!this.supportsProtocols(req.protocolType, protocolNames(req.protocols))) {
      return cb(joinError('', E.INCONSISTENT_GROUP_PROTOCOL));
    }
    const instanceId = req.groupInstanceId ?? null;
    const newMemberId = `${instanceId ?? req.clientId}-${randomUUID()}`;
    if (instanceId !== null) {
      const oldMemberId = this.staticMembers.get(instanceId);
      if (oldMemberId !== undefined) {
        this.updateStaticMemberAndRebalance(oldMemberId, newMemberId, instanceId, req, cb);
      } else {
        this.addMemberAndRebalance(newMemberId, req, cb);
      }
    } else if (req.requireKnownMemberId) {
      // KIP-394: hand out the id first; the member becomes real when it rejoins with it.
      this.pendingMembers.set(
        newMemberId,
        unrefTimer(() => this.onPendingMemberExpired(newMemberId), req.sessionTimeoutMs),
      );
      cb(joinError(newMemberId, E.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(newMemberId, req, cb);
    }
  }

  private doCurrentMemberJoinGroup(req: JoinGroupRequest, cb: JoinCallback): void {
    const memberId = req.memberId;
    const instanceId = req.groupInstanceId ?? null;
    if (this.state === 'Dead') return cb(joinError(memberId, E.COORDINATOR_NOT_AVAILABLE));
    if (!this.supportsProtocols(req.protocolType, protocolNames(req.protocols))) {
      return cb(joinError(memberId, E.INCONSISTENT_GROUP_PROTOCOL));
    }
    if (this.pendingMembers.has(memberId)) {
      // Pending ids are only handed to dynamic members; a static one must rejoin without an id.
      if (instanceId !== null) return cb(joinError(memberId, E.UNKNOWN_MEMBER_ID));
      this.addMemberAndRebalance(memberId, req, cb);
      return;
    }
    const memberError = this.validateCurrentMember(memberId, instanceId);
    if (memberError !== null) return cb(joinError(memberId, memberError));
    const member = this.members.get(memberId)!;
    const rebalanceTimeoutMs = rebalanceTimeoutOf(req);
    switch (this.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member rejoined');
        return;
      case 'CompletingRebalance':
        if (member.matches(req.protocols)) {
          // The member probably missed the JoinGroup response: answer it again for this generation.
          cb(this.joinResult(member, this.leaderId === memberId ? this.currentMemberMetadata() : []));
        } else {
          this.updateMemberAndRebalance(member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member metadata changed');
        }
        return;
      case 'Stable':
        if (this.leaderId === memberId) {
          // A leader's rejoin forces a rebalance: it is how the leader reacts to topic metadata changes.
          this.updateMemberAndRebalance(member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'leader rejoined');
        } else if (!member.matches(req.protocols)) {
          this.updateMemberAndRebalance(member, req.protocols, rebalanceTimeoutMs, req.sessionTimeoutMs, cb, 'member metadata changed');
        } else {
          cb(this.joinResult(member, []));
        }
        return;
      case 'Empty':
        cb(joinError(memberId, E.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  private joinResult(member: Member, members: JoinGroupMember[]): JoinGroupResult {
    return {
      errorCode: E.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      memberId: member.memberId,
      skipAssignment: false,
      members,
    };
  }

  private addMemberAndRebalance(memberId: string, req: JoinGroupRequest, cb: JoinCallback): void {
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
    if (this.state === 'PreparingRebalance' && this.joinOp?.initial) this.newMemberAdded = true;
    this.add(member, cb);
    // A new member cannot heartbeat before its first JoinGroup response, so it gets a join timeout
    // instead; a client that gave up and retried does not leave a ghost member forever.
    this.scheduleHeartbeatExpiration(member, this.ctx.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(`new member ${memberId} joined${reasonSuffix(req.reason)}`);
  }

  private updateMemberAndRebalance(
    member: Member,
    protocols: GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    cb: JoinCallback,
    reason: string,
  ): void {
    this.updateMember(member, protocols, rebalanceTimeoutMs, sessionTimeoutMs, cb);
    this.maybePrepareRebalance(`${reason}: ${member.memberId}`);
  }

  /** KIP-345: a known group.instance.id rejoining without member id takes over the old member. */
  private updateStaticMemberAndRebalance(
    oldMemberId: string,
    newMemberId: string,
    instanceId: string,
    req: JoinGroupRequest,
    cb: JoinCallback,
  ): void {
    const currentLeader = this.leaderId;
    const member = this.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    this.scheduleHeartbeatExpiration(member, member.sessionTimeoutMs);
    const oldProtocols = member.protocols;
    const oldRebalanceTimeoutMs = member.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = member.sessionTimeoutMs;
    this.updateMember(member, req.protocols, rebalanceTimeoutOf(req), req.sessionTimeoutMs, cb);

    switch (this.state) {
      case 'Stable': {
        // No rebalance unless the rejoin changes the protocol the group would select (as Kafka).
        if (this.protocolName !== this.selectProtocol()) {
          this.maybePrepareRebalance(`static member ${instanceId} rejoined with a protocol change`);
          return;
        }
        const assignment = new Map<string, Buffer>();
        for (const m of this.members.values()) assignment.set(m.memberId, m.assignment);
        this.ctx.store(this, assignment, (errorCode) => {
          if (member.awaitingJoin !== cb) return; // answered meanwhile (fenced again, removed, closed)
          if (errorCode !== E.NONE) {
            this.ctx.log?.warn({ groupId: this.groupId, error: kafkaErrorName(errorCode) }, 'failed to persist static member replacement');
            this.updateMember(member, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
            if (this.ctx.isLive(this) && this.members.get(newMemberId) === member) {
              const old = this.replaceStaticMember(instanceId, newMemberId, oldMemberId);
              this.scheduleHeartbeatExpiration(old, old.sessionTimeoutMs);
            }
            cb({
              ...joinError('', errorCode),
              generationId: this.generationId,
              protocolType: this.protocolType,
              protocolName: this.protocolName,
              leader: currentLeader ?? '',
            });
            return;
          }
          // If a rebalance started meanwhile, the member's join is answered by that rebalance.
          if (this.state !== 'Stable') return;
          const isLeader = this.leaderId === newMemberId;
          if (req.supportSkippingAssignment) {
            // JoinGroup v9+: the static leader learns it leads but must not re-run the assignor.
            member.completeJoin({
              ...this.joinResult(member, isLeader ? this.currentMemberMetadata() : []),
              skipAssignment: isLeader,
            });
          } else {
            // Older clients get the old leader id, so a returning leader does not compute an assignment
            // that a Stable group would never distribute.
            member.completeJoin({ ...this.joinResult(member, []), leader: currentLeader ?? '' });
          }
        });
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning for the old id: start over.
        this.prepareRebalance(`static member ${instanceId} rejoined during CompletingRebalance`);
        return;
      case 'PreparingRebalance':
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(req: SyncGroupRequest, cb: SyncCallback): void {
    const validationError = this.validateSyncGroup(req);
    if (validationError !== null) return cb(syncError(validationError));
    const member = this.members.get(req.memberId)!;
    switch (this.state) {
      case 'Empty':
        return cb(syncError(E.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return cb(syncError(E.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        member.completeSync(syncError(E.REBALANCE_IN_PROGRESS)); // a duplicate SyncGroup replaces the older one
        member.awaitingSync = cb;
        this.removePendingSyncMember(req.memberId);
        if (this.leaderId !== req.memberId) return;
        const generationId = this.generationId;
        const assignment = new Map<string, Buffer>();
        for (const a of req.assignments) assignment.set(a.memberId, a.assignment);
        for (const id of this.members.keys()) {
          if (!assignment.has(id)) {
            this.ctx.log?.warn({ groupId: this.groupId, memberId: id, generationId }, 'leader sent no assignment for member; using an empty one');
            assignment.set(id, EMPTY);
          }
        }
        this.ctx.store(this, assignment, (errorCode) => {
          // A join, leave or expiry may have moved the group on while the write was in flight.
          if (!this.ctx.isLive(this) || this.state !== 'CompletingRebalance' || this.generationId !== generationId) return;
          if (errorCode !== E.NONE) {
            this.resetAndPropagateAssignmentError(errorCode);
            this.maybePrepareRebalance(`storing the assignment failed: ${kafkaErrorName(errorCode)}`);
          } else {
            this.setAndPropagateAssignment(assignment);
            this.transition('Stable');
            this.ctx.log?.info({ groupId: this.groupId, generationId, members: this.size }, 'group stable');
          }
        });
        return;
      }
      case 'Stable':
        this.removePendingSyncMember(req.memberId);
        cb({ errorCode: E.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: member.assignment });
        this.scheduleHeartbeatExpiration(member, member.sessionTimeoutMs);
        return;
      case 'Dead':
        return cb(syncError(E.COORDINATOR_NOT_AVAILABLE));
    }
  }

  private validateSyncGroup(req: SyncGroupRequest): number | null {
    if (this.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(req.memberId, req.groupInstanceId ?? null);
    if (memberError !== null) return memberError;
    if (req.generationId !== this.generationId) return E.ILLEGAL_GENERATION;
    if (req.protocolType != null && req.protocolType !== this.protocolType) return E.INCONSISTENT_GROUP_PROTOCOL;
    if (req.protocolName != null && req.protocolName !== this.protocolName) return E.INCONSISTENT_GROUP_PROTOCOL;
    return null;
  }

  private setAndPropagateAssignment(assignment: ReadonlyMap<string, Buffer>): void {
    for (const m of this.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
    this.propagateAssignment(E.NONE);
  }

  private resetAndPropagateAssignmentError(errorCode: number): void {
    for (const m of this.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(errorCode);
  }

  private propagateAssignment(errorCode: number): void {
    const ok = errorCode === E.NONE;
    for (const m of this.members.values()) {
      const delivered = m.completeSync({
        errorCode,
        protocolType: ok ? this.protocolType : null,
        protocolName: ok ? this.protocolName : null,
        assignment: m.assignment,
      });
      // Expiries were ignored while the member waited; its session restarts now.
      if (delivered) this.scheduleHeartbeatExpiration(m, m.sessionTimeoutMs);
    }
  }

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup, OffsetCommit

  heartbeat(req: HeartbeatRequest): number {
    if (this.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(req.memberId, req.groupInstanceId ?? null);
    if (memberError !== null) return memberError;
    if (req.generationId !== this.generationId) return E.ILLEGAL_GENERATION;
    const member = this.members.get(req.memberId)!;
    switch (this.state) {
      case 'Empty':
        return E.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      // Clients may heartbeat between their JoinGroup and SyncGroup responses.
      case 'Stable':
        this.scheduleHeartbeatExpiration(member, member.sessionTimeoutMs);
        return E.NONE;
      case 'PreparingRebalance':
        this.scheduleHeartbeatExpiration(member, member.sessionTimeoutMs);
        return E.REBALANCE_IN_PROGRESS;
    }
  }

  leave(req: LeaveGroupRequest): LeaveGroupResult {
    if (this.state === 'Dead') return { errorCode: E.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = req.members.map((leaving) => {
      const instanceId = leaving.groupInstanceId ?? null;
      const why = `left the group${reasonSuffix(leaving.reason)}`;
      if (leaving.memberId === '') {
        // Administrative removal of a static member by instance id alone.
        const current = instanceId !== null ? this.staticMembers.get(instanceId) : undefined;
        if (current === undefined) return leaveResult('', instanceId, E.UNKNOWN_MEMBER_ID);
        this.removeMemberAndUpdateGroup(this.members.get(current)!, why);
        return leaveResult('', instanceId, E.NONE);
      }
      if (this.pendingMembers.has(leaving.memberId)) {
        this.removePendingMemberAndUpdateGroup(leaving.memberId);
        return leaveResult(leaving.memberId, instanceId, E.NONE);
      }
      const memberError = this.validateCurrentMember(leaving.memberId, instanceId);
      if (memberError !== null) return leaveResult(leaving.memberId, instanceId, memberError);
      this.removeMemberAndUpdateGroup(this.members.get(leaving.memberId)!, why);
      return leaveResult(leaving.memberId, instanceId, E.NONE);
    });
    return { errorCode: E.NONE, members };
  }

  /** Kafka's validateOffsetCommit for a known group; counts as a heartbeat for members. */
  validateOffsetCommit(req: OffsetCommitValidationRequest): number {
    const instanceId = req.groupInstanceId ?? null;
    if (this.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE;
    if (req.generationId < 0 && this.state === 'Empty') return E.NONE;
    if (req.generationId >= 0 || req.memberId !== '' || instanceId !== null) {
      const memberError = this.validateCurrentMember(req.memberId, instanceId);
      if (memberError !== null) return memberError;
      if (req.generationId !== this.generationId) return E.ILLEGAL_GENERATION;
    } else if (this.state !== 'Empty') {
      return E.UNKNOWN_MEMBER_ID; // only members commit for a group with members
    }
    switch (this.state) {
      case 'Empty':
        return E.NONE;
      case 'Stable':
      case 'PreparingRebalance': {
        // Commits are allowed during PreparingRebalance; the heartbeat tells the member to rejoin.
        const member = this.members.get(req.memberId)!;
        this.scheduleHeartbeatExpiration(member, member.sessionTimeoutMs);
        return E.NONE;
      }
      case 'CompletingRebalance':
        // The member has the new generation but no assignment yet.
        return E.REBALANCE_IN_PROGRESS;
    }
  }

  // ---------------------------------------------------------------- describe, restore, end

  describe(): GroupDescription {
    const stableProtocol = this.state === 'Stable' ? this.protocolName : null;
    const members: GroupMemberDescription[] = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      metadata: stableProtocol !== null ? m.metadata(stableProtocol) : EMPTY,
      assignment: stableProtocol !== null ? m.assignment : EMPTY,
    }));
    return {
      groupId: this.groupId,
      errorMessage: null,
      errorCode: E.NONE,
      state: this.state,
      protocolType: this.protocolType ?? '',
      protocol: stableProtocol ?? '',
      members,
    };
  }

  /** The group's metadata record with the given assignment, in Kafka's layout. */
  toRecord(assignment: ReadonlyMap<string, Buffer>): GroupMetadataRecord {
    const protocol = this.protocolName;
    return {
      protocolType: this.protocolType ?? '',
      generation: this.generationId,
      protocol,
      leader: this.leaderId,
      currentStateTimestamp: this.stateTimestamp,
      members: [...this.members.values()].map((m) => ({
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

  /**
   * Takes generation and protocol type from a stored record. Members do not come back (their connections
   * are gone): they rejoin, and the generation continues from the stored one.
   */
  restore(record: GroupMetadataRecord): void {
    this.generationId = record.generation;
    this.protocolType = record.protocolType === '' ? null : record.protocolType;
    this.protocolName = null;
    this.leaderId = null;
    // An Empty record's timestamp is when the group emptied; otherwise it empties now.
    this.stateTimestamp = record.members.length === 0 && record.currentStateTimestamp >= 0 ? record.currentStateTimestamp : this.ctx.now();
  }

  /** An Empty group being deleted. */
  markDead(): void {
    this.transition('Dead');
    this.clearTimers();
  }

  /**
   * The coordinator stops serving the group (close, or its `__consumer_offsets` partition unloaded): timers
   * stop and parked JoinGroup/SyncGroup calls get `errorCode`, so clients look the coordinator up again.
   */
  shutdown(errorCode: number): void {
    this.clearTimers();
    this.state = 'Dead';
    for (const m of this.members.values()) {
      m.completeJoin(joinError(m.memberId, errorCode));
      m.completeSync(syncError(errorCode));
    }
  }

  clearTimers(): void {
    if (this.joinOp) clearTimeout(this.joinOp.timer);
    this.joinOp = null;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    for (const t of this.pendingMembers.values()) clearTimeout(t);
    this.pendingMembers.clear();
    for (const m of this.members.values()) m.clearSession();
  }

  // ---------------------------------------------------------------- membership

  private numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin) n++;
    return n;
  }

  private hasAllMembersJoined(): boolean {
    return this.numAwaitingJoin() === this.members.size && this.pendingMembers.size === 0;
  }

  private rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  private add(member: Member, callback: JoinCallback | null): void {
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
  private remove(memberId: string): void {
    const m = this.members.get(memberId);
    if (m) {
      this.members.delete(memberId);
      this.countProtocols(m, -1);
      if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === memberId) {
        this.staticMembers.delete(m.groupInstanceId);
      }
      m.clearSession();
      m.completeJoin(joinError('', E.UNKNOWN_MEMBER_ID));
      m.completeSync(syncError(E.UNKNOWN_MEMBER_ID));
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
  private updateMember(
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
    if (callback !== null) member.completeJoin(joinError(member.memberId, E.REBALANCE_IN_PROGRESS));
    member.awaitingJoin = callback;
  }

  /** Gives a static member a new member id; requests still waiting under the old id are fenced. */
  private replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): Member {
    const m = this.members.get(oldMemberId);
    if (!m) throw new Error(`cannot replace unknown member ${oldMemberId}`);
    this.members.delete(oldMemberId);
    m.completeJoin(joinError(oldMemberId, E.FENCED_INSTANCE_ID));
    m.completeSync(syncError(E.FENCED_INSTANCE_ID));
    m.memberId = newMemberId;
    this.members.set(newMemberId, m);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    // The new id owes the SyncGroup the old one owed.
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return m;
  }

  /** Keeps the leader if it rejoined, else picks a member that did; false when none rejoined. */
  private maybeElectNewJoinedLeader(): boolean {
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

  private supportsProtocols(protocolType: string, names: ReadonlySet<string>): boolean {
    if (this.state === 'Empty') return protocolType !== '' && names.size > 0;
    if (this.protocolType !== protocolType) return false;
    for (const n of names) if ((this.supportedProtocols.get(n) ?? 0) === this.members.size) return true;
    return false;
  }

  /** Kafka's vote: each member votes for its most preferred protocol that all members support. */
  private selectProtocol(): string {
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

  private currentMemberMetadata(): JoinGroupMember[] {
    const protocol = this.protocolName;
    if (protocol === null) throw new Error(`group ${this.groupId} has no protocol`);
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(protocol),
    }));
  }

  private countProtocols(member: Member, delta: number): void {
    for (const p of member.protocols) {
      const n = (this.supportedProtocols.get(p.name) ?? 0) + delta;
      if (n === 0) this.supportedProtocols.delete(p.name);
      else this.supportedProtocols.set(p.name, n);
    }
  }

  /** Kafka's validateCurrentMember: a static member's instance id must map to its member id. */
  private validateCurrentMember(memberId: string, groupInstanceId: string | null): number | null {
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return E.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return E.FENCED_INSTANCE_ID;
    }
    return this.members.has(memberId) ? null : E.UNKNOWN_MEMBER_ID;
  }

  // ---------------------------------------------------------------- rebalance machinery

  private maybePrepareRebalance(reason: string): void {
    if (VALID_PREVIOUS.PreparingRebalance.includes(this.state)) this.prepareRebalance(reason);
  }

  private prepareRebalance(reason: string): void {
    // Members waiting for an assignment must rejoin instead.
    if (this.state === 'CompletingRebalance') this.resetAndPropagateAssignmentError(E.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration();
    const fromEmpty = this.state === 'Empty';
    const rebalanceTimeoutMs = this.rebalanceTimeoutMs();
    this.transition('PreparingRebalance');
    this.ctx.log?.info({ groupId: this.groupId, generationId: this.generationId, reason }, 'preparing to rebalance group');
    if (fromEmpty) {
      const delay = this.ctx.config.initialRebalanceDelayMs;
      this.scheduleJoin(true, delay, Math.max(rebalanceTimeoutMs - delay, 0));
    } else {
      this.scheduleJoin(false, rebalanceTimeoutMs, 0);
      this.tryCompleteJoin();
    }
  }

  private scheduleJoin(initial: boolean, delayMs: number, remainingMs: number): void {
    if (this.joinOp) clearTimeout(this.joinOp.timer);
    const op: DelayedJoin = { initial, delayMs, remainingMs, timer: unrefTimer(() => this.onJoinTimer(op), delayMs) };
    this.joinOp = op;
  }

  private onJoinTimer(op: DelayedJoin): void {
    if (this.joinOp !== op || !this.ctx.isLive(this)) return;
    this.joinOp = null;
    if (op.initial && this.newMemberAdded && op.remainingMs !== 0) {
      // Kafka's InitialDelayedJoin: wait another delay while members keep arriving, within the
      // rebalance timeout.
      this.newMemberAdded = false;
      const delay = Math.min(this.ctx.config.initialRebalanceDelayMs, op.remainingMs);
      this.scheduleJoin(true, delay, Math.max(op.remainingMs - op.delayMs, 0));
      return;
    }
    this.onCompleteJoin();
  }

  /** Completes the join phase early once every member (and no pending id) has joined. */
  private tryCompleteJoin(): void {
    const op = this.joinOp;
    if (!op || op.initial || !this.hasAllMembersJoined()) return;
    clearTimeout(op.timer);
    this.joinOp = null;
    this.onCompleteJoin();
  }

  private onCompleteJoin(): void {
    const log = this.ctx.log;
    this.newMemberAdded = false;
    // Dynamic members that did not rejoin in time are dropped; static ones stay until their session
    // expires, so a restarting static member keeps its place.
    for (const m of [...this.members.values()]) {
      if (!m.awaitingJoin && m.groupInstanceId === null) this.remove(m.memberId);
    }
    if (!this.maybeElectNewJoinedLeader() && this.size > 0) {
      // Only static members that have not rejoined are left: wait for them (or their expiry).
      log?.warn({ groupId: this.groupId }, 'no member rejoined before the rebalance timeout; waiting again');
      this.scheduleJoin(false, this.rebalanceTimeoutMs(), 0);
      return;
    }
    this.generationId++;
    this.pendingSyncMembers.clear();
    if (this.size === 0) {
      this.protocolName = null;
      this.transition('Empty');
      log?.info({ groupId: this.groupId, generationId: this.generationId }, 'group is now empty');
      this.ctx.store(this, new Map(), (errorCode) => {
        // No member depends on this record; a lost write only leaves an older generation on disk.
        if (errorCode !== E.NONE) {
          log?.warn({ groupId: this.groupId, error: kafkaErrorName(errorCode) }, 'failed to persist empty group');
        }
      });
      return;
    }
    this.protocolName = this.selectProtocol();
    this.transition('CompletingRebalance');
    log?.info(
      { groupId: this.groupId, generationId: this.generationId, protocol: this.protocolName, members: this.size },
      'join phase complete',
    );
    const leaderMembers = this.currentMemberMetadata();
    for (const m of this.members.values()) {
      m.completeJoin(this.joinResult(m, m.memberId === this.leaderId ? leaderMembers : []));
      this.scheduleHeartbeatExpiration(m, m.sessionTimeoutMs);
      m.isNew = false;
      this.pendingSyncMembers.add(m.memberId);
    }
    this.schedulePendingSync();
  }

  /** Members that never send SyncGroup within the rebalance timeout are removed (Kafka's DelayedSync). */
  private schedulePendingSync(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    const generationId = this.generationId;
    this.syncTimer = unrefTimer(() => this.onPendingSyncExpired(generationId), this.rebalanceTimeoutMs());
  }

  private onPendingSyncExpired(generationId: number): void {
    this.syncTimer = null;
    if (!this.ctx.isLive(this) || this.generationId !== generationId) return;
    if (this.state !== 'CompletingRebalance' && this.state !== 'Stable') return;
    if (this.pendingSyncMembers.size === 0) return;
    const missing = [...this.pendingSyncMembers];
    for (const id of missing) this.remove(id);
    this.prepareRebalance(`members did not send SyncGroup in time: ${missing.join(', ')}`);
  }

  private removePendingSyncMember(memberId: string): void {
    this.pendingSyncMembers.delete(memberId);
    if (this.pendingSyncMembers.size === 0 && this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
  }

  private removeSyncExpiration(): void {
    this.pendingSyncMembers.clear();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  private scheduleHeartbeatExpiration(member: Member, timeoutMs: number): void {
    member.scheduleSession(timeoutMs, () => this.onHeartbeatExpired(member));
  }

  private onHeartbeatExpired(member: Member): void {
    if (!this.ctx.isLive(this) || this.members.get(member.memberId) !== member) return;
    // A known member waiting in JoinGroup/SyncGroup cannot heartbeat; its session restarts when the
    // response goes out. A new member's timer is its join timeout and does expire.
    if (!member.isNew && (member.awaitingJoin || member.awaitingSync)) return;
    this.ctx.log?.info({ groupId: this.groupId, memberId: member.memberId }, 'member session expired');
    this.removeMemberAndUpdateGroup(member, 'session timeout');
  }

  private onPendingMemberExpired(memberId: string): void {
    if (!this.ctx.isLive(this) || !this.pendingMembers.has(memberId)) return;
    this.removePendingMemberAndUpdateGroup(memberId);
  }

  private removeMemberAndUpdateGroup(member: Member, reason: string): void {
    // A pending JoinGroup of the removed member is answered (with UNKNOWN_MEMBER_ID) by remove().
    this.remove(member.memberId);
    switch (this.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(`member ${member.memberId} ${reason}`);
        return;
      case 'PreparingRebalance':
        this.tryCompleteJoin();
        return;
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  private removePendingMemberAndUpdateGroup(memberId: string): void {
    this.remove(memberId);
    if (this.state === 'PreparingRebalance') this.tryCompleteJoin();
  }

  private transition(to: GroupStateName): void {
    if (!VALID_PREVIOUS[to].includes(this.state)) {
      throw new Error(`group ${this.groupId}: invalid transition ${this.state} -> ${to}`);
    }
    this.state = to;
    this.stateTimestamp = this.ctx.now();
  }
}

function leaveResult(memberId: string, groupInstanceId: string | null, errorCode: number): LeaveGroupMemberResult {
  return { memberId, groupInstanceId, errorCode };
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
