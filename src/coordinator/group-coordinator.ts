/**
 * The group coordinator: routes group ids to their classic groups (`classic-group.ts`, whose members are
 * in `member.ts`), runs the checks every group request starts with, writes group metadata through the
 * narrow `GroupPersistence` hook in Kafka's record layout, and restores groups from their stored records.
 * Given the offsets store, it also serves committed offsets and loads and unloads the groups of one
 * `__consumer_offsets` partition at a time (Kafka's GroupMetadataManager), so that in a cluster it can
 * follow the partitions' leadership; on a single node every partition is loaded when the store opens.
 * Every answer is a Kafka error code; the wire frontend decodes requests, calls these methods and encodes
 * the results. Timers are real (setTimeout, unref'd).
 */
import type { Logger } from '../engine/types.js';
import { kafkaErrorCodeOf } from '../kafka-protocol/sluice-errors.js';
import { encodeGroupMetadataKey, encodeGroupMetadataValue, decodeGroupMetadataValue } from './group-records.js';
import type { OffsetCommitEntry } from '../engine/types.js';
import { OffsetsStore } from './offsets-store.js';
import type { TopicPartition } from './types.js';
import type {
  DeleteGroupResult,
  GroupCoordinatorOptions,
  GroupDescription,
  GroupListing,
  GroupPersistence,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupMemberResult,
  LeaveGroupRequest,
  LeaveGroupResult,
  OffsetCommitRequest,
  OffsetCommitValidationRequest,
  OffsetFetchResult,
  SyncGroupRequest,
  SyncGroupResult,
} from './group-types.js';
import { ClassicGroup, type GroupConfig, type GroupContext } from './classic-group.js';
import { joinError, syncError, type JoinCallback, type SyncCallback } from './member.js';
import { KafkaErrors as E } from '../kafka-protocol/error-codes.js';

export * from './group-types.js';

