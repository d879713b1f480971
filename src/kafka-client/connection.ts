/**
 * One TCP connection to one Kafka broker: 4-byte size framing, correlation ids, any number of requests in
 * flight (Kafka answers them in order on a connection), per-request timeouts, and the ApiVersions handshake
 * that picks, per API, the highest version both this client and the broker implement.
 */
import * as net from 'node:net';
import {
  APIS,
  decodeResponseFrame,
  encodeRequestFrame,
  type ApiTypes,
  type ApiVersionsResponse,
  type ServedApiName,
} from '../frontends/kafka/generated/index.js';
import { KafkaConnectionError, KafkaProtocolError } from './errors.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  /** Sent in every request header (default 'sluice'). */
  clientId?: string;
  /** How long to wait for the TCP connection (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** How long to wait for each response (default 30 000 ms; a Fetch adds its own maxWaitMs). */
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  /** Overrides the connection's request timeout for this request. */
  timeoutMs?: number;
  /** Send at this version instead of the negotiated one. */
  version?: number;
}

/** A negotiated version range entry: the version this connection uses for an API. */
export type NegotiatedVersions = ReadonlyMap<ServedApiName, number>;

/**
 * Highest versions this client implements where they are below the codecs' maximum: Fetch v13+ addresses
 * topics by id only, which this client does not track.
 */
const CLIENT_MAX: Partial<Record<ServedApiName, number>> = { Fetch: 12 };

interface Pending {
  api: ServedApiName;
  version: number;
  resolve(frame: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | null;
}

export class Connection {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private frameSize = -1;
  private closedError: Error | null = null;
  private versions = new Map<ServedApiName, number>();
  /** The broker's advertised ranges by API key (from ApiVersions). */
  brokerVersions: ReadonlyMap<number, { min: number; max: number }> = new Map();

