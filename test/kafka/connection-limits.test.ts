/**
 * What one client can cost the broker is bounded (Kafka's socket server limits): bytes of requests being read
 * or handled (queued.max.request.bytes: connections wait, unread, until memory frees), time for a request
 * frame to arrive in full (a client trickling bytes is closed), idle connections (connections.max.idle.ms),
 * connections in all and per address (max.connections, max.connections.per.ip). A real `sluice start` and
 * raw sockets.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolveBrokerConfig } from '../../src/cli/broker-config.js';
import { startTestBroker, type TestBroker } from '../brokers.js';
import { encodeBatch } from '../../src/record/batch.js';
import { RawClient, decodeResponse, requestFrame } from './raw.js';

const brokers: TestBroker[] = [];
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
});

async function broker(config: Record<string, string>, openFileLimit?: number): Promise<TestBroker> {
  const b = await startTestBroker(config, openFileLimit === undefined ? {} : { openFileLimit });
  brokers.push(b);
  return b;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

interface Sender {
  socket: Socket;
  /** Resolves with the time the broker closed the connection (ms since the epoch). */
  closed: Promise<number>;
}

function open(port: number, localAddress = '127.0.0.1'): Promise<Sender> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const closed = new Promise<number>((res) => socket.once('close', () => res(Date.now())));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** Writes `total` bytes of zeros in 1 MiB writes, waiting for 'drain' (the broker may stop reading). */
async function sendZeros(socket: Socket, total: number): Promise<void> {
  const chunk = Buffer.alloc(1 << 20);
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
    const piece = total - sent < chunk.length ? chunk.subarray(0, total - sent) : chunk;
    if (!socket.write(piece)) {
      await new Promise<void>((r) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          r();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

const MB = 1_000_000;

test('six half-sent 100 MB requests: memory stays bounded (default queued.max.request.bytes) and all six are closed by the request deadline', async (t) => {
  const b = await broker({ 'sluice.request.read.timeout.ms': '3000' });
  const before = rssBytes(b.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(b.pid))), 25);
  try {
    const started = Date.now();
    const senders = await Promise.all(Array.from({ length: 6 }, () => open(b.port)));
    for (const s of senders) {
      const size = Buffer.alloc(4);
      size.writeInt32BE(100 * MB);
      s.socket.write(size);
      void sendZeros(s.socket, 95 * MB);
    }
    // One frame holds the pool at a time: each is closed at its deadline, or once granted memory, a moment
    // (a quarter of the deadline) after the one before it; with the default 30 s all six end within a minute.
    const limit = new Promise<number>((r) => setTimeout(() => r(-1), 3000 + 6 * 1500 + 2000));
    const closedAt = await Promise.all(senders.map((s) => Promise.race([s.closed, limit])));
    for (const s of senders) s.socket.destroy();
    t.diagnostic(`broker RSS ${(before / 1048576).toFixed(0)} MiB before, peak ${(peak / 1048576).toFixed(0)} MiB`);
    assert.ok(peak < 400 * 1024 * 1024, `broker RSS peaked at ${(peak / 1048576).toFixed(0)} MiB (from ${(before / 1048576).toFixed(0)} MiB)`);
    for (const t of closedAt) assert.ok(t !== -1 && t - started >= 2900, `closed ${t === -1 ? 'never' : `${t - started} ms after the frame started`} (deadline 3000 ms)`);
    t.diagnostic(`closed after ${closedAt.map((c) => c - started).sort((x, y) => x - y).join(', ')} ms`);
  } finally {
    clearInterval(sampler);
  }
  // The broker still serves.
  const c = await RawClient.open(b.port);
  c.write(requestFrame('ApiVersions', 0, 1, {}));
  assert.ok(await c.waitFrames(1, 5000));
  c.destroy();
});

test('a connection muted for request memory is read and answered once memory frees', async () => {
  const b = await broker({ 'socket.request.max.bytes': '1000000', 'queued.max.request.bytes': '1000000' });
  const produce = (id: number): Buffer =>
    requestFrame('Produce', 9, id, {
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: 'muted', partitionData: [{ index: 0, records: encodeBatch([{ value: Buffer.alloc(600_000, id) }]) }] }],
    });
  const a = await RawClient.open(b.port);
  const c = await RawClient.open(b.port);
  const fa = produce(1);
  a.write(fa.subarray(0, fa.length - 10)); // holds 600 kB of the pool's 1 MB
  await new Promise((r) => setTimeout(r, 200));
  c.write(produce(2));
  assert.equal(await c.waitFrames(1, 500), false, 'the second request waits for memory');
  a.write(fa.subarray(fa.length - 10));
  assert.ok(await a.waitFrames(1, 5000));
  assert.ok(await c.waitFrames(1, 5000), 'answered once the first request released its memory');
  for (const [client, id] of [[a, 1], [c, 2]] as const) {
    const res = decodeResponse('Produce', 9, client.frames[0]!);
    assert.equal(res.correlationId, id);
    assert.equal(res.body.responses[0]!.partitionResponses[0]!.errorCode, 0);
  }
  a.destroy();
  c.destroy();
});

