/**
 * Every connection the broker closes or refuses on its own is counted on /metrics: an oversized frame is a
 * protocol error (`sluice_protocol_errors_total`), and `sluice_connections_closed_total{cause}` says why for
 * each (protocol_error, request_timeout, idle, max_connections_per_ip, max_connections). A real
 * `sluice start`, raw sockets.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { deadPort, startTestBroker, type TestBroker } from '../brokers.js';
import { RawClient, requestFrame } from '../kafka/raw.js';
import { Scrape } from './scrape.js';

let b: TestBroker;
let url: string;
before(async () => {
  const metricsPort = await deadPort();
  b = await startTestBroker({
    'sluice.metrics.port': String(metricsPort),
    'socket.request.max.bytes': '100000',
    'queued.max.request.bytes': '100000',
    'sluice.request.read.timeout.ms': '600',
    'connections.max.idle.ms': '2500',
    'max.connections.per.ip': '3',
    'max.connections': '5',
  });
  url = `http://127.0.0.1:${metricsPort}/metrics`;
});
after(async () => {
  await b?.stop();
});

function closes(s: Scrape, cause: string): number {
  return s.valueOr0('sluice_connections_closed_total', { cause });
}

function openRaw(localAddress: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: b.port, localAddress });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

test('an oversized frame is a protocol error; a request that does not arrive in time and an idle connection are counted by cause', async () => {
  const s0 = await Scrape.from(url);
  const oversized = await RawClient.open(b.port);
  const size = Buffer.alloc(4);
  size.writeInt32BE(100001);
  oversized.write(size);
  assert.ok(await oversized.waitClosed(5000));

  const partial = await RawClient.open(b.port);
  partial.write(requestFrame('ApiVersions', 0, 1, {}).subarray(0, 6));
  assert.ok(await partial.waitClosed(5000), 'a half-sent request is closed at the deadline');

  const idle = await RawClient.open(b.port);
  assert.ok(await idle.waitClosed(8000), 'an idle connection is closed');

  const s1 = await Scrape.from(url);
  assert.equal(s1.value('sluice_protocol_errors_total') - s0.value('sluice_protocol_errors_total'), 1);
  assert.equal(closes(s1, 'protocol_error') - closes(s0, 'protocol_error'), 1);
  assert.equal(closes(s1, 'request_timeout') - closes(s0, 'request_timeout'), 1);
  assert.equal(closes(s1, 'idle') - closes(s0, 'idle'), 1);
});

test('connections refused by max.connections.per.ip and max.connections are counted', async () => {
  const s0 = await Scrape.from(url);
  const kept = [];
  for (let i = 0; i < 3; i++) kept.push(await openRaw('127.0.0.1'));
  const perIp = await openRaw('127.0.0.1');
  await perIp.closed;
  for (let i = 0; i < 2; i++) kept.push(await openRaw('127.0.0.2'));
  const overall = await openRaw('127.0.0.3');
  await overall.closed;
  const s1 = await Scrape.from(url);
  assert.equal(closes(s1, 'max_connections_per_ip') - closes(s0, 'max_connections_per_ip'), 1);
  assert.equal(closes(s1, 'max_connections') - closes(s0, 'max_connections'), 1);
  assert.equal(s1.value('sluice_connections_open'), 5);
  for (const k of kept) k.socket.destroy();
});
