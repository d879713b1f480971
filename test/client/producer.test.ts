import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Producer, type CompressionName, type ProducerEngine, type ProducerMessage } from '../../src/client/producer.js';
import { createManualClock } from '../../src/engine/clock.js';
import { SluiceError } from '../../src/errors.js';
import { decodeBatches } from '../../src/record/batch.js';
import type { DecodedBatch } from '../../src/record/types.js';
import { Sluice } from '../../src/sluice.js';
import { openEngine } from '../coordinator/helpers.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof SluiceError && e.code === code;

/** Every stored batch of a partition. */
function batchesOf(s: Sluice, topic: string, partition: number): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let off = 0n;
  const hw = s.offsets(topic, partition).highWatermark;
  while (off < hw) {
    const r = s.read(topic, partition, off, { maxBytes: 1 << 20 });
    if (r.records.length === 0) break;
    out.push(...decodeBatches(r.records));
    off = r.nextOffset;
  }
  return out;
}

async function consumeAll(s: Sluice, topic: string, partitions: number, expected: number): Promise<ConsumerRecord[]> {
  const c = new Consumer(s, null, { fromBeginning: true });
  c.assign(Array.from({ length: partitions }, (_, p) => ({ topic, partition: p })));
  const out: ConsumerRecord[] = [];
  while (out.length < expected) {
    const got = await c.poll({ timeoutMs: 2000, maxRecords: 10_000 });
    if (got.length === 0) break;
    out.push(...got);
  }
  await c.close();
  return out;
}