export const DEFAULT_MIN_SESSION_TIMEOUT_MS = 6000;
export const DEFAULT_MAX_SESSION_TIMEOUT_MS = 1_800_000;
export const DEFAULT_INITIAL_REBALANCE_DELAY_MS = 3000;
export const DEFAULT_MAX_GROUP_SIZE = 2_147_483_647;
export const DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000;

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
  private readonly persistence: GroupPersistence | undefined;
  /** Set when the persistence is the offsets store: committed offsets and stored groups are asked of it. */
  private readonly store: OffsetsStore | undefined;
  /**
   * `__consumer_offsets` partitions this coordinator serves (only with the store); a load in progress is
   * `loading` until its groups are in. Absent: not the coordinator of that partition's groups.
   */
  private readonly servedPartitions = new Map<number, { loading: boolean }>();
  private readonly log: Logger | undefined;
  /** What every group sees of this coordinator. */
  private readonly groupContext: GroupContext;
  private closed = false;

  constructor(options: GroupCoordinatorOptions = {}) {
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS;
    const config: GroupConfig = {
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? DEFAULT_INITIAL_REBALANCE_DELAY_MS,
      maxGroupSize: options.maxGroupSize ?? DEFAULT_MAX_GROUP_SIZE,
      newMemberJoinTimeoutMs: options.newMemberJoinTimeoutMs ?? DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS,
    };
    this.persistence = options.persistence;
    this.store = options.persistence instanceof OffsetsStore ? options.persistence : undefined;
    const now = options.now ?? Date.now;
    this.log = options.logger;
    this.groupContext = {
      config,
      log: this.log,
      now,
      store: (group, assignment, done) => this.storeGroup(group, assignment, done),
      isLive: (group) => this.isLive(group),
    };
    if (this.store) {
      for (let p = 0; p < this.store.partitions; p++) {
        if (!this.store.isLoaded(p)) continue;
        this.servedPartitions.set(p, { loading: false });
        this.restoreGroups(p);
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- membership APIs

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
    let group = this.groups.get(req.groupId);
    if (!group) {
      // Only a member without id creates a group; a known id for an unknown group is stale.
      if (req.memberId !== '') return cb(joinError(req.memberId, E.UNKNOWN_MEMBER_ID));
      group = this.createGroup(req.groupId);
    }
    group.join(req, cb);
  }

  /** Followers resolve when the leader's assignment is stored; never rejects. */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    return new Promise((resolve) => this.handleSyncGroup(request, resolve));
  }

  private handleSyncGroup(req: SyncGroupRequest, cb: SyncCallback): void {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return cb(syncError(statusError));
    const group = this.groups.get(req.groupId);
    if (!group) return cb(syncError(E.UNKNOWN_MEMBER_ID));
    group.sync(req, cb);
  }

  heartbeat(req: HeartbeatRequest): number {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return statusError;
    const group = this.groups.get(req.groupId);
    if (!group) return E.UNKNOWN_MEMBER_ID;
    return group.heartbeat(req);
  }

  leaveGroup(req: LeaveGroupRequest): LeaveGroupResult {
    const statusError = this.validateGroupStatus(req.groupId, false);
    if (statusError !== null) return { errorCode: statusError, members: [] };
    const group = this.groups.get(req.groupId);
    if (!group) {
      return {
        errorCode: E.NONE,
        members: req.members.map(
          (m): LeaveGroupMemberResult => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, errorCode: E.UNKNOWN_MEMBER_ID }),
        ),
      };
    }
    return group.leave(req);
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
    let group = this.groups.get(req.groupId);
    if (!group) {
      // A positive generation for an unknown group is a commit from an older generation.
      if (req.generationId >= 0) return E.ILLEGAL_GENERATION;
      group = this.createGroup(req.groupId);
    }
    return group.validateOffsetCommit(req);
  }

  /** Offsets are fetched whatever the group state (groups may not use group management at all). */
  validateOffsetFetch(groupId: string): number {
    return this.validateGroupStatus(groupId, true) ?? E.NONE;
  }

  /**
   * OffsetCommit: the group check, then per offset the partition, the metadata size
   * (offset.metadata.max.bytes of the store) and the offset, then one durable write of the valid ones.
   * Answers an error code per entry of `req.offsets`, in order; a failed write fails every offset of its
   * partitions.
   */
  async commitOffsets(req: OffsetCommitRequest): Promise<number[]> {
    const store = this.requireStore();
    const groupError = this.validateOffsetCommit(req);
    const entries: OffsetCommitEntry[] = [];
    const codes = req.offsets.map((o) => {
      if (groupError !== E.NONE) return groupError;
      if (!req.partitionExists(o.topic, o.partition)) return E.UNKNOWN_TOPIC_OR_PARTITION;
      if (o.metadata != null && Buffer.byteLength(o.metadata, 'utf8') > store.maxMetadataBytes) return E.OFFSET_METADATA_TOO_LARGE;
      if (o.offset < 0n) return E.INVALID_REQUEST;
      entries.push(o);
      return E.NONE;
    });
    if (entries.length === 0) return codes;
    try {
      await store.commit(req.groupId, entries);
    } catch (err) {
      const code = groupStoreErrorCode(err);
      this.log?.warn({ err, groupId: req.groupId }, 'offset commit failed');
      const written = new Set(entries.map((e) => tpKey(e.topic, e.partition)));
      req.offsets.forEach((o, i) => {
        if (written.has(tpKey(o.topic, o.partition))) codes[i] = code;
      });
    }
    return codes;
  }

  /** OffsetFetch for one group: every committed offset of the group without `partitions`. */
  fetchOffsets(groupId: string, partitions?: readonly TopicPartition[]): OffsetFetchResult {
    const store = this.requireStore();
    const errorCode = this.validateOffsetFetch(groupId);
    if (errorCode !== E.NONE) return { errorCode, offsets: [] };
    return { errorCode, offsets: store.fetch(groupId, partitions) };
  }

  // ---------------------------------------------------------------- admin

  /**
   * DescribeGroups for one group. Unknown groups describe as Dead with no members and no error, or
   * GROUP_ID_NOT_FOUND from DescribeGroups v6 (pass the request version).
   */
  describeGroup(groupId: string, apiVersion = 0): GroupDescription {
    this.adoptStoredGroups();
    return this.describeOne(groupId, apiVersion);
  }

  /** DescribeGroups for several groups, in order. */
  describeGroups(groupIds: readonly string[], apiVersion = 0): GroupDescription[] {
    this.adoptStoredGroups();
    return groupIds.map((groupId) => this.describeOne(groupId, apiVersion));
  }

  private describeOne(groupId: string, apiVersion: number): GroupDescription {
    const base = { groupId, errorMessage: null, protocolType: '', protocol: '', members: [] };
    const statusError = this.validateGroupStatus(groupId, true);
    if (statusError !== null) return { ...base, errorCode: statusError, state: '' };
    const group = this.groups.get(groupId);
    if (!group) {
      return apiVersion >= 6
        ? { ...base, errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.`, state: 'Dead' }
        : { ...base, errorCode: E.NONE, state: 'Dead' };
    }
    return group.describe();
  }

  /**
   * ListGroups. `statesFilter` (v4+) matches state names case-insensitively; `typesFilter` (v5+) keeps
   * the list only if it includes 'classic', the only group type here. Empty filters match everything.
   */
  listGroups(statesFilter: readonly string[] = [], typesFilter: readonly string[] = []): GroupListing[] {
    if (this.closed) return [];
    this.adoptStoredGroups();
    if (typesFilter.length > 0 && !typesFilter.some((t) => t.toLowerCase() === 'classic')) return [];
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const out: GroupListing[] = [];
    for (const g of this.groups.values()) {
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }

  /** DeleteGroups, one group after the other. */
  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    this.adoptStoredGroups();
    const results: DeleteGroupResult[] = [];
    for (const groupId of groupIds) results.push({ groupId, errorCode: await this.deleteOne(groupId) });
    return results;
  }

  /**
   * DeleteGroups for one group: only an Empty group can go. With the offsets store, its committed offsets
   * and its group-metadata record are deleted in one write (a failed write is the group's error); with
   * another persistence, only the group-metadata tombstone is written.
   */
  async deleteGroup(groupId: string): Promise<number> {
    this.adoptStoredGroups();
    return this.deleteOne(groupId);
  }

  private async deleteOne(groupId: string): Promise<number> {
    const statusError = this.validateGroupStatus(groupId, true);
    if (statusError !== null) return statusError;
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return E.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return E.NON_EMPTY_GROUP;
    group.markDead();
    this.groups.delete(groupId);
    if (this.store) {
      try {
        await this.store.deleteGroup(groupId);
      } catch (err) {
        return groupStoreErrorCode(err);
      }
    } else if (this.persistence) {
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
   * described as Empty. Idempotent; the coordinator does it itself for the groups of its offsets store.
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
    (existing ?? this.createGroup(groupId)).restore(record);
    return true;
  }

  /**
   * Loads one `__consumer_offsets` partition: its records are replayed into the offsets store, then its
   * groups are restored (see `loadGroup`). Meanwhile requests for its groups answer
   * COORDINATOR_LOAD_IN_PROGRESS. A partition already loaded or loading is left as it is.
   */
  async loadPartition(partition: number): Promise<void> {
    const store = this.requireStore();
    if (this.closed || this.servedPartitions.has(partition)) return;
    const state = { loading: true };
    this.servedPartitions.set(partition, state);
    try {
      await store.loadPartition(partition);
    } catch (err) {
      if (this.servedPartitions.get(partition) === state) this.servedPartitions.delete(partition);
      throw err;
    }
    // Unloaded (or closed) while the records were read: stay unloaded.
    if (this.closed || this.servedPartitions.get(partition) !== state) return;
    this.restoreGroups(partition);
    state.loading = false;
    this.log?.info({ partition }, 'loaded group metadata and offsets');
  }

  /**
   * Stops serving one `__consumer_offsets` partition: its groups are dropped (parked JoinGroup/SyncGroup
   * calls get NOT_COORDINATOR, so clients look the coordinator up again), its offsets leave memory, and
   * requests for its groups answer NOT_COORDINATOR. Groups of other partitions are untouched.
   */
  unloadPartition(partition: number): void {
    const store = this.requireStore();
    store.unloadPartition(partition);
    this.servedPartitions.delete(partition);
    for (const [groupId, group] of this.groups) {
      if (store.partitionFor(groupId) !== partition) continue;
      group.shutdown(E.NOT_COORDINATOR);
      this.groups.delete(groupId);
    }
    this.log?.info({ partition }, 'unloaded group metadata and offsets');
  }

  /**
   * Stops the coordinator: clears every timer, answers waiting JoinGroup/SyncGroup calls with
   * NOT_COORDINATOR (clients look the coordinator up again), and answers later calls with
   * COORDINATOR_NOT_AVAILABLE.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of this.groups.values()) group.shutdown(E.NOT_COORDINATOR);
    this.groups.clear();
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Groups with records in the offsets store but no state here become Empty groups. Only when an admin
   * API starts, as the broker always did: adopting them earlier would change what JoinGroup and
   * OffsetCommit answer for a group known only from its offsets.
   */
  private adoptStoredGroups(): void {
    if (!this.store || this.closed) return;
    for (const groupId of this.store.listGroups()) {
      if (!this.groups.has(groupId) && this.servedPartitions.get(this.store.partitionFor(groupId))?.loading === false) this.createGroup(groupId);
    }
  }

  /** Restores the groups of a loaded partition from their stored records. */
  private restoreGroups(partition: number): void {
    for (const [groupId, value] of this.store!.storedGroups(partition)) {
      try {
        this.loadGroup(groupId, value);
      } catch (err) {
        this.log?.warn({ err, groupId }, 'skipping unreadable group metadata record');
      }
    }
  }

  private requireStore(): OffsetsStore {
    if (!this.store) throw new Error('the group coordinator was not given the offsets store');
    return this.store;
  }

  /** Writes the group's metadata record, then calls `done` with a Kafka error code (NONE on success). */
  private storeGroup(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>, done: (errorCode: number) => void): void {
    const persistence = this.persistence;
    if (!persistence) return done(E.NONE);
    let key: Buffer;
    let value: Buffer;
    try {
      key = encodeGroupMetadataKey(group.groupId);
      value = encodeGroupMetadataValue(group.toRecord(assignment));
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

  /**
   * Group-id and coordinator checks every request starts with. Offset and admin APIs accept the empty
   * group id (as Kafka, for compatibility); the membership APIs do not.
   */
  private validateGroupStatus(groupId: string, allowEmptyGroupId: boolean): number | null {
    if (!allowEmptyGroupId && groupId === '') return E.INVALID_GROUP_ID;
    if (this.closed) return E.COORDINATOR_NOT_AVAILABLE;
    if (this.store) {
      const state = this.servedPartitions.get(this.store.partitionFor(groupId));
      if (state === undefined) return E.NOT_COORDINATOR;
      if (state.loading) return E.COORDINATOR_LOAD_IN_PROGRESS;
    }
    return null;
  }

  private createGroup(groupId: string): ClassicGroup {
    const group = new ClassicGroup(groupId, this.groupContext);
    this.groups.set(groupId, group);
    return group;
  }

  private isLive(group: ClassicGroup): boolean {
    return !this.closed && group.state !== 'Dead' && this.groups.get(group.groupId) === group;
  }
}

const tpKey = (topic: string, partition: number): string => `${partition}:${topic}`;