test('a client trickling a request byte by byte is closed at the request deadline; an idle one at connections.max.idle.ms', async () => {
  const b = await broker({ 'sluice.request.read.timeout.ms': '1000', 'connections.max.idle.ms': '2500' });
  const trickler = await open(b.port);
  const idle = await RawClient.open(b.port);
  idle.write(requestFrame('ApiVersions', 0, 1, {}));
  assert.ok(await idle.waitFrames(1, 5000));
  const idleSince = Date.now();
  const started = Date.now();
  const frame = requestFrame('ApiVersions', 0, 2, {});
  let i = 0;
  const drip = setInterval(() => {
    if (i < frame.length && !trickler.socket.destroyed) trickler.socket.write(frame.subarray(i, ++i));
  }, 100);
  try {
    const closedAt = await Promise.race([trickler.closed, new Promise<number>((r) => setTimeout(() => r(-1), 6000))]);
    assert.notEqual(closedAt, -1, 'the trickling client was not closed');
    assert.ok(closedAt - started >= 900, `closed after ${closedAt - started} ms, before the 1000 ms deadline`);
    assert.ok(i < frame.length, 'closed while it was still sending');
  } finally {
    clearInterval(drip);
  }
  assert.ok(!idle.closed, 'an idle connection outlives the request deadline');
  assert.ok(await idle.waitClosed(6000), 'the idle connection is closed');
  assert.ok(Date.now() - idleSince >= 2400, `idle connection closed after ${Date.now() - idleSince} ms (connections.max.idle.ms 2500)`);
});

test('max.connections and max.connections.per.ip refuse extra connections; a freed slot is usable again', async () => {
  const b = await broker({ 'max.connections': '4', 'max.connections.per.ip': '2' });
  const served = async (s: Sender): Promise<boolean> => {
    s.socket.write(requestFrame('ApiVersions', 0, 7, {}));
    return Promise.race([
      new Promise<boolean>((r) => s.socket.once('data', () => r(true))),
      s.closed.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ]);
  };
  const a1 = await open(b.port, '127.0.0.1');
  const a2 = await open(b.port, '127.0.0.1');
  assert.ok(await served(a1));
  assert.ok(await served(a2));
  const a3 = await open(b.port, '127.0.0.1');
  assert.equal(await served(a3), false, 'a third connection from one address is refused');
  const b1 = await open(b.port, '127.0.0.2');
  const b2 = await open(b.port, '127.0.0.2');
  assert.ok(await served(b1));
  assert.ok(await served(b2));
  const c1 = await open(b.port, '127.0.0.3');
  assert.equal(await served(c1), false, 'a fifth connection is refused (max.connections 4)');
  a1.socket.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const c2 = await open(b.port, '127.0.0.3');
  assert.ok(await served(c2), 'a freed slot takes a new connection');
  for (const s of [a2, b1, b2, c2]) s.socket.destroy();
});

test('running out of file descriptors is logged once, clearly', async () => {
  const b = await broker({}, 160);
  const sockets: Sender[] = [];
  try {
    // Past the limit, the broker's accept fails; libuv then accepts and closes connections silently.
    for (let i = 0; i < 200; i++) sockets.push(await open(b.port));
    await new Promise((r) => setTimeout(r, 2500));
    const lines = b.stderr().split('\n').filter((l) => l.includes('out of file descriptors'));
    assert.equal(lines.length, 1, b.stderr());
    assert.match(lines[0]!, /EMFILE/);
    assert.match(lines[0]!, /ulimit -n|max\.connections/);
  } finally {
    for (const s of sockets) s.socket.destroy();
  }
});