  private constructor(socket: net.Socket, opts: ConnectionOptions) {
    this.socket = socket;
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId ?? 'sluice';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.closedErr(err.code ?? err.message)));
    socket.on('close', () => this.fail(this.closedErr()));
  }

  /** Connects and negotiates API versions. Fails with a KafkaConnectionError naming host:port and the cause. */
  static async open(opts: ConnectionOptions): Promise<Connection> {
    const { host, port } = opts;
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new KafkaConnectionError('timeout', host, port, `cannot connect to ${hostPort(host, port)} (timed out after ${timeoutMs} ms)`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        s.destroy();
        reject(new KafkaConnectionError('unreachable', host, port, `cannot connect to ${hostPort(host, port)} (${err.code ?? err.message})`, { cause: err }));
      });
    });
    const conn = new Connection(socket, opts);
    try {
      await conn.negotiate();
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  get address(): string {
    return hostPort(this.host, this.port);
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** The version used for `api`, or undefined when the broker does not serve a version this client implements. */
  versionOf(api: ServedApiName): number | undefined {
    return this.versions.get(api);
  }

  supports(api: ServedApiName): boolean {
    return this.versions.has(api);
  }

  /** Sends a request and decodes its response. Rejects with KafkaConnectionError on timeout or disconnect. */
  async request<K extends ServedApiName>(api: K, body: ApiTypes[K]['requestInput'], opts: RequestOptions = {}): Promise<ApiTypes[K]['response']> {
    const version = opts.version ?? this.requireVersion(api);
    const frame = await this.send(api, version, body, true, opts.timeoutMs);
    return decodeResponseFrame(api, version, frame!).body;
  }

  /** Sends a request the broker will not answer (Produce with acks=0); resolves once it is written. */
  async requestNoResponse<K extends ServedApiName>(api: K, body: ApiTypes[K]['requestInput']): Promise<void> {
    await this.send(api, this.requireVersion(api), body, false, undefined);
  }

  /** Number of requests waiting for their response. */
  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    if (!this.closedError) this.closedError = new KafkaConnectionError('closed', this.host, this.port, `connection to ${this.address} closed`);
    this.socket.destroy();
    this.rejectAll(this.closedError);
  }

  private requireVersion(api: ServedApiName): number {
    const v = this.versions.get(api);
    if (v === undefined) {
      throw new KafkaProtocolError(35, `broker ${this.address} does not support ${api} at a version this client implements`);
    }
    return v;
  }

  private send(api: ServedApiName, version: number, body: unknown, expectResponse: boolean, timeoutMs: number | undefined): Promise<Buffer | null> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    const { chunks } = encodeRequestFrame(api, version, { correlationId, clientId: this.clientId }, body as never);
    return new Promise<Buffer | null>((resolve, reject) => {
      if (expectResponse) {
        const ms = timeoutMs ?? this.requestTimeoutMs;
        const p: Pending = { api, version, resolve, reject, timer: null };
        p.timer = setTimeout(() => {
          this.pending.delete(correlationId);
          reject(new KafkaConnectionError('timeout', this.host, this.port, `${api} request to ${this.address} timed out after ${ms} ms`));
        }, ms);
        this.pending.set(correlationId, p);
      }
      this.socket.cork();
      for (let i = 0; i < chunks.length; i++) {
        if (i === chunks.length - 1 && !expectResponse) this.socket.write(chunks[i]!, () => resolve(null));
        else this.socket.write(chunks[i]!);
      }
      this.socket.uncork();
    });
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return;
        this.frameSize = this.take(4).readInt32BE(0);
      }
      if (this.buffered < this.frameSize) return;
      const frame = this.take(this.frameSize);
      this.frameSize = -1;
      this.dispatch(frame);
    }
  }

  /** Removes and returns the next `n` buffered bytes (one copy only when they span chunks). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  private dispatch(frame: Buffer): void {
    if (frame.length < 4) return;
    const correlationId = frame.readInt32BE(0);
    const p = this.pending.get(correlationId);
    if (!p) return; // the answer to a request that already timed out
    this.pending.delete(correlationId);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(frame);
  }

  private closedErr(cause?: string): KafkaConnectionError {
    return new KafkaConnectionError('closed', this.host, this.port, `connection to ${this.address} closed by the broker${cause ? ` (${cause})` : ''}`);
  }

  private fail(err: Error): void {
    if (!this.closedError) this.closedError = err;
    this.rejectAll(this.closedError);
  }

  private rejectAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  /**
   * ApiVersions handshake. A broker that does not know our ApiVersions version answers with a v0 body and
   * UNSUPPORTED_VERSION (KIP-511), so that answer is read as v0 and the request retried at v0.
   */
  private async negotiate(): Promise<void> {
    const ours = APIS.ApiVersions.maxVersion >= 3 ? 3 : APIS.ApiVersions.maxVersion;
    const req = { clientSoftwareName: 'sluice', clientSoftwareVersion: '0.1.0' };
    let resp: ApiVersionsResponse;
    const frame = (await this.send('ApiVersions', ours, req, true, undefined))!;
    try {
      resp = decodeResponseFrame('ApiVersions', ours, frame).body;
    } catch {
      resp = decodeResponseFrame('ApiVersions', 0, frame).body;
    }
    if (resp.errorCode === 35) {
      resp = decodeResponseFrame('ApiVersions', 0, (await this.send('ApiVersions', 0, {}, true, undefined))!).body;
    }
    if (resp.errorCode !== 0) throw new KafkaProtocolError(resp.errorCode, `ApiVersions from ${this.address}`);
    const theirs = new Map(resp.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
    this.brokerVersions = theirs;
    const versions = new Map<ServedApiName, number>();
    for (const name of Object.keys(APIS) as ServedApiName[]) {
      const codec = APIS[name];
      const t = theirs.get(codec.apiKey);
      if (!t) continue;
      const max = Math.min(codec.maxVersion, CLIENT_MAX[name] ?? Infinity, t.max);
      if (max >= Math.max(codec.minVersion, t.min)) versions.set(name, max);
    }
    this.versions = versions;
  }
}

/** "host:port", with brackets around IPv6 literals. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses "host:port[,host:port...]" (IPv6 as [addr]:port; a missing port means 9092). */
export function parseBootstrap(spec: string): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(part) ?? /^([^:]+)(?::(\d+))?$/.exec(part);
    if (!m) throw new KafkaConnectionError('unreachable', part, 0, `invalid bootstrap server "${part}" (expected HOST:PORT)`);
    const port = m[2] === undefined ? 9092 : Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new KafkaConnectionError('unreachable', m[1]!, port, `invalid port in bootstrap server "${part}"`);
    }
    out.push({ host: m[1]!, port });
  }
  if (out.length === 0) throw new KafkaConnectionError('unreachable', '', 0, 'no bootstrap server given');
  return out;
}
