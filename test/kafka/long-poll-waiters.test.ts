/**
 * Long polls leave nothing behind: a Fetch for many partitions is one wait in the engine, gone as soon as the
 * answer is sent (data arrived, max.wait.ms passed, or the client left). Counted through what an operator
 * sees: `sluice_long_poll_waiters` on the /metrics endpoint of a real `sluice start`, and for the embedded
 * consumer `liveWaiters()` of the engine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch } from '../../src/record/batch.js';
import { Sluice } from '../../src/sluice.js';
import { deadPort, startTestBroker, type TestBroker } from '../brokers.js';
import { Scrape } from '../metrics/scrape.js';
import { RawClient, decodeResponse, requestFrame } from './raw.js';

const PARTITIONS = 300;
let broker: TestBroker;
let metricsUrl: string;

before(async () => {
  const metricsPort = await deadPort();
  broker = await startTestBroker({ 'sluice.metrics.port': String(metricsPort) });
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const c = await RawClient.open(broker.port);
  c.write(requestFrame('CreateTopics', 5, 1, { topics: [{ name: 'wide', numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30000, validateOnly: false }));
  assert.ok(await c.waitFrames(1, 30000));
  assert.equal(decodeResponse('CreateTopics', 5, c.frames[0]!).body.topics[0]!.errorCode, 0);
  c.destroy();
});
after(async () => {
  await broker?.stop();
});

async function waiters(): Promise<number> {
  return (await Scrape.from(metricsUrl)).value('sluice_long_poll_waiters');
}

/** Polls the gauge until it equals `want` or `timeoutMs` passes; returns the last value seen. */
async function waitersBecome(want: number, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = await waiters();
    if (n === want || Date.now() >= end) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function wideFetch(correlationId: number, maxWaitMs: number): Buffer {
  return requestFrame('Fetch', 12, correlationId, {
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ topic: 'wide', partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, fetchOffset: 0n, partitionMaxBytes: 1 << 16 })) }],
  });
}

test('a 300-partition Fetch satisfied by data leaves no waiter behind', async () => {
  assert.equal(await waiters(), 0);
  const c = await RawClient.open(broker.port);
  c.write(wideFetch(1, 20000));
  const waiting = await waitersBecome(1, 5000);
  assert.equal(waiting, 1, 'one long poll in progress, one wait (not one per partition)');
  const p = await RawClient.open(broker.port);
  p.write(requestFrame('Produce', 9, 1, { acks: 1, timeoutMs: 5000, topicData: [{ name: 'wide', partitionData: [{ index: 237, records: encodeBatch([{ value: 'wake' }]) }] }] }));
  assert.ok(await p.waitFrames(1, 5000));
  assert.ok(await c.waitFrames(1, 5000), 'the fetch is answered when data arrives');
  const res = decodeResponse('Fetch', 12, c.frames[0]!).body;
  const got = res.responses[0]!.partitions.find((x) => x.records !== null && x.records.length > 0);
  assert.equal(got?.partitionIndex, 237);
  // Well before the fetch's 20 s max.wait.ms: nothing may still wait on the other 299 partitions.
  assert.equal(await waitersBecome(0, 2000), 0);
  c.destroy();
  p.destroy();
});

test('a 300-partition Fetch that times out, and one whose client leaves, leave no waiter behind', async () => {
  const c = await RawClient.open(broker.port);
  // Partition 237 has one record now: fetch from its end so every partition is empty.
  const frame = requestFrame('Fetch', 12, 2, {
    maxWaitMs: 300,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ topic: 'wide', partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, fetchOffset: p === 237 ? 1n : 0n, partitionMaxBytes: 1 << 16 })) }],
  });
  c.write(frame);
  assert.ok(await c.waitFrames(1, 5000));
  assert.equal(await waitersBecome(0, 2000), 0);

  const gone = await RawClient.open(broker.port);
  gone.write(wideFetch(3, 1)); // answered at once (partition 237 has data)
  assert.ok(await gone.waitFrames(1, 5000));
  gone.write(requestFrame('Fetch', 12, 4, {
    maxWaitMs: 20000,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ topic: 'wide', partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, fetchOffset: p === 237 ? 1n : 0n, partitionMaxBytes: 1 << 16 })) }],
  }));
  assert.equal(await waitersBecome(1, 5000), 1);
  gone.socket.resetAndDestroy(); // a FIN alone is a half-close: the client may still read the answer
  assert.equal(await waitersBecome(0, 2000), 0, 'a long poll of a closed connection ends with it');
  c.destroy();
});

test('embedded consumer: a poll over many partitions is one wait, gone after data, timeout or close', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-waiters-'));
  const s = await Sluice.open({ dataDir: dir, owners: 2 });
  try {
    await s.createTopic('many', { partitions: 300 });
    const consumer = s.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign(Array.from({ length: 300 }, (_, p) => ({ topic: 'many', partition: p })));
    // Timed out.
    assert.deepEqual(await consumer.poll({ timeoutMs: 200 }), []);
    assert.equal(s.liveWaiters(), 0);
    // Satisfied by data, long before its max wait.
    const polling = consumer.poll({ timeoutMs: 20000 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.liveWaiters(), 1);
    await s.append('many', 123, encodeBatch([{ value: 'x' }]), { acks: 1 });
    const got = await polling;
    assert.equal(got.length, 1);
    assert.equal(got[0]!.partition, 123);
    assert.equal(s.liveWaiters(), 0);
    // Closed while polling.
    const pending = consumer.poll({ timeoutMs: 20000 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.liveWaiters(), 1);
    await consumer.close();
    await pending;
    assert.equal(s.liveWaiters(), 0);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('engine.waitForAny: an abort ends it, deleting a watched topic or closing the engine wakes it, a partition listed twice counts once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-waitany-'));
  const s = await Sluice.open({ dataDir: dir, owners: 2 });
  try {
    await s.createTopic('a', { partitions: 4 });
    await s.createTopic('b', { partitions: 4 });
    const targets = [0, 1, 2, 3].flatMap((p) => [{ topic: 'a', partition: p, offset: 0n }, { topic: 'b', partition: p, offset: 0n }]);
    const ac = new AbortController();
    const aborted = s.waitForAny(targets, 20000, { signal: ac.signal });
    assert.equal(s.liveWaiters(), 1);
    ac.abort();
    assert.equal(await aborted, false);
    assert.equal(s.liveWaiters(), 0);

    const deleted = s.waitForAny([...targets, { topic: 'b', partition: 2, offset: 0n }], 20000);
    await s.deleteTopic('b');
    assert.equal(await deleted, true, 'a deleted partition ends the wait: the caller reads again and sees the error');
    assert.equal(s.liveWaiters(), 0);
    await assert.rejects(s.waitForAny([{ topic: 'b', partition: 0, offset: 0n }], 100), /unknown topic/);
    assert.equal(await s.waitForAny([{ topic: 'a', partition: 1, offset: 0n }], 50), false);
    assert.equal(s.liveWaiters(), 0);
    const closing = s.waitForAny([{ topic: 'a', partition: 3, offset: 0n }], 20000);
    await s.close();
    await closing; // settles with the engine's close, not after 20 s
    assert.equal(s.liveWaiters(), 0);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
