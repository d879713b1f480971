/**
 * A broker's registration in etcd: `<prefix>/brokers/<broker.id>` bound to a lease whose TTL is
 * `broker.session.timeout.ms` (Kafka's default 9000 ms; etcd leases count whole seconds, so it is rounded up),
 * kept alive while the broker runs, revoked when it closes. A broker killed without closing (SIGKILL, a crash)
 * stops renewing, and etcd deletes its key when the TTL passes: every key under `<prefix>/brokers/` is a live
 * broker (or one within its TTL).
 *
 * Limit of this slice: ONE broker per cluster prefix. Until the controller slice assigns replicas and leaders,
 * every broker would lead every partition of the shared topics, so registration succeeds only when no broker at
 * all is registered under the prefix (one transaction: a compare of the whole `brokers/` range against
 * "no key exists", so two brokers starting at once cannot both pass). Another live broker with a different id,
 * or a live broker with the same id, refuses the start with a one-line error.
 */
import { hostname } from 'node:os';
import type { Lease } from 'etcd3';
import { SluiceError } from '../errors.js';
import type { EtcdConnection } from './etcd.js';

/** Kafka's broker.session.timeout.ms default. */
export const DEFAULT_BROKER_SESSION_TIMEOUT_MS = 9000;

export interface BrokerRegistrationOptions {
  brokerId: number;
  /** The registration's lease TTL (broker.session.timeout.ms), rounded up to whole seconds. Default 9000. */
  sessionTimeoutMs?: number;
  /** Called when the lease is lost while the broker runs (etcd unreachable past the TTL). */
  onLost?: (err: Error) => void;
}

/** The range end that makes [key, end) cover every key starting with `key` (etcd's prefix convention). */
function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export class BrokerRegistration {
  private revoked: Promise<void> | null = null;

  private constructor(
    private readonly etcd: EtcdConnection,
    private readonly lease: Lease,
    readonly brokerId: number,
    /** The registration's key, `<prefix>/brokers/<id>`. */
    readonly key: string,
    readonly ttlSeconds: number,
  ) {}

  /**
   * Grants the lease and registers `brokerId`, or throws: METADATA_UNAVAILABLE when etcd does not answer within
   * the connection's bound, INVALID_CONFIG when a live broker is already registered under the prefix.
   */
  static async register(etcd: EtcdConnection, options: BrokerRegistrationOptions): Promise<BrokerRegistration> {
    const { brokerId } = options;
    const sessionMs = options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS;
    if (!Number.isSafeInteger(sessionMs) || sessionMs < 1) {
      throw new SluiceError('INVALID_ARGUMENT', `broker session timeout must be a positive integer of ms, got ${sessionMs}`);
    }
    const ttlSeconds = Math.max(1, Math.ceil(sessionMs / 1000));
    const dir = etcd.key('brokers') + '/';
    const key = dir + String(brokerId);
    const value = JSON.stringify({ brokerId, host: hostname(), pid: process.pid, registeredAt: new Date().toISOString() });
    const lease = etcd.client.lease(ttlSeconds, { autoKeepAlive: true });
    const registration = new BrokerRegistration(etcd, lease, brokerId, key, ttlSeconds);
    let others: string[];
    try {
      others = await etcd.call(`register broker ${brokerId}`, async (client, signal) => {
        const leaseId = await lease.grant();
        if (signal.aborted) return [];
        const dirKey = Buffer.from(dir);
        const res = await client.kv.txn({
          // no key at all in <prefix>/brokers/ (the single-broker rule of this slice)
          compare: [{ key: dirKey, range_end: prefixEnd(dirKey), target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } }],
          failure: [{ request_range: { key: dirKey, range_end: prefixEnd(dirKey), keys_only: true } }],
        });
        if (res.succeeded) return [];
        const kvs = res.responses[0]?.response_range.kvs ?? [];
        return kvs.map((kv) => kv.key.toString('utf8').slice(dir.length));
      });
    } catch (e) {
      await registration.revoke().catch(() => undefined);
      throw e;
    }
    if (others.length > 0) {
      await registration.revoke().catch(() => undefined);
      const mine = String(brokerId);
      if (others.includes(mine)) {
        throw new SluiceError('INVALID_CONFIG', `broker.id ${brokerId} is already registered in etcd by a live broker (${key}); a broker killed without stopping frees it after broker.session.timeout.ms`);
      }
      const ids = others.join(', ');
      throw new SluiceError(
        'INVALID_CONFIG',
        `broker ${ids} is already registered in etcd under ${etcd.prefix} (a live broker); this version runs one broker per sluice.etcd.prefix until the controller is built`,
      );
    }
    const onLost = options.onLost;
    if (onLost !== undefined) lease.on('lost', (err: Error) => onLost(err));
    return registration;
  }

  /** Revokes the lease (the key goes with it), bounded by the connection's timeout; idempotent. */
  revoke(): Promise<void> {
    this.revoked ??= (async () => {
      this.lease.removeAllListeners('lost');
      await this.etcd.call(`revoke the registration of broker ${this.brokerId}`, () => this.lease.revoke());
    })();
    return this.revoked;
  }
}
