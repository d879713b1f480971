import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.js';
import { Producer, type CompressionName, type ProducerMessage } from '../../src/client/producer.js';
import { SluiceError } from '../../src/errors.js';
import { decodeBatches } from '../../src/record/batch.js';
import type { DecodedBatch } from '../../src/record/types.js';
import type { Sluice } from '../../src/sluice.js';
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
