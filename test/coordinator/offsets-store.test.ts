import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/errors.js';
import { decodeBatches } from '../../src/record/batch.js';
import {
  decodeOffsetKey,
  decodeOffsetValue,
  encodeOffsetKey,
  encodeOffsetValue,
  javaStringHashCode,
  OFFSETS_TOPIC,
  OffsetsStore,
  partitionForGroup,
} from '../../src/coordinator/offsets-store.js';
import { openEngine } from './helpers.js';

describe('offsets record format', () => {
  it('writes OffsetCommitKey v1 byte for byte', () => {
    const k = encodeOffsetKey('g', 'tp', 7);
    assert.deepEqual([...k], [0, 1, 0, 1, 0x67, 0, 2, 0x74, 0x70, 0, 0, 0, 7]);
    assert.deepEqual(decodeOffsetKey(k), { kind: 'offset', version: 1, groupId: 'g', topic: 'tp', partition: 7 });
  });

  it('writes OffsetCommitValue v3 byte for byte and reads v0..v3', () => {
    const v = encodeOffsetValue({ offset: 42n, leaderEpoch: 5, metadata: 'm', commitTimestamp: 1000n });
    const expected = Buffer.alloc(2 + 8 + 4 + 3 + 8);
    expected.writeInt16BE(3, 0);
    expected.writeBigInt64BE(42n, 2);
    expected.writeInt32BE(5, 10);
    expected.writeInt16BE(1, 14);
    expected.write('m', 16);
    expected.writeBigInt64BE(1000n, 17);
    assert.deepEqual(v, expected);
    assert.deepEqual(decodeOffsetValue(v), { offset: 42n, leaderEpoch: 5, metadata: 'm', commitTimestamp: 1000n });

    // v1: offset, metadata, commitTimestamp, expireTimestamp
    const v1 = Buffer.alloc(2 + 8 + 2 + 8 + 8);
    v1.writeInt16BE(1, 0);
    v1.writeBigInt64BE(9n, 2);
    v1.writeInt16BE(0, 10);
    v1.writeBigInt64BE(77n, 12);
    v1.writeBigInt64BE(-1n, 20);
    assert.deepEqual(decodeOffsetValue(v1), { offset: 9n, leaderEpoch: -1, metadata: '', commitTimestamp: 77n });
    assert.throws(() => decodeOffsetValue(v1.subarray(0, 15)), (e: unknown) => e instanceof SluiceError && e.code === 'CORRUPT_RECORD');
  });

  it("places groups like Kafka: Utils.abs(groupId.hashCode()) % partitions", () => {
    assert.equal(javaStringHashCode(''), 0);
    assert.equal(javaStringHashCode('hello'), 99162322);
    assert.equal(javaStringHashCode('polygenelubricants'), -2147483648); // Integer.MIN_VALUE: abs → 0
    assert.equal(partitionForGroup('polygenelubricants', 50), 0);
    assert.equal(partitionForGroup('hello', 50), 99162322 % 50);
    // a negative hash uses Math.abs, not the sign-bit mask
    const g = 'consumer-group-7';
    const h = javaStringHashCode(g);
    if (h < 0) assert.equal(partitionForGroup(g, 50), -h % 50);
    for (let i = 0; i < 200; i++) {
      const id = `group-${i}-é`;
      const hh = javaStringHashCode(id);
      assert.equal(partitionForGroup(id, 50), (hh === -2147483648 ? 0 : Math.abs(hh)) % 50);
    }
  });
});

