/**
 * One connection to etcd for the cluster's metadata: its endpoints, the key prefix that keeps clusters apart in
 * one etcd (`sluice.etcd.prefix`, default `/sluice`), and a bound on every request. `call` runs one operation
 * (one or several etcd requests, e.g. a compare-and-set loop) and turns whatever goes wrong into a SluiceError:
 * METADATA_UNAVAILABLE when etcd does not answer within the bound or refuses, CLOSED after `close()`. It never
 * hangs and leaves no rejection unhandled.
 * The etcd client (etcd3 on gRPC) loads in `connect`, not with the package: it costs ~180 ms of startup that a
 * single node without etcd does not pay.
 */
import type { Etcd3 } from 'etcd3';
import { SluiceError } from '../errors.js';

type Etcd3Module = typeof import('etcd3');

export const DEFAULT_ETCD_PREFIX = '/sluice';
export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 3000;

export interface EtcdConnectionOptions {
  /** Client URLs (`http://host:2379`), an array or comma-separated as in `sluice.etcd.endpoints`. */
  endpoints: readonly string[] | string;
  /** Key prefix of this cluster (`sluice.etcd.prefix`). Default `/sluice`. */
  prefix?: string;
  /** How long one operation may take before it fails with METADATA_UNAVAILABLE. Default 3000 ms. */
  requestTimeoutMs?: number;
}

export class EtcdConnection {
  readonly endpoints: readonly string[];
  /** The prefix without a trailing slash, e.g. `/sluice`. */
  readonly prefix: string;
  readonly requestTimeoutMs: number;
  /** The etcd3 client, for the cluster's code; prefer `call`, which bounds and types failures. */
  readonly client: Etcd3;
  private closed = false;
  private readonly etcd3: Etcd3Module;

  /** Loads the client and connects (lazily: the first request opens the channel, so an absent etcd fails there). */
  static async connect(options: EtcdConnectionOptions): Promise<EtcdConnection> {
    const [etcd3, cockatiel] = await Promise.all([import('etcd3'), import('cockatiel')]);
    return new EtcdConnection(options, etcd3, cockatiel);
  }

  private constructor(options: EtcdConnectionOptions, etcd3: Etcd3Module, cockatiel: typeof import('cockatiel')) {
    this.etcd3 = etcd3;
    const { handleWhen, noop, retry } = cockatiel;
    const list = typeof options.endpoints === 'string' ? options.endpoints.split(',') : [...options.endpoints];
    this.endpoints = list.map((e) => e.trim()).filter((e) => e.length > 0);
    if (this.endpoints.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'etcd endpoints must name at least one URL');
    for (const e of this.endpoints) {
      if (!/^https?:\/\/[^/]+\/?$/.test(e)) throw new SluiceError('INVALID_ARGUMENT', `etcd endpoint "${e}" is not an http(s)://host:port URL`);
    }
    const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
    if (typeof prefix !== 'string' || !prefix.startsWith('/')) {
      throw new SluiceError('INVALID_ARGUMENT', `etcd prefix must start with "/", got ${JSON.stringify(prefix)}`);
    }
    this.prefix = prefix.replace(/\/+$/, '');
    const timeout = options.requestTimeoutMs ?? DEFAULT_ETCD_REQUEST_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new SluiceError('INVALID_ARGUMENT', `etcd requestTimeoutMs must be a positive integer, got ${timeout}`);
    }
    this.requestTimeoutMs = timeout;
    this.client = new etcd3.Etcd3({
      hosts: [...this.endpoints],
      // every unary request carries a gRPC deadline; streams (watches, lease keep-alives) do not
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.requestTimeoutMs }),
      faultHandling: {
        // No per-host circuit breaker: etcd3's default one refuses every call for 5 s after three failures,
        // which would keep a broker from etcd for that long after etcd is back. A failed call is retried once
        // per other endpoint.
        host: () => noop,
        global: retry(handleWhen(etcd3.isRecoverableError), { maxAttempts: this.endpoints.length - 1 }),
      },
    });
  }

  /** `<prefix>/<parts joined by '/'>`. */
  key(...parts: string[]): string {
    return `${this.prefix}/${parts.join('/')}`;
  }

  /**
   * Runs `op` bounded by `requestTimeoutMs`; `what` names it in errors. When the bound passes, `signal` aborts:
   * an operation still running must not change state after that (check `signal.aborted` before doing so).
   */
  async call<T>(what: string, op: (client: Etcd3, signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw new SluiceError('CLOSED', `etcd connection is closed (${what})`);
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new SluiceError('METADATA_UNAVAILABLE', `etcd (${this.endpoints.join(',')}) did not answer ${what} within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
    });
    let work: Promise<T>;
    try {
      work = op(this.client, abort.signal);
    } catch (e) {
      clearTimeout(timer);
      throw this.translate(what, e);
    }
    work.catch(() => undefined); // when the bound wins the race, the work's own failure is nobody's to handle
    try {
      return await Promise.race([work, timedOut]);
    } catch (e) {
      abort.abort();
      throw this.translate(what, e);
    } finally {
      clearTimeout(timer);
    }
  }

  private translate(what: string, e: unknown): SluiceError {
    if (e instanceof SluiceError) return e;
    if (e instanceof this.etcd3.ClientClosedError || this.closed) return new SluiceError('CLOSED', `etcd connection is closed (${what})`, { cause: e });
    const msg = e instanceof Error ? e.message : String(e);
    return new SluiceError('METADATA_UNAVAILABLE', `etcd (${this.endpoints.join(',')}) failed ${what}: ${msg}`, { cause: e });
  }

  /** Closes the client; later calls fail with CLOSED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
