/** A raw TCP Kafka client for protocol tests: writes frames as given, reads size-delimited responses. */
import { connect, type Socket } from 'node:net';
import { Reader } from '../../src/kafka-protocol/reader.js';
import {
  APIS,
  decodeResponseHeader,
  encodeRequestFrame,
  responseHeaderVersion,
  type ApiTypes,
  type ServedApiName,
} from '../../src/kafka-protocol/generated/index.js';

export class RawClient {
  private buf = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];
  readonly frames: Buffer[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4) {
        const size = this.buf.readInt32BE(0);
        if (this.buf.length < 4 + size) break;
        this.frames.push(this.buf.subarray(4, 4 + size));
        this.buf = this.buf.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(data: Buffer | readonly Buffer[]): void {
    if (this.closed) return;
    for (const c of Buffer.isBuffer(data) ? [data] : data) this.socket.write(c);
  }

  /** Resolves when `n` response frames arrived (true), the socket closed or the timeout passed (false). */
  async waitFrames(n: number, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.closed) return false;
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  async waitClosed(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One request frame (size prefix included) as a single buffer. */
export function requestFrame<K extends ServedApiName>(api: K, version: number, correlationId: number, body: ApiTypes[K]['requestInput']): Buffer {
  const { chunks } = encodeRequestFrame(api, version, { correlationId, clientId: 'raw-test' }, body);
  return Buffer.concat(chunks);
}

/** Decodes a response frame (without its size prefix) of `api` at `version`. */
export function decodeResponse<K extends ServedApiName>(api: K, version: number, frame: Buffer): { correlationId: number; body: ApiTypes[K]['response'] } {
  const codec = APIS[api];
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(codec.apiKey, version));
  const body = codec.decodeResponse(r, version) as ApiTypes[K]['response'];
  return { correlationId: header.correlationId, body };
}
