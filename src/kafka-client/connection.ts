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
} from '../kafka-protocol/generated/index.js';
import { KafkaErrors } from '../kafka-protocol/error-codes.js';
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

/** Below this many missing bytes a frame is finished through the scratch buffer (which can also take the next frames). */
const DIRECT_READ_MIN = 16 * 1024;
const SCRATCH_BYTES = 64 * 1024;

/**
 * Splits the socket's bytes into size-prefixed frames, reading through `net`'s `onread`: the kernel copies
 * a large frame straight into that frame's own buffer, with reads as large as what is missing (one copy, one
 * syscall per socket-buffer's worth), instead of 64 KiB chunks allocated per read and gathered by a second
 * copy. Small frames and headers arrive through a reused scratch buffer and are copied out of it.
 */
class FrameReader {
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private readonly head = Buffer.allocUnsafe(4);
  private headFilled = 0;
  /** The frame being received (without its size prefix), and how much of it has arrived. */
  private frame: Buffer | null = null;
  private filled = 0;

  /** Set by the Connection that owns this reader (the broker sends nothing before the first request). */
  onFrame: (frame: Buffer) => void = () => undefined;

  /** `onread.buffer`: where the next read goes. */
  readonly target = (): Buffer => {
    const f = this.frame;
    if (f !== null && f.length - this.filled >= DIRECT_READ_MIN) return f.subarray(this.filled);
    return this.scratch;
  };

  /** `onread.callback`: `n` bytes were read into `buf` (what `target` returned). */
  readonly received = (n: number, buf: Buffer): boolean => {
    if (buf !== this.scratch) {
      this.filled += n;
      this.completeIfFull();
      return true;
    }
    let pos = 0;
    while (pos < n) {
      if (this.frame === null) {
        const k = Math.min(4 - this.headFilled, n - pos);
        buf.copy(this.head, this.headFilled, pos, pos + k);
        this.headFilled += k;
        pos += k;
        if (this.headFilled < 4) return true;
        this.headFilled = 0;
        this.frame = Buffer.allocUnsafe(Math.max(0, this.head.readInt32BE(0)));
        this.filled = 0;
      }
      const k = Math.min(this.frame.length - this.filled, n - pos);
      buf.copy(this.frame, this.filled, pos, pos + k);
      this.filled += k;
      pos += k;
      this.completeIfFull();
    }
    return true;
  };

  private completeIfFull(): void {
    const f = this.frame;
    if (f === null || this.filled < f.length) return;
    this.frame = null;
    this.onFrame(f);
  }
}

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
  private closedError: Error | null = null;
  private versions = new Map<ServedApiName, number>();
  /** The broker's advertised ranges by API key (from ApiVersions). */
  brokerVersions: ReadonlyMap<number, { min: number; max: number }> = new Map();

  private constructor(socket: net.Socket, reader: FrameReader, opts: ConnectionOptions) {
    this.socket = socket;
    reader.onFrame = (frame) => this.dispatch(frame);
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId ?? 'sluice';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.closedErr(err.code ?? err.message)));
    socket.on('close', () => this.fail(this.closedErr()));
  }

  /** Connects and negotiates API versions. Fails with a KafkaConnectionError naming host:port and the cause. */
  static async open(opts: ConnectionOptions): Promise<Connection> {
    const { host, port } = opts;
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const reader = new FrameReader();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port, onread: { buffer: reader.target, callback: reader.received } });
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
    const conn = new Connection(socket, reader, opts);
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
      throw new KafkaProtocolError(KafkaErrors.UNSUPPORTED_VERSION, `broker ${this.address} does not support ${api} at a version this client implements`);
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
    if (resp.errorCode === KafkaErrors.UNSUPPORTED_VERSION) {
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
