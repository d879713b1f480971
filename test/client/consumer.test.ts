import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { OffsetsStore } from '../../src/coordinator/offsets-store.js';
import { SluiceError } from '../../src/errors.js';
import { encodeBatch } from '../../src/record/batch.js';
import type { Sluice } from '../../src/sluice.js';
import { openEngine } from '../coordinator/helpers.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/config.js';
import { join } from 'node:path';

const isCode = (code: string) => (e: unknown): boolean => e instanceof SluiceError && e.code === code;
const values = (rs: ConsumerRecord[]): string[] => rs.map((r) => r.value!.toString());

describe('Consumer', () => {
  let env: Awaited<ReturnType<typeof openEngine>>;
  let s: Sluice;
  before(async () => {
    env = await openEngine('sluice-consumer-');
    s = env.sluice();
    await s.createTopic('c', { partitions: 1 });
    // Two batches of 5 with known timestamps: offsets 0..9, timestamps 1000 + 10 * offset.
    for (const base of [0, 5]) {
      const records = Array.from({ length: 5 }, (_, i) => ({ key: `k${base + i}`, value: `v${base + i}`, timestamp: 1000 + 10 * (base + i) }));
      await s.append('c', 0, encodeBatch(records), { acks: 'all' });
    }
  });
  after(async () => {
    await env.cleanup();
  });

  it('reads from an explicit offset, skipping the records of a batch below it', async () => {
    const c = new Consumer(s, null);
    c.assign([{ topic: 'c', partition: 0, offset: 3n }]);
    const rs = await c.poll({ timeoutMs: 100 });
    assert.deepEqual(values(rs), ['v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
    assert.deepEqual(rs.map((r) => r.offset), [3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    assert.equal(rs[0]!.timestamp, 1030n);
    assert.equal(rs[0]!.topic, 'c');
    assert.equal(await c.position('c', 0), 10n);
    await c.close();
  });

  it('earliest, latest and timestamp positions; seek', async () => {
    const early = new Consumer(s, null, { fromBeginning: true });
    early.assign([{ topic: 'c', partition: 0 }]);
    assert.equal(await early.position('c', 0), 0n);
    const late = new Consumer(s, null);
    late.assign([{ topic: 'c', partition: 0 }]);
    assert.equal(await late.position('c', 0), 10n);
    assert.deepEqual(await late.poll({ timeoutMs: 20 }), []);

    early.seek('c', 0, { timestamp: 1065 });
    assert.equal(await early.position('c', 0), 7n);
    assert.deepEqual(values(await early.poll({ maxRecords: 2, timeoutMs: 50 })), ['v7', 'v8']);
    early.seek('c', 0, { timestamp: 999_999 }); // after the last record: the end of the log
    assert.equal(await early.position('c', 0), 10n);
    early.seek('c', 0, 'earliest');
    assert.deepEqual(values(await early.poll({ maxRecords: 1 })), ['v0']);
    early.seek('c', 0, 'latest');
    assert.equal(await early.position('c', 0), 10n);
    early.seek('c', 0, 4n);
    assert.deepEqual(values(await early.poll({ maxRecords: 1 })), ['v4']);
    assert.throws(() => early.seek('c', 1, 0n), isCode('INVALID_ARGUMENT'));
    await early.close();
    await late.close();
  });

  it('maxRecords keeps the rest for the next poll and the position in between', async () => {
    const c = new Consumer(s, null, { fromBeginning: true });
    c.assign([{ topic: 'c', partition: 0 }]);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const rs = await c.poll({ maxRecords: 3 });
      got.push(...values(rs));
      assert.equal(await c.position('c', 0), BigInt(got.length));
    }
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `v${i}`));
    await c.close();
  });

  it('long-polls until data arrives, and close wakes a waiting poll', async () => {
    await s.createTopic('lp', { partitions: 2 });
    const c = new Consumer(s, null);
    c.assign([{ topic: 'lp', partition: 0 }, { topic: 'lp', partition: 1 }]);
    await c.position('lp', 1);
    const t0 = Date.now();
    const polled = c.poll({ timeoutMs: 5000 });
    setTimeout(() => void s.append('lp', 1, encodeBatch([{ value: 'late' }]), { acks: 1 }), 50);
    const rs = await polled;
    assert.deepEqual(values(rs), ['late']);
    assert.ok(Date.now() - t0 < 4000);
    const waiting = c.poll({ timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    assert.deepEqual(await waiting, []);
    await assert.rejects(c.poll(), isCode('CLOSED'));
  });

  it('skips control batches', async () => {
    await s.createTopic('ctl', { partitions: 1 });
    const p = new Producer(s, { idempotent: false });
    await p.send({ topic: 'ctl', messages: [{ value: 'a' }] });
    await p.close();
    // A produced control batch is refused (only a transaction coordinator writes markers), so the marker goes
    // into the partition's log directly while the engine is closed, as a coordinator's write would land.
    const marker = Buffer.alloc(4);
    marker.writeInt16BE(0, 0); // version
    marker.writeInt16BE(1, 2); // COMMIT
    const control = encodeBatch([{ key: marker, value: Buffer.alloc(6) }], { control: true, transactional: true, producerId: 1n, producerEpoch: 0 });
    await assert.rejects(s.append('ctl', 0, control, { acks: 1 }), isCode('INVALID_RECORD'));
    s = await env.reopen(() => {
      const plog = PartitionLog.open({ dir: join(env.dir, 'ctl-0'), config: DEFAULT_LOG_CONFIG });
      plog.append(control, { assignOffsets: true });
      plog.close();
    });
    const p2 = new Producer(s, { idempotent: false });
    await p2.send({ topic: 'ctl', messages: [{ value: 'b' }] });
    await p2.close();
    assert.equal(s.offsets('ctl', 0).highWatermark, 3n, 'a, the marker, b');
    const c = new Consumer(s, null, { fromBeginning: true });
    c.assign([{ topic: 'ctl', partition: 0 }]);
    assert.deepEqual(values(await c.poll({ timeoutMs: 100 })), ['a', 'b']);
    assert.equal(await c.position('ctl', 0), s.offsets('ctl', 0).highWatermark);
    await c.close();
  });

  it('resets an out-of-range position by autoOffsetReset, or throws with none', async () => {
    const c = new Consumer(s, null, { autoOffsetReset: 'earliest' });
    c.assign([{ topic: 'c', partition: 0, offset: 500n }]);
    const rs = await c.poll({ timeoutMs: 100 });
    assert.equal(rs[0]!.offset, 0n);
    await c.close();
    const n = new Consumer(s, null, { autoOffsetReset: 'none' });
    n.assign([{ topic: 'c', partition: 0, offset: 500n }]);
    await assert.rejects(n.poll({ timeoutMs: 50 }), isCode('OFFSET_OUT_OF_RANGE'));
    const n2 = new Consumer(s, null, { autoOffsetReset: 'none' });
    n2.assign([{ topic: 'c', partition: 0 }]);
    await assert.rejects(n2.poll({ timeoutMs: 50 }), isCode('OFFSET_OUT_OF_RANGE'));
    assert.throws(() => n2.assign([{ topic: 'c', partition: 9 }]), isCode('UNKNOWN_TOPIC_OR_PARTITION'));
  });

  it('group offsets: starts at the committed offset, commits positions, survives engine restart', async () => {
    let store = await OffsetsStore.open(s, { partitions: 3 });
    const c1 = new Consumer(s, store, { groupId: 'grp', fromBeginning: true });
    c1.assign([{ topic: 'c', partition: 0 }]);
    assert.deepEqual(await c1.committed([{ topic: 'c', partition: 0 }]), [{ topic: 'c', partition: 0, offset: -1n, metadata: null, leaderEpoch: -1 }]);
    assert.deepEqual(values(await c1.poll({ maxRecords: 4 })), ['v0', 'v1', 'v2', 'v3']);
    await c1.commit();
    assert.equal((await c1.committed([{ topic: 'c', partition: 0 }]))[0]!.offset, 4n);
    await c1.close();

    s = await env.reopen();
    store = await OffsetsStore.open(s);
    const c2 = new Consumer(s, store, { groupId: 'grp' });
    c2.assign([{ topic: 'c', partition: 0 }]);
    assert.equal(await c2.position('c', 0), 4n);
    await c2.commit([{ topic: 'c', partition: 0, offset: 8n, metadata: 'm' }]);
    assert.deepEqual(await c2.committed([{ topic: 'c', partition: 0 }]), [{ topic: 'c', partition: 0, offset: 8n, metadata: 'm', leaderEpoch: -1 }]);
    await c2.close();
    const none = new Consumer(s, null);
    await assert.rejects(none.commit(), isCode('INVALID_ARGUMENT'));
  });

  it('autoCommit commits what the previous poll returned, and on close', async () => {
    const store = await OffsetsStore.open(s);
    const c = new Consumer(s, store, { groupId: 'auto', autoCommit: true, fromBeginning: true });
    c.assign([{ topic: 'c', partition: 0 }]);
    await c.poll({ maxRecords: 2 });
    assert.equal(store.fetch('auto', [{ topic: 'c', partition: 0 }])[0]!.offset, -1n);
    await c.poll({ maxRecords: 3 });
    assert.equal(store.fetch('auto', [{ topic: 'c', partition: 0 }])[0]!.offset, 2n);
    await c.close();
    assert.equal(store.fetch('auto', [{ topic: 'c', partition: 0 }])[0]!.offset, 5n);
  });

  it('async iterator yields in order; breaking out rewinds and commits only what was handed out', async () => {
    const store = await OffsetsStore.open(s);
    const c = new Consumer(s, store, { groupId: 'iter', autoCommit: true, fromBeginning: true, maxPollRecords: 6 });
    c.assign([{ topic: 'c', partition: 0 }]);
    const seen: string[] = [];
    for await (const r of c) {
      seen.push(r.value!.toString());
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, ['v0', 'v1', 'v2']);
    assert.equal(store.fetch('iter', [{ topic: 'c', partition: 0 }])[0]!.offset, 3n);
    assert.deepEqual(values(await c.poll({ maxRecords: 1 })), ['v3']);
    await c.close();
  });
});