describe('OffsetsStore on a real engine', () => {
  let env: Awaited<ReturnType<typeof openEngine>>;
  before(async () => {
    env = await openEngine();
  });
  after(async () => {
    await env.cleanup();
  });

  it('creates __consumer_offsets as an internal compacted topic with the requested partitions', async () => {
    const store = await OffsetsStore.open(env.sluice(), { partitions: 5 });
    const d = await env.sluice().describeTopic(OFFSETS_TOPIC);
    assert.equal(d.partitions.length, 5);
    assert.equal(d.configs['cleanup.policy'], 'compact');
    assert.equal(d.configs['segment.bytes'], '104857600');
    assert.equal(d.internal, true);
    assert.ok(!env.sluice().listTopics().includes(OFFSETS_TOPIC));
    assert.equal(store.partitions, 5);
    // reopening with another count keeps the existing topic's count
    const again = await OffsetsStore.open(env.sluice(), { partitions: 9 });
    assert.equal(again.partitions, 5);
  });

  it('answers -1 for an unknown group or partition (OffsetFetch)', async () => {
    const store = await OffsetsStore.open(env.sluice(), { partitions: 5 });
    assert.deepEqual(store.fetch('nobody', [{ topic: 't', partition: 0 }]), [{ topic: 't', partition: 0, offset: -1n, metadata: null, leaderEpoch: -1 }]);
    assert.deepEqual(store.fetch('nobody'), []);
  });

  it('commits, fetches, survives close + reopen, deletes', async () => {
    let store = await OffsetsStore.open(env.sluice(), { partitions: 5, now: () => 1234 });
    await store.commit('g1', [
      { topic: 'a', partition: 0, offset: 10n, metadata: 'x' },
      { topic: 'a', partition: 1, offset: 20n, leaderEpoch: 3 },
    ]);
    await store.commit('g1', [{ topic: 'a', partition: 0, offset: 11n }]);
    await store.commit('g2', [{ topic: 'b', partition: 0, offset: 5n }]);
    await store.commit('g3', [{ topic: 'c', partition: 2, offset: 1n }]);
    await store.deleteOffsets('g3', [{ topic: 'c', partition: 2 }]);
    await store.commit('g4', [{ topic: 'd', partition: 0, offset: 1n }]);
    assert.equal(await store.deleteGroup('g4'), true);
    assert.equal(await store.deleteGroup('g4'), false);
    const expectG1 = [
      { topic: 'a', partition: 0, offset: 11n, metadata: '', leaderEpoch: -1 },
      { topic: 'a', partition: 1, offset: 20n, metadata: '', leaderEpoch: 3 },
    ];
    assert.deepEqual(store.fetch('g1'), expectG1);
    assert.deepEqual(store.listGroups(), ['g1', 'g2']);
    assert.equal(store.entries('g1')[0]!.commitTimestamp, 1234n);

    // The records are in the group's partition, in Kafka's layout.
    const p = store.partitionFor('g1');
    const r = env.sluice().read(OFFSETS_TOPIC, p, 0n, { maxBytes: 1 << 20 });
    const recs = decodeBatches(r.records).flatMap((b) => b.records);
    assert.ok(recs.some((x) => x.key && decodeOffsetKey(x.key).kind === 'offset'));

    await store.close();
    await env.reopen();
    store = await OffsetsStore.open(env.sluice());
    assert.deepEqual(store.fetch('g1'), expectG1);
    assert.deepEqual(store.fetch('g2', [{ topic: 'b', partition: 0 }, { topic: 'b', partition: 1 }]), [
      { topic: 'b', partition: 0, offset: 5n, metadata: '', leaderEpoch: -1 },
      { topic: 'b', partition: 1, offset: -1n, metadata: null, leaderEpoch: -1 },
    ]);
    assert.deepEqual(store.fetch('g3'), []);
    assert.deepEqual(store.fetch('g4'), []);
    assert.deepEqual(store.listGroups(), ['g1', 'g2']);
  });

  it('keeps concurrent commits of one group in log order', async () => {
    const store = await OffsetsStore.open(env.sluice());
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.commit('race', [{ topic: 't', partition: 0, offset: BigInt(i) }])));
    assert.equal(store.fetch('race', [{ topic: 't', partition: 0 }])[0]!.offset, 49n);
    const reread = await OffsetsStore.open(env.sluice());
    assert.equal(reread.fetch('race', [{ topic: 't', partition: 0 }])[0]!.offset, 49n);
  });

  it('stores group metadata records for the group coordinator', async () => {
    const store = await OffsetsStore.open(env.sluice());
    const key = Buffer.alloc(2 + 2 + 2);
    key.writeInt16BE(2, 0);
    key.writeInt16BE(2, 2);
    key.write('gm', 4);
    await store.storeGroup('gm', key, Buffer.from('opaque-value'));
    await assert.rejects(store.storeGroup('other', key, Buffer.from('x')), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
    const reread = await OffsetsStore.open(env.sluice());
    assert.deepEqual(reread.storedGroups().get('gm'), Buffer.from('opaque-value'));
    assert.ok(reread.listGroups().includes('gm'));
    assert.equal(await reread.deleteGroup('gm'), true);
    const third = await OffsetsStore.open(env.sluice());
    assert.equal(third.storedGroups().has('gm'), false);
  });

  it('rejects bad input with typed errors', async () => {
    const store = await OffsetsStore.open(env.sluice(), { maxMetadataBytes: 8 });
    const bad = (e: unknown): boolean => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT';
    await assert.rejects(store.commit('', [{ topic: 't', partition: 0, offset: 1n }]), bad);
    await assert.rejects(store.commit('g', [{ topic: 't', partition: 0, offset: -5n }]), bad);
    await assert.rejects(store.commit('g', [{ topic: 't', partition: 0, offset: 1n, metadata: 'way too long' }]), bad);
    assert.deepEqual(store.fetch('g'), []);
  });
});