test('defaults: a request must arrive within 30 s, never longer than connections.max.idle.ms; memory for requests is bounded', () => {
  const d = resolveBrokerConfig();
  assert.equal(d.requestReadTimeoutMs, 30000);
  assert.equal(d.connectionsMaxIdleMs, 600000);
  assert.equal(d.queuedMaxRequestBytes, 104857600);
  assert.equal(d.maxConnections, 2147483647);
  assert.equal(d.maxConnectionsPerIp, 2147483647);
  assert.equal(resolveBrokerConfig({ 'connections.max.idle.ms': '5000' }).requestReadTimeoutMs, 5000);
  assert.throws(() => resolveBrokerConfig({ 'queued.max.request.bytes': '1000' }), /queued.max.request.bytes/);
});

test('a request muted behind a silent frame is answered once that frame hits its own deadline, also after the client sent FIN', async () => {
  const b = await broker({ 'socket.request.max.bytes': '1000000', 'queued.max.request.bytes': '1000000', 'sluice.request.read.timeout.ms': '2000' });
  // A size prefix and nothing more: it holds the whole pool until its deadline closes it.
  const holder = await open(b.port);
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(1_000_000);
  holder.socket.write(prefix);
  await new Promise((r) => setTimeout(r, 200));
  const halfClosed = await RawClient.open(b.port);
  halfClosed.write(requestFrame('ApiVersions', 0, 1, {}));
  halfClosed.socket.end(); // FIN: "answer what I sent, then close"
  const muted = await RawClient.open(b.port);
  muted.write(requestFrame('ApiVersions', 0, 2, {}));
  // Muted time is not the waiting clients' slowness: they are neither dropped nor closed for it.
  assert.ok(await muted.waitFrames(1, 10_000), 'the muted client is answered');
  assert.ok(await halfClosed.waitFrames(1, 10_000), 'the half-closed client is answered before its connection ends');
  const closedAt = await holder.closed;
  assert.ok(closedAt > 0, 'the silent frame was closed at its deadline');
  muted.destroy();
  halfClosed.destroy();
});

test('a client that reads none of its answers is closed after connections.max.idle.ms, and its memory goes back', async () => {
  const b = await broker({ 'connections.max.idle.ms': '3000', 'sluice.request.read.timeout.ms': '2000' });
  const p = await RawClient.open(b.port);
  const value = Buffer.alloc(900_000, 7);
  for (let i = 0; i < 80; i++) {
    p.write(requestFrame('Produce', 9, i, { acks: 1, timeoutMs: 5000, topicData: [{ name: 'unread', partitionData: [{ index: 0, records: encodeBatch([{ value }]) }] }] }));
    assert.ok(await p.waitFrames(i + 1, 10_000));
  }
  p.destroy();
  // Fetches of ~70 MB it never reads (the broker stops reading it once 64 MiB of answers wait), then a size
  // prefix that takes the whole default request memory.
  const reader = await open(b.port);
  reader.socket.pause();
  const fetch = (id: number, offset: bigint): Buffer =>
    requestFrame('Fetch', 11, id, { maxWaitMs: 0, minBytes: 1, maxBytes: 40 << 20, topics: [{ topic: 'unread', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 40 << 20 }] }] });
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(104_857_600);
  const started = Date.now();
  reader.socket.write(Buffer.concat([fetch(1, 0n), fetch(2, 40n), prefix]));
  // A client that reads nothing does not see the close either: the broker's log says when it closed it.
  let closedAfter = -1;
  for (let waited = 0; waited < 15_000 && closedAfter < 0; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    if (b.stderr().includes('kafka client reads no answers')) closedAfter = Date.now() - started;
  }
  assert.ok(closedAfter >= 0, `closed although it stopped reading with a frame in progress\n${b.stderr()}`);
  assert.ok(closedAfter >= 2500, `not before connections.max.idle.ms (${closedAfter} ms)`);
  const c = await RawClient.open(b.port);
  c.write(requestFrame('ApiVersions', 0, 1, {}));
  assert.ok(await c.waitFrames(1, 5000), 'the request memory it held is free again');
  c.destroy();
  reader.socket.destroy();
});
