/**
 * One member of a classic group (Kafka's MemberMetadata): its protocols, its parked JoinGroup/SyncGroup
 * callbacks and its session timer.
 */
import type { GroupProtocol, JoinGroupResult, SyncGroupResult } from './group-types.js';

export type JoinCallback = (result: JoinGroupResult) => void;
export type SyncCallback = (result: SyncGroupResult) => void;
export type Timer = ReturnType<typeof setTimeout>;

export const EMPTY = Buffer.alloc(0);

/** Timers never keep the process alive. */
export function unrefTimer(fn: () => void, ms: number): Timer {
  const t = setTimeout(fn, Math.max(0, ms));
  t.unref();
  return t;
}

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
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

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class Member {
  awaitingJoin: JoinCallback | null = null;
  awaitingSync: SyncCallback | null = null;
  assignment: Buffer = EMPTY;
  /** Joined but has not yet received a JoinGroup response: its session timer is the join timeout. */
  isNew = false;
  private sessionTimer: Timer | null = null;

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

  /** (Re)starts the session timer; `onExpire` runs once unless the timer is restarted or cleared first. */
  scheduleSession(timeoutMs: number, onExpire: () => void): void {
    this.clearSession();
    this.sessionTimer = unrefTimer(() => {
      this.sessionTimer = null;
      onExpire();
    }, timeoutMs);
  }

  clearSession(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = null;
  }

  /** Answers a parked JoinGroup; false when none was waiting. */
  completeJoin(result: JoinGroupResult): boolean {
    const cb = this.awaitingJoin;
    if (!cb) return false;
    this.awaitingJoin = null;
    cb(result);
    return true;
  }

  /** Answers a parked SyncGroup; false when none was waiting. */
  completeSync(result: SyncGroupResult): boolean {
    const cb = this.awaitingSync;
    if (!cb) return false;
    this.awaitingSync = null;
    cb(result);
    return true;
  }
}
