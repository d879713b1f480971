import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator, type JoinGroupRequest, type JoinGroupResult } from '../../src/coordinator/group-coordinator.js';
import { OffsetsStore, partitionForGroup } from '../../src/coordinator/offsets-store.js';
import { KafkaErrors as E, kafkaErrorName } from '../../src/kafka-protocol/error-codes.js';
import type { Sluice } from '../../src/sluice.js';
import { openEngine } from './helpers.js';

// The coordinator's timers are unref'd; this keeps the process up while a join waits for one.
const keepAlive = setInterval(() => {}, 1000);
after(() => clearInterval(keepAlive));

const PARTITIONS = 4;
const TOPIC = 't';

/** The first group id `prefix-<n>` that lands in `partition`. */
function groupIn(partition: number, prefix: string): string {
  for (let n = 0; ; n++) if (partitionForGroup(`${prefix}-${n}`, PARTITIONS) === partition) return `${prefix}-${n}`;
}

function ok<T extends { errorCode: number }>(r: T): T {
  assert.equal(r.errorCode, E.NONE, `expected NONE, got ${kafkaErrorName(r.errorCode)}`);
  return r;
}

function join(c: GroupCoordinator, groupId: string, over: Partial<JoinGroupRequest> = {}): Promise<JoinGroupResult> {
  return c.joinGroup({
    groupId,
    memberId: '',
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    ...over,
  });
}

/** One member joined and synced: the group is Stable with its record in `__consumer_offsets`. */
async function stableGroup(c: GroupCoordinator, groupId: string): Promise<JoinGroupResult> {
  const j = ok(await join(c, groupId));
  ok(await c.syncGroup({ groupId, generationId: j.generationId, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('a') }] }));
  return j;
}

function commit(c: GroupCoordinator, engine: Sluice, groupId: string, offset: bigint): Promise<number[]> {
  return c.commitOffsets({
    groupId,
    generationId: -1,
    memberId: '',
    offsets: [{ topic: TOPIC, partition: 0, offset, metadata: 'm' }],
    partitionExists: (topic, partition) => engine.hasTopic(topic) && partition < engine.partitionCount(topic),
  });
}

const hb = (c: GroupCoordinator, groupId: string, j: JoinGroupResult): number =>
  c.heartbeat({ groupId, generationId: j.generationId, memberId: j.memberId });

test('one __consumer_offsets partition is unloaded and loaded again; groups of the other partitions are untouched', async () => {
  const env = await openEngine('sluice-coord-load-');
  try {
    let engine = env.sluice();
    await engine.createTopic(TOPIC, { partitions: 1 });
    const store = await OffsetsStore.open(engine, { partitions: PARTITIONS });
    const c = new GroupCoordinator({ persistence: store, minSessionTimeoutMs: 10, initialRebalanceDelayMs: 0 });
    const moving = groupIn(1, 'moving');
    const offsetsOnly = groupIn(1, 'offsets-only');
    const staying = groupIn(2, 'staying');
    try {
      const m = await stableGroup(c, moving);
      const s = await stableGroup(c, staying);
      assert.deepEqual(await c.commitOffsets({ groupId: moving, generationId: m.generationId, memberId: m.memberId, offsets: [{ topic: TOPIC, partition: 0, offset: 7n }], partitionExists: () => true }), [E.NONE]);
      assert.deepEqual(await commit(c, engine, offsetsOnly, 3n), [E.NONE]);
      const byMember = { groupId: staying, generationId: s.generationId, memberId: s.memberId, partitionExists: () => true };
      assert.deepEqual(await c.commitOffsets({ ...byMember, offsets: [{ topic: TOPIC, partition: 0, offset: 11n }] }), [E.NONE]);
      // A second member's join parks the moving group in a rebalance.
      const parked = join(c, moving, { clientId: 'late' });

      c.unloadPartition(1);
      assert.equal((await parked).errorCode, E.NOT_COORDINATOR, 'a parked join is told to find the coordinator again');
      assert.equal(store.isLoaded(1), false);
      assert.equal(hb(c, moving, m), E.NOT_COORDINATOR);
      assert.equal(c.describeGroup(moving).errorCode, E.NOT_COORDINATOR);
      assert.equal(c.fetchOffsets(offsetsOnly).errorCode, E.NOT_COORDINATOR);
      assert.deepEqual(await commit(c, engine, offsetsOnly, 4n), [E.NOT_COORDINATOR]);
      assert.deepEqual(store.fetch(moving), [], 'the partition left memory');
      assert.deepEqual(c.listGroups().map((g) => g.groupId), [staying]);
      // The other partition's group keeps its member, its state and its offsets.
      assert.equal(hb(c, staying, s), E.NONE);
      assert.equal(c.describeGroup(staying).state, 'Stable');
      assert.equal(c.fetchOffsets(staying).offsets[0]!.offset, 11n);
      assert.deepEqual(await c.commitOffsets({ ...byMember, offsets: [{ topic: TOPIC, partition: 0, offset: 12n }] }), [E.NONE]);

      const loading = c.loadPartition(1);
      assert.equal(hb(c, moving, m), E.COORDINATOR_LOAD_IN_PROGRESS);
      assert.equal(c.fetchOffsets(moving).errorCode, E.COORDINATOR_LOAD_IN_PROGRESS);
      await loading;
      assert.equal(store.isLoaded(1), true);
      // Groups come back from their records (Empty, members rejoin) and offsets from theirs.
      const d = c.describeGroup(moving);
      assert.equal(d.state, 'Empty');
      assert.equal(d.protocolType, 'consumer');
      assert.equal(hb(c, moving, m), E.UNKNOWN_MEMBER_ID);
      assert.equal(c.fetchOffsets(moving).offsets[0]!.offset, 7n);
      assert.equal(c.fetchOffsets(offsetsOnly).offsets[0]!.offset, 3n);
      assert.equal((await join(c, moving)).generationId, m.generationId + 1, 'the generation continues from the record');
      assert.equal(hb(c, staying, s), E.NONE);
      assert.equal(c.describeGroup(staying).members.length, 1);
      assert.equal(c.fetchOffsets(staying).offsets[0]!.offset, 12n);
    } finally {
      c.close();
      await store.close();
    }

    // From the files: a store that loads nothing on open serves only the partition the coordinator loads.
    engine = await env.reopen();
    const cold = await OffsetsStore.open(engine, { loadPartitions: false });
    const c2 = new GroupCoordinator({ persistence: cold, minSessionTimeoutMs: 10 });
    try {
      assert.equal(c2.fetchOffsets(staying).errorCode, E.NOT_COORDINATOR);
      await c2.loadPartition(2);
      assert.equal(c2.fetchOffsets(staying).offsets[0]!.offset, 12n);
      assert.equal(c2.describeGroup(staying).state, 'Empty');
      assert.equal(c2.fetchOffsets(moving).errorCode, E.NOT_COORDINATOR, 'partition 1 was not loaded');
      assert.deepEqual(c2.listGroups().map((g) => g.groupId), [staying]);
    } finally {
      c2.close();
      await cold.close();
    }
  } finally {
    await env.cleanup();
  }
});