describe('Producer', () => {
  let env: Awaited<ReturnType<typeof openEngine>>;
  let s: Sluice;
  before(async () => {
    env = await openEngine('sluice-producer-');
    s = env.sluice();
  });
  after(async () => {
    await env.cleanup();
  });

  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
    it(`round-trips keys, values, headers and timestamps with compression ${compression}`, async () => {
      const topic = `rt-${compression}`;
      await s.createTopic(topic, { partitions: 3 });
      const p = new Producer(s, { compression });
      const messages: ProducerMessage[] = Array.from({ length: 300 }, (_, i) => ({
        key: i % 7 === 0 ? null : `key-${i % 20}`,
        value: i % 11 === 0 ? null : Buffer.from(`value-${i}-`.repeat(1 + (i % 5))),
        headers: i % 3 === 0 ? { h: `hv${i}`, bin: Buffer.from([i & 255]) } : [{ key: 'n', value: null }],
        timestamp: i % 2 === 0 ? 1_700_000_000_000 + i : undefined,
      }));
      const meta = await p.send({ topic, messages });
      await p.close();
      assert.equal(meta.length, messages.length);
      const got = await consumeAll(s, topic, 3, messages.length);
      assert.equal(got.length, messages.length);
      const byPos = new Map(got.map((r) => [`${r.partition}/${r.offset}`, r]));
      meta.forEach((m, i) => {
        const msg = messages[i]!;
        const r = byPos.get(`${m.partition}/${m.offset}`);
        assert.ok(r, `message ${i} not found at ${m.partition}/${m.offset}`);
        assert.equal(m.topic, topic);
        assert.deepEqual(r.key, msg.key == null ? null : Buffer.from(msg.key));
        assert.deepEqual(r.value, msg.value == null ? null : Buffer.from(msg.value));
        const hs = Array.isArray(msg.headers)
          ? msg.headers
          : Object.entries(msg.headers!).map(([k, v]) => ({ key: k, value: Buffer.from(v) }));
        assert.deepEqual(r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })), hs);
        assert.equal(r.timestamp, m.timestamp);
        if (msg.timestamp !== undefined) assert.equal(m.timestamp, BigInt(msg.timestamp));
      });
      const stored = [0, 1, 2].flatMap((part) => batchesOf(s, topic, part));
      const codec = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[compression];
      for (const b of stored) assert.equal(b.compression, codec);
    });
  }

  it('puts keyed records where the murmur2 partitioner says and explicit partitions where asked', async () => {
    await s.createTopic('placement', { partitions: 4 });
    const p = new Producer(s);
    const meta = await p.send({
      topic: 'placement',
      messages: [
        { key: 'foobar', value: 'a' }, // toPositive(-790332482) % 4
        { key: '21', value: 'b' },
        { key: 'foobar', value: 'c', partition: 3 },
        { value: 'd', partition: 2 },
      ],
    });
    assert.equal(meta[0]!.partition, (-790332482 & 0x7fffffff) % 4);
    assert.equal(meta[1]!.partition, (-973932308 & 0x7fffffff) % 4);
    assert.equal(meta[2]!.partition, 3);
    assert.equal(meta[3]!.partition, 2);
    await assert.rejects(p.send({ topic: 'placement', messages: [{ value: 'x', partition: 4 }] }), isCode('UNKNOWN_TOPIC_OR_PARTITION'));
    await assert.rejects(p.send({ topic: 'no-such-topic', messages: [{ value: 'x' }] }), isCode('UNKNOWN_TOPIC_OR_PARTITION'));
    await p.close();
  });

  it('keyless records stick to a partition per batch and spread across partitions', async () => {
    await s.createTopic('sticky', { partitions: 4 });
    const p = new Producer(s, { batchSize: 2000 });
    const meta = await p.send({ topic: 'sticky', messages: Array.from({ length: 400 }, (_, i) => ({ value: `v${i}`.padEnd(50, '.') })) });
    await p.close();
    // Consecutive records fill one batch on one partition, then move on.
    let runs = 1;
    for (let i = 1; i < meta.length; i++) if (meta[i]!.partition !== meta[i - 1]!.partition) runs++;
    const used = new Set(meta.map((m) => m.partition));
    assert.ok(used.size >= 3, `only ${used.size} partitions used`);
    let batches = 0;
    for (let part = 0; part < 4; part++) batches += batchesOf(s, 'sticky', part).length;
    assert.equal(runs, batches, 'each run of one partition is exactly one batch');
    assert.ok(batches >= 10);
  });

  it('batches sends of the same tick together and returns per-message offsets in order', async () => {
    await s.createTopic('tick', { partitions: 1 });
    const p = new Producer(s);
    const sends = Array.from({ length: 20 }, (_, i) => p.send({ topic: 'tick', messages: [{ value: `a${i}` }, { value: `b${i}` }] }));
    const results = await Promise.all(sends);
    const offsets = results.flat().map((m) => m.offset);
    assert.deepEqual(offsets, Array.from({ length: 40 }, (_, i) => BigInt(i)));
    assert.equal(batchesOf(s, 'tick', 0).length, 1);
    await p.close();
  });

  it('an invalid message fails only its own send, not the sends sharing its batch', async () => {
    await s.createTopic('bad-msg', { partitions: 1 });
    const p = new Producer(s);
    const good = p.send({ topic: 'bad-msg', messages: [{ value: 'ok' }] });
    const bad = p.send({ topic: 'bad-msg', messages: [{ value: 'fine' }, { value: 42 as unknown as string }] });
    const badTs = p.send({ topic: 'bad-msg', messages: [{ value: 'x', timestamp: 1.5 }] });
    await assert.rejects(bad, isCode('INVALID_ARGUMENT'));
    await assert.rejects(badTs, isCode('INVALID_ARGUMENT'));
    assert.equal((await good)[0]!.offset, 0n);
    await p.close();
  });

  it('lingerMs holds a batch open across ticks', async () => {
    await s.createTopic('linger', { partitions: 1 });
    const p = new Producer(s, { lingerMs: 30 });
    const a = p.send({ topic: 'linger', messages: [{ value: 'x' }] });
    await new Promise((r) => setTimeout(r, 5));
    const b = p.send({ topic: 'linger', messages: [{ value: 'y' }] });
    await Promise.all([a, b]);
    assert.equal(batchesOf(s, 'linger', 0).length, 1);
    await p.close();
  });

  it('idempotent by default: producer id, epoch and per-partition sequences in the stored batches', async () => {
    await s.createTopic('idem', { partitions: 2 });
    const p = new Producer(s, { batchSize: 1000 });
    for (let round = 0; round < 3; round++) {
      await p.send({ topic: 'idem', messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${round}-${i}`.padEnd(40) })) });
    }
    await p.close();
    const pid = p.producerIdAndEpoch!;
    assert.ok(pid.producerId >= 0n);
    for (let part = 0; part < 2; part++) {
      let seq = 0;
      const bs = batchesOf(s, 'idem', part);
      assert.ok(bs.length > 1);
      for (const b of bs) {
        assert.equal(b.producerId, pid.producerId);
        assert.equal(b.producerEpoch, pid.producerEpoch);
        assert.equal(b.baseSequence, seq, `partition ${part}`);
        seq += b.records.length;
      }
    }
  });

  it('non-idempotent (or acks 1 / 0) writes no producer id; acks 0 returns offset -1', async () => {
    await s.createTopic('plain', { partitions: 1 });
    const p1 = new Producer(s, { acks: 1 });
    assert.equal(p1.idempotent, false);
    const m1 = await p1.send({ topic: 'plain', messages: [{ value: 'x' }] });
    assert.equal(m1[0]!.offset, 0n);
    const p0 = new Producer(s, { acks: 0 });
    const m0 = await p0.send({ topic: 'plain', messages: [{ value: 'y' }] });
    assert.equal(m0[0]!.offset, -1n);
    await p0.flush();
    await p1.close();
    await p0.close();
    for (const b of batchesOf(s, 'plain', 0)) assert.equal(b.producerId, -1n);
    assert.throws(() => new Producer(s, { acks: 1, idempotent: true }), isCode('INVALID_CONFIG'));
    assert.throws(() => new Producer(s, { maxInFlight: 6 }), isCode('INVALID_CONFIG'));
  });

  it('a failed batch fails only its send; later batches of the partition are re-sequenced and land', async () => {
    await s.createTopic('gap', { partitions: 1, configs: { 'max.message.bytes': '4000' } });
    const p = new Producer(s, { batchSize: 3000 });
    const big = Buffer.alloc(5000, 1);
    const s1 = p.send({ topic: 'gap', messages: [{ value: 'one' }] });
    const s2 = p.send({ topic: 'gap', messages: [{ value: big }] });
    const s3 = p.send({ topic: 'gap', messages: [{ value: 'three' }] });
    const s4 = p.send({ topic: 'gap', messages: [{ value: Buffer.alloc(2500, 2) }, { value: 'four' }] });
    const s2failed = assert.rejects(s2, isCode('RECORD_TOO_LARGE'));
    assert.equal((await s1)[0]!.offset, 0n);
    await s2failed;
    const m3 = await s3;
    const m4 = await s4;
    assert.deepEqual([m3[0]!.offset, m4[0]!.offset, m4[1]!.offset], [1n, 2n, 3n]);
    const after = await p.send({ topic: 'gap', messages: [{ value: 'five' }] });
    assert.equal(after[0]!.offset, 4n);
    await p.close();
    let seq = 0;
    for (const b of batchesOf(s, 'gap', 0)) {
      assert.equal(b.baseSequence, seq);
      seq += b.records.length;
    }
    assert.equal(seq, 5);
  });

  it('splits a batch whose multi-byte text made it larger than max.message.bytes', async () => {
    await s.createTopic('split', { partitions: 1, configs: { 'max.message.bytes': '3000' } });
    const p = new Producer(s, { batchSize: 2900 });
    const value = '€'.repeat(100); // 100 UTF-16 units, 300 bytes
    const meta = await p.send({ topic: 'split', messages: Array.from({ length: 20 }, () => ({ value })) });
    assert.deepEqual(meta.map((m) => m.offset), Array.from({ length: 20 }, (_, i) => BigInt(i)));
    await p.close();
    for (const b of batchesOf(s, 'split', 0)) assert.ok(b.sizeInBytes <= 3000);
  });

  it('flush waits for everything; close rejects later sends', async () => {
    await s.createTopic('closing', { partitions: 2 });
    const p = new Producer(s, { lingerMs: 10_000 });
    const pending = p.send({ topic: 'closing', messages: [{ value: 'a' }, { value: 'b', partition: 1 }] });
    await p.flush();
    assert.equal((await pending).length, 2);
    await p.close();
    await assert.rejects(p.send({ topic: 'closing', messages: [{ value: 'c' }] }), isCode('CLOSED'));
  });
});

/**
 * Blocks this thread, the engine's caller, until `done()` holds and then `extraMs` more: an app that stalls its
 * event loop while the owner thread keeps writing. The engine checks append deadlines on a timer of its event
 * loop, which runs before the completions the owner posted meanwhile are drained.
 */
function stallUntil(done: () => boolean, extraMs: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const t0 = performance.now();
  while (!done() && performance.now() - t0 < 10_000) Atomics.wait(cell, 0, 0, 1);
  Atomics.wait(cell, 0, 0, extraMs);
}

/** Every value in a partition, in offset order. */
function valuesOf(s: Sluice, topic: string): string[] {
  return batchesOf(s, topic, 0).flatMap((b) => b.records.map((r) => String(r.value)));
}

describe('Producer: failures whose outcome is unknown (KIP-360)', () => {
  let dir: string;
  let s: Sluice;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-producer-kip360-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a batch that times out but lands does not shadow the next one: it goes out under a new epoch, whatever its size', async () => {
    s = await Sluice.open({ dataDir: join(dir, 'timeout'), owners: 1 });
    try {
      await s.createTopic('amb');
      const p = new Producer(s, { retries: 0, requestTimeoutMs: 1 });
      // producer id and metadata cached, so the next send is dispatched from the producer's first setImmediate
      for (let i = 0; ; i++) {
        try {
          await p.send({ topic: 'amb', messages: [{ value: `warm${i}` }] });
          break;
        } catch (e) {
          if (i >= 5) throw e;
        }
      }
      const warm = valuesOf(s, 'amb');
      for (const [round, count] of [[0, 3], [1, 2]] as const) {
        const epoch = p.producerIdAndEpoch!.producerEpoch;
        const leo = s.offsets('amb', 0).logEndOffset;
        const a = p.send({ topic: 'amb', messages: [0, 1, 2].map((i) => ({ value: `a${round}-${i}` })) });
        const stalled = new Promise<void>((res) =>
          setImmediate(() => {
            stallUntil(() => s.offsets('amb', 0).logEndOffset >= leo + 3n, 400);
            res();
          }),
        );
        await assert.rejects(a, isCode('TIMEOUT'));
        await stalled;
        assert.equal(s.offsets('amb', 0).logEndOffset, leo + 3n, 'the timed-out batch landed');
        const b = await p.send({ topic: 'amb', messages: Array.from({ length: count }, (_, i) => ({ value: `b${round}-${i}` })) });
        assert.deepEqual(b.map((m) => m.offset), Array.from({ length: count }, (_, i) => leo + 3n + BigInt(i)), 'written after it, not answered as its duplicate');
        assert.ok(p.producerIdAndEpoch!.producerEpoch > epoch, 'the epoch was bumped');
      }
      const after = await p.send({ topic: 'amb', messages: [{ value: 'last' }] });
      assert.equal(after[0]!.offset, s.offsets('amb', 0).logEndOffset - 1n);
      await p.close();
      const ab = ['a0-0', 'a0-1', 'a0-2', 'b0-0', 'b0-1', 'b0-2', 'a1-0', 'a1-1', 'a1-2', 'b1-0', 'b1-1'];
      assert.deepEqual(valuesOf(s, 'amb'), [...warm, ...ab, 'last'], 'every record exactly once');
    } finally {
      await s.close();
    }
  });

  it('a partition that forgot the producer (expired) gets the batch again under a new epoch; past the last epoch, a new producer id', async () => {
    const clock = createManualClock(1_000_000);
    s = await Sluice.open({ dataDir: join(dir, 'expiry'), owners: 1, clock, producerIdExpirationMs: 60_000 });
    try {
      await s.createTopic('exp');
      // the real engine's producer id, first handed out at the last epoch
      let inits = 0;
      const engine: ProducerEngine = {
        partitionCount: (t) => s.partitionCount(t),
        describeTopic: (n) => s.describeTopic(n),
        append: (t, part, batches, o) => s.append(t, part, batches, o),
        initProducerId: async () => {
          const id = await s.initProducerId();
          return inits++ === 0 ? { ...id, producerEpoch: 0x7fff } : id;
        },
      };
      const fresh = new Producer(s);
      const old = new Producer(engine);
      for (const p of [fresh, old]) await p.send({ topic: 'exp', messages: [{ value: 'x' }, { value: 'y' }] });
      const oldId = old.producerIdAndEpoch!;
      clock.advance(60_000);
      await s.runMaintenance(); // both producers are forgotten by the partition
      for (const p of [fresh, old]) await p.send({ topic: 'exp', messages: [{ value: 'z' }] });
      assert.equal(fresh.producerIdAndEpoch!.producerEpoch, 1);
      assert.notEqual(old.producerIdAndEpoch!.producerId, oldId.producerId, 'epoch exhausted: a new id');
      assert.equal(inits, 2);
      for (const p of [fresh, old]) await p.send({ topic: 'exp', messages: [{ value: 'w' }] });
      await fresh.close();
      await old.close();
      assert.deepEqual(valuesOf(s, 'exp'), ['x', 'y', 'x', 'y', 'z', 'z', 'w', 'w']);
    } finally {
      await s.close();
    }
  });
});
