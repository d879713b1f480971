import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, CorruptRecordError, SluiceError } from '../../src/errors.js';
import { createManualClock, Sluice } from '../../src/index.js';
import { decodeBatches } from '../../src/record/batch.js';
import { batchOf, sizedBatch, tempDir } from './helpers.js';

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<SluiceError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof SluiceError, `expected a SluiceError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

function values(buf: Buffer): string[] {
  return decodeBatches(buf).flatMap((b) => b.records.map((r) => r.value?.toString() ?? ''));
}

test('topics: create, list, describe, add partitions, alter configs, delete, reopen', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await Sluice.open({ dataDir: dir, owners: 2 });
    const d = await s.createTopic('orders', { partitions: 3, configs: { 'retention.ms': '1000' } });
    assert.equal(d.name, 'orders');
    assert.equal(d.partitions.length, 3);
    assert.equal(d.overrides['retention.ms'], '1000');
    assert.equal(d.configs['retention.ms'], '1000');
    assert.equal(d.configs['segment.bytes'], '1073741824');
    await s.createTopic('__internal', { partitions: 1, internal: true });
    assert.deepEqual(s.listTopics(), ['orders']);
    assert.deepEqual(s.listTopics({ includeInternal: true }), ['__internal', 'orders']);

    await rejectsWith(s.createTopic('orders'), 'TOPIC_ALREADY_EXISTS');
    await rejectsWith(s.createTopic('bad/name'), 'INVALID_TOPIC');
    await rejectsWith(s.createTopic('..'), 'INVALID_TOPIC');
    await rejectsWith(s.createTopic('x'.repeat(250)), 'INVALID_TOPIC');
    await rejectsWith(s.createTopic('zero', { partitions: 0 }), 'INVALID_PARTITIONS');
    const ce = await rejectsWith(s.createTopic('cfg', { configs: { 'retention.ms': 'soon' } }), 'INVALID_CONFIG');
    assert.ok(ce instanceof ConfigError);
    assert.equal(ce.key, 'retention.ms');
    await rejectsWith(s.createTopic('cfg', { configs: { 'no.such.key': '1' } }), 'INVALID_CONFIG');
    assert.equal(s.hasTopic('cfg'), false);

    await s.addPartitions('orders', 5);
    await rejectsWith(s.addPartitions('orders', 4), 'INVALID_PARTITIONS');
    assert.equal(s.partitionCount('orders'), 5);
    await s.alterTopicConfig('orders', { 'retention.ms': null, 'cleanup.policy': 'compact' });
    const d2 = await s.describeTopic('orders');
    assert.equal(d2.overrides['retention.ms'], undefined);
    assert.equal(d2.configs['cleanup.policy'], 'compact');
    await rejectsWith(s.alterTopicConfig('orders', { 'max.message.bytes': '-5' }), 'INVALID_CONFIG');

    await s.append('orders', 4, batchOf('v', 3), { acks: 1 });
    await s.close();
    await rejectsWith(() => s.listTopics(), 'CLOSED');
    await rejectsWith(s.append('orders', 0, batchOf('v', 1)), 'CLOSED');

    s = await Sluice.open({ dataDir: dir, owners: 3 });
    const d3 = await s.describeTopic('orders');
    assert.equal(d3.topicId, d.topicId);
    assert.equal(d3.partitions.length, 5);
    assert.equal(d3.partitions[4].logEndOffset, 3n);
    assert.equal(d3.configs['cleanup.policy'], 'compact');
    assert.deepEqual(values(s.read('orders', 4, 0n, { maxBytes: 1 << 20 }).records), ['v-0', 'v-1', 'v-2']);

    await s.deleteTopic('orders');
    assert.deepEqual(s.listTopics(), []);
    assert.equal(existsSync(join(dir, 'orders-0')), false);
    await rejectsWith(s.describeTopic('orders'), 'UNKNOWN_TOPIC_OR_PARTITION');
    await s.createTopic('orders', { partitions: 1 });
    assert.equal((await s.describeTopic('orders')).partitions[0].logEndOffset, 0n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('append and read back byte for byte across partitions and owners; acks 0/1/all', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 2 });
    await s.createTopic('t', { partitions: 4 });
    const sent: Buffer[][] = [[], [], [], []];
    const acksList = [0, 1, -1, 'all'] as const;
    const results = [];
    for (let i = 0; i < 40; i++) {
      const p = i % 4;
      const b = batchOf(`p${p}-b${i}`, 1 + (i % 5));
      sent[p].push(b);
      results.push(s.append('t', p, b, { acks: acksList[i % 4] }));
    }
    const rs = await Promise.all(results);
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) assert.equal(rs[i].baseOffset, -1n);
    }
    // offsets contiguous per partition
    for (let p = 1; p < 4; p++) {
      let next = 0n;
      for (let i = p; i < 40; i += 4) {
        const count = BigInt(1 + (i % 5));
        assert.equal(rs[i].baseOffset, next);
        assert.equal(rs[i].lastOffset, next + count - 1n);
        next += count;
      }
    }
    await s.flush(); // acks=0 appends are done once the owner has processed them
    for (let p = 0; p < 4; p++) {
      const r = s.read('t', p, 0n, { maxBytes: 1 << 20 });
      const batches = decodeBatches(r.records);
      assert.equal(batches.length, sent[p].length);
      let next = 0n;
      for (let j = 0; j < batches.length; j++) {
        const orig = sent[p][j];
        const got = r.records.subarray(
          batches.slice(0, j).reduce((n, b) => n + b.sizeInBytes, 0),
          batches.slice(0, j + 1).reduce((n, b) => n + b.sizeInBytes, 0),
        );
        // identical apart from the base offset and leader epoch the log assigns (outside the CRC)
        assert.deepEqual(got.subarray(17), orig.subarray(17));
        assert.equal(batches[j].baseOffset, next);
        next = batches[j].lastOffset + 1n;
      }
      assert.equal(r.nextOffset, next);
      assert.equal(r.highWatermark, next);
      assert.equal(s.offsets('t', p).highWatermark, next);
    }
    // reading past the end is empty; bad partition typed
    assert.equal(s.read('t', 1, s.offsets('t', 1).highWatermark, { maxBytes: 100 }).records.length, 0);
    await rejectsWith(() => s.read('t', 9, 0n, { maxBytes: 100 }), 'UNKNOWN_TOPIC_OR_PARTITION');
    await rejectsWith(s.append('t', 9, batchOf('x', 1)), 'UNKNOWN_TOPIC_OR_PARTITION');
    await rejectsWith(s.append('nope', 0, batchOf('x', 1)), 'UNKNOWN_TOPIC_OR_PARTITION');
    // several batches in one append
    const multi = await s.append('t', 1, [batchOf('m', 2), batchOf('n', 3)], { acks: 1 });
    assert.equal(multi.lastOffset - multi.baseOffset, 4n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('bad CRC → CorruptRecordError, nothing written; oversize → RECORD_TOO_LARGE', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    await s.createTopic('t', { configs: { 'max.message.bytes': '2000' } });
    const good = batchOf('g', 2);
    const bad = Buffer.from(batchOf('b', 2));
    bad[bad.length - 1] ^= 0xff;
    await assert.rejects(s.append('t', 0, [good, bad]), CorruptRecordError);
    await assert.rejects(s.append('t', 0, bad.subarray(0, 40)), CorruptRecordError);
    await rejectsWith(s.append('t', 0, sizedBatch(5, 1000)), 'RECORD_TOO_LARGE');
    await rejectsWith(s.append('t', 0, Buffer.alloc(0)), 'INVALID_ARGUMENT');
    assert.equal(s.offsets('t', 0).logEndOffset, 0n);
    assert.equal((await s.append('t', 0, good)).baseOffset, 0n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('HW is visible from this thread; waitForData wakes on append and times out otherwise', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    await s.createTopic('t');
    const t0 = performance.now();
    assert.equal(await s.waitForData('t', 0, 0n, 100), false);
    assert.ok(performance.now() - t0 >= 90);
    const waiting = s.waitForData('t', 0, 0n, 5000);
    setTimeout(() => void s.append('t', 0, batchOf('w', 1), { acks: 0 }), 30);
    const t1 = performance.now();
    assert.equal(await waiting, true);
    assert.ok(performance.now() - t1 < 2000);
    assert.equal(s.offsets('t', 0).highWatermark, 1n);
    assert.equal(await s.waitForData('t', 0, 0n, 10), true);
    assert.deepEqual(await s.listOffset('t', 0, 'latest'), { offset: 1n, timestamp: -1n });
    assert.deepEqual(await s.listOffset('t', 0, 'earliest'), { offset: 0n, timestamp: -1n });
    await s.close();
  } finally {
    cleanup();
  }
});

test('back-pressure: tiny ring, thousands of concurrent appends, all complete in order', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 2, ringBytes: 256 * 1024, topicDefaults: { 'max.message.bytes': '60000' } });
    await s.createTopic('bp', { partitions: 3 });
    const batch = sizedBatch(20, 200);
    const n = 3000;
    const ps = [];
    for (let i = 0; i < n; i++) ps.push(s.append('bp', i % 3, batch, { acks: i % 7 === 0 ? 0 : 1 }));
    const rs = await Promise.all(ps);
    const last = [-1n, -1n, -1n];
    for (let i = 0; i < n; i++) {
      if (rs[i].baseOffset < 0n) continue;
      assert.ok(rs[i].baseOffset > last[i % 3], 'offsets increase in submission order');
      last[i % 3] = rs[i].lastOffset;
    }
    await s.flush();
    for (let p = 0; p < 3; p++) assert.equal(s.offsets('bp', p).logEndOffset, BigInt((n / 3) * 20));
    // an append larger than half the ring is split into several entries, in order
    const big = Array.from({ length: 10 }, () => sizedBatch(50, 1000));
    const r = await s.append('bp', 0, big, { acks: 1 });
    assert.equal(r.lastOffset - r.baseOffset, 499n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('retention through runMaintenance with a ManualClock', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const clock = createManualClock(1_000_000);
    const s = await Sluice.open({ dataDir: dir, owners: 1, clock });
    await s.createTopic('r', { configs: { 'retention.ms': '60000', 'segment.bytes': '4096', 'file.delete.delay.ms': '0' } });
    for (let i = 0; i < 40; i++) {
      await s.append('r', 0, sizedBatch(5, 100, { now: clock.now() }), { acks: 1 });
    }
    const before = (await s.describeTopic('r')).partitions[0];
    assert.equal(before.logStartOffset, 0n);
    await s.runMaintenance();
    assert.equal(s.offsets('r', 0).logStartOffset, 0n, 'nothing expired yet');
    clock.advance(120_000);
    await s.append('r', 0, sizedBatch(5, 100, { now: clock.now() }), { acks: 1 });
    await s.runMaintenance();
    const after = s.offsets('r', 0);
    assert.ok(after.logStartOffset > 0n, 'old segments deleted');
    assert.equal(after.logEndOffset, 205n);
    assert.equal((await s.listOffset('r', 0, 'earliest')).offset, after.logStartOffset);
    const d = await s.describeTopic('r');
    assert.ok(d.partitions[0].sizeBytes < before.sizeBytes);
    await s.close();
  } finally {
    cleanup();
  }
});

test('deleteRecords moves the log start; listOffset by timestamp', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    await s.createTopic('d');
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) await s.append('d', 0, batchOf(`t${i}`, 2, { now: t0 + 1000 * (i + 1) }), { acks: 1 });
    assert.deepEqual(await s.listOffset('d', 0, { timestamp: t0 + 5000 }), { offset: 8n, timestamp: BigInt(t0 + 5000) });
    assert.deepEqual(await s.listOffset('d', 0, { timestamp: t0 + 99999 }), { offset: -1n, timestamp: -1n });
    assert.equal((await s.listOffset('d', 0, { timestamp: -2 })).offset, 0n);
    assert.equal(await s.deleteRecords('d', 0, 7n), 7n);
    assert.equal(s.offsets('d', 0).logStartOffset, 7n);
    assert.equal((await s.listOffset('d', 0, 'earliest')).offset, 7n);
    await rejectsWith(s.deleteRecords('d', 0, 100n), 'OFFSET_OUT_OF_RANGE');
    await rejectsWith(() => s.read('d', 0, 2n, { maxBytes: 1000 }), 'OFFSET_OUT_OF_RANGE');
    assert.equal(await s.waitForData('d', 0, 2n, 1000), true, 'an offset below the log start returns at once');
    await s.close();
  } finally {
    cleanup();
  }
});

test('read: toLogEnd reads to the log end; leadership comes from the topic metadata (one node: 0, epoch 0)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    try {
      await s.createTopic('t', { partitions: 2 });
      await s.append('t', 1, batchOf('a', 3), { acks: 1 });
      const o = s.offsets('t', 1);
      const r = s.read('t', 1, 0n, { maxBytes: 1 << 20, toLogEnd: true });
      assert.equal(r.nextOffset, o.logEndOffset);
      assert.deepEqual(values(r.records), ['a-0', 'a-1', 'a-2']);
      assert.deepEqual(s.leadership('t', 0), { leader: 0, leaderEpoch: 0 });
      assert.equal((await s.describeTopic('t')).partitions[1]?.leader, 0);
      await rejectsWith(() => s.leadership('t', 2), 'UNKNOWN_TOPIC_OR_PARTITION');
    } finally {
      await s.close();
    }
  } finally {
    cleanup();
  }
});
