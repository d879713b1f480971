import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, CorruptRecordError } from '../../src/errors.js';
import {
  GroupCoordinator,
  type GroupCoordinatorOptions,
  type GroupProtocol,
  type JoinGroupRequest,
  type JoinGroupResult,
  type SyncGroupResult,
} from '../../src/coordinator/group-coordinator.js';
import { KafkaErrors as E, kafkaErrorName } from '../../src/kafka-protocol/error-codes.js';
import {
  decodeGroupMetadataKey,
  decodeGroupMetadataValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  isGroupMetadataKey,
  type GroupMetadataRecord,
} from '../../src/coordinator/group-records.js';

// The coordinator's timers are unref'd (in a broker the listening socket keeps the process alive);
// this handle plays that part while tests await joins that only a coordinator timer completes.
const keepAlive = setInterval(() => {}, 1000);
after(() => clearInterval(keepAlive));

const G = 'g1';
const SESSION = 1000;
const REBALANCE = 400;

function protocols(meta = 'sub', name = 'range'): GroupProtocol[] {
  return [{ name, metadata: Buffer.from(meta) }];
}

function join(c: GroupCoordinator, over: Partial<JoinGroupRequest> = {}): Promise<JoinGroupResult> {
  return c.joinGroup({
    groupId: G,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: protocols(),
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    ...over,
  });
}

function coordinator(over: GroupCoordinatorOptions = {}): GroupCoordinator {
  return new GroupCoordinator({ minSessionTimeoutMs: 10, initialRebalanceDelayMs: 30, ...over });
}

async function isPending(p: Promise<unknown>, ms = 15): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p, sleep(ms, marker)])) === marker;
}

function ok<T extends { errorCode: number }>(r: T): T {
  assert.equal(r.errorCode, E.NONE, `expected NONE, got ${kafkaErrorName(r.errorCode)}`);
  return r;
}

const hb = (c: GroupCoordinator, r: { memberId: string; generationId: number }, instance: string | null = null): number =>
  c.heartbeat({ groupId: G, generationId: r.generationId, memberId: r.memberId, groupInstanceId: instance });

/** Two dynamic members joined, synced and Stable; returns their join results (a is the leader). */
async function stableGroupOfTwo(c: GroupCoordinator): Promise<{ a: JoinGroupResult; b: JoinGroupResult }> {
  const pa = join(c, { clientId: 'a', protocols: protocols('meta-a') });
  const pb = join(c, { clientId: 'b', protocols: protocols('meta-b') });
  const [a, b] = [ok(await pa), ok(await pb)];
  const sb = c.syncGroup({ groupId: G, generationId: b.generationId, memberId: b.memberId, assignments: [] });
  const sa = c.syncGroup({
    groupId: G,
    generationId: a.generationId,
    memberId: a.memberId,
    assignments: [
      { memberId: a.memberId, assignment: Buffer.from('asg-a') },
      { memberId: b.memberId, assignment: Buffer.from('asg-b') },
    ],
  });
  ok(await sa);
  ok(await sb);
  return { a, b };
}

test('two members join one generation; the leader gets all metadata; sync hands out assignments', async () => {
  const c = coordinator();
  try {
    const pa = join(c, { clientId: 'a', protocols: protocols('meta-a') });
    const pb = join(c, { clientId: 'b', protocols: protocols('meta-b') });
    assert.ok(await isPending(pa), 'join waits for the initial rebalance delay');
    assert.equal(c.describeGroup(G).state, 'PreparingRebalance');
    const a = ok(await pa);
    const b = ok(await pb);
    assert.equal(a.generationId, 1);
    assert.equal(b.generationId, 1);
    assert.match(a.memberId, /^a-[0-9a-f-]{36}$/);
    assert.equal(a.leader, a.memberId, 'first joined member leads');
    assert.equal(b.leader, a.memberId);
    assert.equal(a.protocolType, 'consumer');
    assert.equal(a.protocolName, 'range');
    assert.deepEqual(
      a.members.map((m) => [m.memberId, m.metadata.toString()]).sort(),
      [
        [a.memberId, 'meta-a'],
        [b.memberId, 'meta-b'],
      ].sort(),
    );
    assert.deepEqual(b.members, [], 'followers get no member list');
    assert.equal(c.describeGroup(G).state, 'CompletingRebalance');
    assert.equal(hb(c, a), E.NONE, 'heartbeat between join and sync is fine');

    const sb = c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    assert.ok(await isPending(sb), 'a follower waits for the leader');
    const sa = ok(
      await c.syncGroup({
        groupId: G,
        generationId: 1,
        memberId: a.memberId,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [
          { memberId: a.memberId, assignment: Buffer.from('asg-a') },
          { memberId: b.memberId, assignment: Buffer.from('asg-b') },
        ],
      }),
    );
    assert.equal(sa.assignment.toString(), 'asg-a');
    assert.equal(sa.protocolName, 'range');
    assert.equal(ok(await sb).assignment.toString(), 'asg-b');

    const d = c.describeGroup(G);
    assert.equal(d.state, 'Stable');
    assert.equal(d.protocol, 'range');
    assert.equal(d.protocolType, 'consumer');
    const mb = d.members.find((m) => m.memberId === b.memberId)!;
    assert.equal(mb.clientId, 'b');
    assert.equal(mb.clientHost, '/127.0.0.1');
    assert.equal(mb.metadata.toString(), 'meta-b');
    assert.equal(mb.assignment.toString(), 'asg-b');
    assert.equal(hb(c, a), E.NONE);
    assert.equal(hb(c, b), E.NONE);
    // A late (re)sync in Stable returns the stored assignment.
    const again = ok(await c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] }));
    assert.equal(again.assignment.toString(), 'asg-b');
    // A follower rejoining unchanged in Stable gets the current generation at once.
    const rj = ok(await join(c, { memberId: b.memberId, clientId: 'b', protocols: protocols('meta-b') }));
    assert.equal(rj.generationId, 1);
    assert.equal(c.describeGroup(G).state, 'Stable');
  } finally {
    c.close();
  }
});

test('a third member triggers a rebalance; heartbeats say REBALANCE_IN_PROGRESS; all rejoin into generation 2', async () => {
  const c = coordinator();
  try {
    const { a, b } = await stableGroupOfTwo(c);
    const started = Date.now();
    const pc = join(c, { clientId: 'c', protocols: protocols('meta-c') });
    assert.equal(c.describeGroup(G).state, 'PreparingRebalance');
    assert.equal(hb(c, a), E.REBALANCE_IN_PROGRESS);
    assert.equal(hb(c, b), E.REBALANCE_IN_PROGRESS);
    const stale = await c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    assert.equal(stale.errorCode, E.REBALANCE_IN_PROGRESS);
    assert.equal(
      c.validateOffsetCommit({ groupId: G, generationId: 1, memberId: a.memberId }),
      E.NONE,
      'commits of the old generation are still allowed while rebalancing',
    );
    assert.ok(await isPending(pc), 'the join waits for the known members');

    const pa = join(c, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') });
    const pb = join(c, { memberId: b.memberId, clientId: 'b', protocols: protocols('meta-b') });
    const [ra, rb, rc] = [ok(await pa), ok(await pb), ok(await pc)];
    assert.ok(Date.now() - started < REBALANCE, 'completes as soon as everyone rejoined, not at the timeout');
    for (const r of [ra, rb, rc]) assert.equal(r.generationId, 2);
    assert.equal(ra.leader, a.memberId, 'the leader keeps its role when it rejoins');
    assert.equal(ra.members.length, 3);
    assert.equal(hb(c, a), E.ILLEGAL_GENERATION, 'generation 1 is over');
    assert.equal(c.heartbeat({ groupId: G, generationId: 2, memberId: a.memberId }), E.NONE);
    const old = await c.syncGroup({ groupId: G, generationId: 1, memberId: a.memberId, assignments: [] });
    assert.equal(old.errorCode, E.ILLEGAL_GENERATION);
  } finally {
    c.close();
  }
});

test('members that do not rejoin within the rebalance timeout are dropped', async () => {
  const c = coordinator();
  try {
    const { a, b } = await stableGroupOfTwo(c);
    const pc = join(c, { clientId: 'c' });
    const started = Date.now();
    const pa = join(c, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') });
    const [ra, rc] = [ok(await pa), ok(await pc)];
    assert.ok(Date.now() - started >= REBALANCE - 20, 'waited for the rebalance timeout');
    assert.equal(ra.generationId, 2);
    assert.deepEqual(ra.members.map((m) => m.memberId).sort(), [a.memberId, rc.memberId].sort());
    assert.equal(hb(c, b), E.UNKNOWN_MEMBER_ID);
  } finally {
    c.close();
  }
});

test('a leaving member triggers a rebalance; its pending join is answered UNKNOWN_MEMBER_ID', async () => {
  const c = coordinator();
  try {
    const { a, b } = await stableGroupOfTwo(c);
    const left = c.leaveGroup({ groupId: G, members: [{ memberId: b.memberId }] });
    assert.deepEqual(left, { errorCode: E.NONE, members: [{ memberId: b.memberId, groupInstanceId: null, errorCode: E.NONE }] });
    assert.equal(c.describeGroup(G).state, 'PreparingRebalance');
    assert.equal(hb(c, a), E.REBALANCE_IN_PROGRESS);
    assert.equal(hb(c, b), E.UNKNOWN_MEMBER_ID);
    const ra = ok(await join(c, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') }));
    assert.equal(ra.generationId, 2);
    assert.equal(ra.members.length, 1);

    // A member leaving while its JoinGroup is parked (waiting for a to rejoin).
    ok(await c.syncGroup({ groupId: G, generationId: 2, memberId: a.memberId, assignments: [] }));
    const id = await join(c, { clientId: 'b2', requireKnownMemberId: true });
    assert.equal(id.errorCode, E.MEMBER_ID_REQUIRED);
    const pb = join(c, { clientId: 'b2', memberId: id.memberId, requireKnownMemberId: true });
    assert.ok(await isPending(pb));
    const unknown = c.leaveGroup({
      groupId: G,
      members: [{ memberId: 'nobody' }, { memberId: id.memberId }],
    });
    assert.deepEqual(
      unknown.members.map((m) => m.errorCode),
      [E.UNKNOWN_MEMBER_ID, E.NONE],
    );
    const gone = await pb;
    assert.equal(gone.errorCode, E.UNKNOWN_MEMBER_ID);
    assert.equal(gone.memberId, '');
    const ra3 = ok(await join(c, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') }));
    assert.equal(ra3.generationId, 3);
    assert.deepEqual(ra3.members.map((m) => m.memberId), [a.memberId]);
    assert.deepEqual(
      c.leaveGroup({ groupId: 'no-such-group', members: [{ memberId: 'x' }] }).members.map((m) => m.errorCode),
      [E.UNKNOWN_MEMBER_ID],
    );
  } finally {
    c.close();
  }
});

test('a member that stops heartbeating expires after its session timeout and triggers a rebalance', async () => {
  const c = coordinator();
  try {
    const pa = join(c, { clientId: 'a', sessionTimeoutMs: 1000 });
    const pb = join(c, { clientId: 'b', sessionTimeoutMs: 150 });
    const [a, b] = [ok(await pa), ok(await pb)];
    const sb = c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    ok(await c.syncGroup({ groupId: G, generationId: 1, memberId: a.memberId, assignments: [] }));
    ok(await sb);
    // a keeps heartbeating, b goes silent.
    assert.equal(hb(c, a), E.NONE);
    for (let i = 0; i < 5; i++) {
      await sleep(50);
      hb(c, a);
    }
    assert.equal(hb(c, b), E.UNKNOWN_MEMBER_ID, 'b expired');
    assert.equal(hb(c, a), E.REBALANCE_IN_PROGRESS);
    const ra = ok(await join(c, { memberId: a.memberId, clientId: 'a', sessionTimeoutMs: 1000 }));
    assert.equal(ra.generationId, 2);
    assert.deepEqual(ra.members.map((m) => m.memberId), [a.memberId]);
  } finally {
    c.close();
  }
});

test('the last member expiring leaves the group Empty with a new generation', async () => {
  const c = coordinator();
  try {
    const a = ok(await join(c, { sessionTimeoutMs: 60 }));
    ok(await c.syncGroup({ groupId: G, generationId: a.generationId, memberId: a.memberId, assignments: [] }));
    await sleep(120);
    const d = c.describeGroup(G);
    assert.equal(d.state, 'Empty');
    assert.equal(d.members.length, 0);
    assert.equal(d.protocolType, 'consumer');
    const again = ok(await join(c));
    assert.equal(again.generationId, 3, 'generation 2 was the empty one');
  } finally {
    c.close();
  }
});

test('MEMBER_ID_REQUIRED (KIP-394): the member rejoins with the id it was given', async () => {
  const c = coordinator();
  try {
    const first = await join(c, { clientId: 'kafkajs', requireKnownMemberId: true });
    assert.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
    assert.match(first.memberId, /^kafkajs-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(first.generationId, -1);
    assert.equal(c.describeGroup(G).members.length, 0, 'not a member yet');
    const second = ok(await join(c, { clientId: 'kafkajs', memberId: first.memberId, requireKnownMemberId: true }));
    assert.equal(second.memberId, first.memberId);
    assert.equal(second.leader, first.memberId);
    assert.equal(second.generationId, 1);

    // A pending id blocks completion of a rebalance until it joins or expires (after its session timeout).
    const c2 = coordinator();
    try {
      const x = ok(await join(c2, { clientId: 'x' }));
      ok(await c2.syncGroup({ groupId: G, generationId: 1, memberId: x.memberId, assignments: [] }));
      const pending = await join(c2, { clientId: 'y', requireKnownMemberId: true, sessionTimeoutMs: 80 });
      assert.equal(pending.errorCode, E.MEMBER_ID_REQUIRED);
      const started = Date.now();
      const rx = ok(await join(c2, { memberId: x.memberId, clientId: 'x' }));
      assert.ok(Date.now() - started >= 60, 'waited for the pending member');
      assert.equal(rx.generationId, 2);
      const late = await join(c2, { clientId: 'y', memberId: pending.memberId, requireKnownMemberId: true });
      assert.equal(late.errorCode, E.UNKNOWN_MEMBER_ID, 'the pending id expired');
    } finally {
      c2.close();
    }
  } finally {
    c.close();
  }
});

test('static membership: a known instance rejoining takes over without a rebalance and fences the old id', async () => {
  const stored: Buffer[] = [];
  const c = coordinator({ persistence: { storeGroup: async (_g, _k, v) => void (v && stored.push(v)) } });
  try {
    const pa = join(c, { clientId: 'a', groupInstanceId: 'inst-a', protocols: protocols('meta-a') });
    const pb = join(c, { clientId: 'b', protocols: protocols('meta-b') });
    const [a, b] = [ok(await pa), ok(await pb)];
    assert.match(a.memberId, /^inst-a-/, 'static member ids start with the instance id');
    assert.equal(a.leader, a.memberId);
    const sb = c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    ok(
      await c.syncGroup({
        groupId: G,
        generationId: 1,
        memberId: a.memberId,
        groupInstanceId: 'inst-a',
        assignments: [
          { memberId: a.memberId, assignment: Buffer.from('asg-a') },
          { memberId: b.memberId, assignment: Buffer.from('asg-b') },
        ],
      }),
    );
    ok(await sb);
    const writes = stored.length;

    // The instance restarts: same instance id, no member id, same subscription.
    const ra = ok(await join(c, { clientId: 'a', groupInstanceId: 'inst-a', protocols: protocols('meta-a') }));
    assert.notEqual(ra.memberId, a.memberId);
    assert.equal(ra.generationId, 1, 'no new generation');
    assert.equal(ra.leader, a.memberId, 'old leader id, so the returning leader does not reassign');
    assert.deepEqual(ra.members, []);
    assert.equal(c.describeGroup(G).state, 'Stable');
    assert.equal(hb(c, b), E.NONE, 'other members are not asked to rejoin');
    assert.equal(hb(c, a, 'inst-a'), E.FENCED_INSTANCE_ID, 'the old member id is fenced');
    assert.equal(hb(c, a), E.UNKNOWN_MEMBER_ID);
    assert.equal(hb(c, ra, 'inst-a'), E.NONE);
    const s = ok(await c.syncGroup({ groupId: G, generationId: 1, memberId: ra.memberId, groupInstanceId: 'inst-a', assignments: [] }));
    assert.equal(s.assignment.toString(), 'asg-a', 'the instance keeps its assignment');
    assert.equal(stored.length, writes + 1, 'the new member id is persisted');
    const rec = decodeGroupMetadataValue(stored.at(-1)!);
    assert.ok(rec.members.some((m) => m.memberId === ra.memberId && m.groupInstanceId === 'inst-a'));
    assert.equal(rec.leader, ra.memberId);

    // JoinGroup v9+: the static leader is told it leads but must skip the assignment.
    const rv9 = ok(
      await join(c, { clientId: 'a', groupInstanceId: 'inst-a', protocols: protocols('meta-a'), supportSkippingAssignment: true }),
    );
    assert.equal(rv9.skipAssignment, true);
    assert.equal(rv9.leader, rv9.memberId);
    assert.equal(rv9.members.length, 2);
    assert.equal(c.describeGroup(G).state, 'Stable');

    // A static member removed by instance id alone (admin LeaveGroup) triggers a rebalance.
    const left = c.leaveGroup({ groupId: G, members: [{ memberId: '', groupInstanceId: 'inst-a' }] });
    assert.equal(left.members[0]!.errorCode, E.NONE);
    assert.equal(hb(c, b), E.REBALANCE_IN_PROGRESS);
    assert.equal(
      c.leaveGroup({ groupId: G, members: [{ memberId: '', groupInstanceId: 'inst-a' }] }).members[0]!.errorCode,
      E.UNKNOWN_MEMBER_ID,
    );
  } finally {
    c.close();
  }
});

test('a static member whose parked join is taken over gets FENCED_INSTANCE_ID', async () => {
  const c = coordinator();
  try {
    const first = join(c, { clientId: 'a', groupInstanceId: 'inst' });
    assert.ok(await isPending(first));
    const second = join(c, { clientId: 'a', groupInstanceId: 'inst' });
    const fenced = await first;
    assert.equal(fenced.errorCode, E.FENCED_INSTANCE_ID);
    const r = ok(await second);
    assert.equal(r.generationId, 1);
    assert.equal(c.describeGroup(G).members.length, 1);
  } finally {
    c.close();
  }
});

test('request validation: ids, generations, session timeouts, protocols, group size', async () => {
  const c = coordinator({ minSessionTimeoutMs: 100, maxSessionTimeoutMs: 10_000, maxGroupSize: 2 });
  try {
    assert.equal((await join(c, { sessionTimeoutMs: 50 })).errorCode, E.INVALID_SESSION_TIMEOUT);
    assert.equal((await join(c, { sessionTimeoutMs: 20_000 })).errorCode, E.INVALID_SESSION_TIMEOUT);
    assert.equal((await join(c, { groupId: '' })).errorCode, E.INVALID_GROUP_ID);
    assert.equal((await join(c, { groupId: 'unknown', memberId: 'm-1' })).errorCode, E.UNKNOWN_MEMBER_ID);
    assert.equal((await join(c, { protocolType: '' })).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await join(c, { protocols: [] })).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(c.heartbeat({ groupId: 'unknown', generationId: 1, memberId: 'm' }), E.UNKNOWN_MEMBER_ID);
    assert.equal(c.heartbeat({ groupId: '', generationId: 1, memberId: 'm' }), E.INVALID_GROUP_ID);
    const unknownSync = await c.syncGroup({ groupId: 'unknown', generationId: 1, memberId: 'm', assignments: [] });
    assert.equal(unknownSync.errorCode, E.UNKNOWN_MEMBER_ID);

    const { a, b } = await stableGroupOfTwo(c);
    assert.equal(c.heartbeat({ groupId: G, generationId: 7, memberId: a.memberId }), E.ILLEGAL_GENERATION);
    assert.equal(c.heartbeat({ groupId: G, generationId: 1, memberId: 'stranger' }), E.UNKNOWN_MEMBER_ID);
    assert.equal(c.heartbeat({ groupId: G, generationId: 1, memberId: a.memberId, groupInstanceId: 'nope' }), E.UNKNOWN_MEMBER_ID);
    const badGen = await c.syncGroup({ groupId: G, generationId: 0, memberId: b.memberId, assignments: [] });
    assert.equal(badGen.errorCode, E.ILLEGAL_GENERATION);
    const badName = await c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, protocolName: 'roundrobin', assignments: [] });
    assert.equal(badName.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
    const full = await join(c, { clientId: 'third' });
    assert.equal(full.errorCode, E.GROUP_MAX_SIZE_REACHED);
    assert.equal(full.memberId, '');
    assert.equal(c.describeGroup(G).state, 'Stable', 'a rejected join does not disturb the group');

    const solo = ok(await join(c, { groupId: 'g2' }));
    assert.equal((await join(c, { groupId: 'g2', protocolType: 'connect' })).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await join(c, { groupId: 'g2', protocols: protocols('x', 'sticky') })).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(c.describeGroup('g2').members.length, 1);
    assert.equal(c.describeGroup('g2').members[0]!.memberId, solo.memberId);
  } finally {
    c.close();
  }
});

test('protocol selection: a protocol all members support, by vote over preferences', async () => {
  const c = coordinator();
  try {
    const p = (names: string[]): GroupProtocol[] => names.map((name) => ({ name, metadata: Buffer.from(`${name}-md`) }));
    const pa = join(c, { clientId: 'a', protocols: p(['roundrobin', 'range']) });
    const pb = join(c, { clientId: 'b', protocols: p(['roundrobin', 'range', 'sticky']) });
    const pc = join(c, { clientId: 'c', protocols: p(['range', 'roundrobin']) });
    const [a] = [ok(await pa), ok(await pb), ok(await pc)];
    assert.equal(a.protocolName, 'roundrobin', 'two votes for roundrobin, one for range; sticky is not common');
    assert.ok(a.members.every((m) => m.metadata.toString() === 'roundrobin-md'), 'the leader sees the selected protocol metadata');

    const c2 = coordinator();
    try {
      const qa = join(c2, { clientId: 'a', protocols: p(['sticky', 'roundrobin', 'range']) });
      const qb = join(c2, { clientId: 'b', protocols: p(['range']) });
      assert.equal(ok(await qa).protocolName, 'range', 'only range is common');
      ok(await qb);
    } finally {
      c2.close();
    }
  } finally {
    c.close();
  }
});

test('offset commit validation', async () => {
  const c = coordinator();
  try {
    // Simple consumers / admin: generation -1, no member id.
    assert.equal(c.validateOffsetCommit({ groupId: 'standalone', generationId: -1, memberId: '' }), E.NONE);
    assert.deepEqual(c.listGroups(), [{ groupId: 'standalone', protocolType: '', state: 'Empty' }], 'the commit created an Empty group');
    assert.equal(c.validateOffsetCommit({ groupId: 'standalone', generationId: -1, memberId: '' }), E.NONE);
    assert.equal(c.validateOffsetCommit({ groupId: 'other', generationId: 3, memberId: 'm' }), E.ILLEGAL_GENERATION);
    assert.equal(c.validateOffsetCommit({ groupId: 'standalone', generationId: 1, memberId: 'm' }), E.UNKNOWN_MEMBER_ID);
    assert.equal(c.validateOffsetFetch(''), E.NONE, 'the empty group id is accepted for offsets');

    const pa = join(c, { clientId: 'a' });
    const pb = join(c, { clientId: 'b' });
    const [a, b] = [ok(await pa), ok(await pb)];
    assert.equal(
      c.validateOffsetCommit({ groupId: G, generationId: 1, memberId: a.memberId }),
      E.REBALANCE_IN_PROGRESS,
      'no commits between join and sync',
    );
    const sb = c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    ok(await c.syncGroup({ groupId: G, generationId: 1, memberId: a.memberId, assignments: [] }));
    ok(await sb);
    assert.equal(c.validateOffsetCommit({ groupId: G, generationId: 1, memberId: a.memberId }), E.NONE);
    assert.equal(c.validateOffsetCommit({ groupId: G, generationId: -1, memberId: '' }), E.UNKNOWN_MEMBER_ID, 'only members commit');
    assert.equal(c.validateOffsetCommit({ groupId: G, generationId: 2, memberId: a.memberId }), E.ILLEGAL_GENERATION);
    assert.equal(c.validateOffsetCommit({ groupId: G, generationId: 1, memberId: 'stranger' }), E.UNKNOWN_MEMBER_ID);

    c.leaveGroup({ groupId: G, members: [{ memberId: a.memberId }, { memberId: b.memberId }] });
    await sleep(5);
    assert.equal(c.describeGroup(G).state, 'Empty');
    assert.equal(c.validateOffsetCommit({ groupId: G, generationId: -1, memberId: '' }), E.NONE, 'allowed again once empty');
  } finally {
    c.close();
  }
});

test('describe, list, ensureGroup and delete', async () => {
  const writes: { groupId: string; key: Buffer; value: Buffer | null }[] = [];
  const c = coordinator({
    persistence: {
      storeGroup: async (groupId, key, value) => {
        writes.push({ groupId, key, value });
      },
    },
  });
  try {
    assert.deepEqual(c.describeGroup('nope'), {
      errorCode: E.NONE,
      errorMessage: null,
      groupId: 'nope',
      state: 'Dead',
      protocolType: '',
      protocol: '',
      members: [],
    });
    assert.equal(c.describeGroup('nope', 6).errorCode, E.GROUP_ID_NOT_FOUND);
    assert.equal(await c.deleteGroup('nope'), E.GROUP_ID_NOT_FOUND);

    c.ensureGroup('offsets-only');
    c.ensureGroup('offsets-only');
    const { a } = await stableGroupOfTwo(c);
    const pending = join(c, { groupId: 'forming' });
    assert.deepEqual(
      c.listGroups().sort((x, y) => x.groupId.localeCompare(y.groupId)),
      [
        { groupId: 'forming', protocolType: 'consumer', state: 'PreparingRebalance' },
        { groupId: G, protocolType: 'consumer', state: 'Stable' },
        { groupId: 'offsets-only', protocolType: '', state: 'Empty' },
      ],
    );
    assert.deepEqual(c.listGroups(['stable', 'EMPTY']).map((g) => g.groupId).sort(), [G, 'offsets-only']);
    assert.deepEqual(c.listGroups([], ['consumer']), [], 'only classic groups live here');
    assert.equal(c.listGroups([], ['Classic']).length, 3);
    const d = c.describeGroup('offsets-only');
    assert.equal(d.state, 'Empty');
    assert.deepEqual(d.members, []);
    const forming = c.describeGroup('forming');
    assert.equal(forming.protocol, '', 'no protocol outside Stable');
    assert.equal(forming.members[0]!.metadata.length, 0, 'no metadata outside Stable');

    assert.equal(await c.deleteGroup(G), E.NON_EMPTY_GROUP);
    assert.equal(hb(c, a), E.NONE);
    assert.equal(await c.deleteGroup('offsets-only'), E.NONE);
    assert.equal(c.describeGroup('offsets-only').state, 'Dead');
    assert.equal(await c.deleteGroup('offsets-only'), E.GROUP_ID_NOT_FOUND);
    const tomb = writes.at(-1)!;
    assert.equal(tomb.groupId, 'offsets-only');
    assert.equal(tomb.value, null, 'a tombstone');
    assert.equal(decodeGroupMetadataKey(tomb.key), 'offsets-only');
    ok(await pending);
  } finally {
    c.close();
  }
});

test('group metadata records: byte layout against hand-computed bytes, and round trips', () => {
  assert.equal(encodeGroupMetadataKey('grp').toString('hex'), '0002' + '0003' + '677270');
  assert.equal(decodeGroupMetadataKey(Buffer.from('0002000367727001', 'hex')), 'grp', 'trailing bytes ignored as in Kafka');
  assert.ok(isGroupMetadataKey(encodeGroupMetadataKey('x')));
  assert.ok(!isGroupMetadataKey(Buffer.from('0001', 'hex')), 'version 1 is an offset commit key');
  assert.throws(() => decodeGroupMetadataKey(Buffer.from('00010001', 'hex')), CorruptRecordError);

  const rec: GroupMetadataRecord = {
    protocolType: 'consumer',
    generation: 1,
    protocol: 'range',
    leader: 'm1',
    currentStateTimestamp: 1000,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: null,
        clientId: 'c',
        clientHost: '/h',
        rebalanceTimeoutMs: 300_000,
        sessionTimeoutMs: 10_000,
        subscription: Buffer.from([1, 2]),
        assignment: Buffer.from([3]),
      },
    ],
  };
  const expected = [
    '0003', // version 3
    '0008', '636f6e73756d6572', // protocolType "consumer"
    '00000001', // generation
    '0005', '72616e6765', // protocol "range"
    '0002', '6d31', // leader "m1"
    '00000000000003e8', // currentStateTimestamp 1000
    '00000001', // 1 member
    '0002', '6d31', // memberId
    'ffff', // groupInstanceId null
    '0001', '63', // clientId "c"
    '0002', '2f68', // clientHost "/h"
    '000493e0', // rebalanceTimeout 300000
    '00002710', // sessionTimeout 10000
    '00000002', '0102', // subscription
    '00000001', '03', // assignment
  ].join('');
  const bytes = encodeGroupMetadataValue(rec);
  assert.equal(bytes.toString('hex'), expected);
  assert.deepEqual(decodeGroupMetadataValue(bytes), rec);

  const empty: GroupMetadataRecord = { protocolType: 'consumer', generation: 7, protocol: null, leader: null, currentStateTimestamp: 5, members: [] };
  const emptyBytes = encodeGroupMetadataValue(empty);
  assert.equal(emptyBytes.toString('hex'), '0003' + '0008636f6e73756d6572' + '00000007' + 'ffff' + 'ffff' + '0000000000000005' + '00000000');
  assert.deepEqual(decodeGroupMetadataValue(emptyBytes), empty);

  const staticRec: GroupMetadataRecord = { ...rec, members: [{ ...rec.members[0]!, groupInstanceId: 'inst-1' }] };
  assert.deepEqual(decodeGroupMetadataValue(encodeGroupMetadataValue(staticRec)), staticRec);

  // Older versions drop fields: v0 has no rebalance timeout (it reads back as the session timeout),
  // v1 no timestamp, v2 no instance id.
  const v0 = decodeGroupMetadataValue(encodeGroupMetadataValue(staticRec, 0));
  assert.equal(v0.members[0]!.rebalanceTimeoutMs, 10_000);
  assert.equal(v0.members[0]!.groupInstanceId, null);
  assert.equal(v0.currentStateTimestamp, -1);
  assert.equal(encodeGroupMetadataValue(rec, 2).length, bytes.length - 2, 'v2 lacks only the instance id');
  assert.equal(decodeGroupMetadataValue(encodeGroupMetadataValue(rec, 1)).members[0]!.rebalanceTimeoutMs, 300_000);

  // Version 4 (flexible): compact lengths and tagged fields.
  const v4 = Buffer.from(
    [
      '0004',
      '09636f6e73756d6572', // compact "consumer"
      '00000002',
      '0672616e6765', // compact "range"
      '00', // leader null
      '0000000000000009',
      '02', // 1 member
      '036d31', // memberId
      '00', // instance null
      '0263', // clientId
      '032f68', // clientHost
      '00000064', // rebalance 100
      '000000c8', // session 200
      '030102', // subscription
      '0203', // assignment
      '01' + '05' + '02' + 'abcd', // one tagged field (tag 5, 2 bytes), skipped
      '00', // top-level tagged fields
    ].join(''),
    'hex',
  );
  assert.deepEqual(decodeGroupMetadataValue(v4), {
    protocolType: 'consumer',
    generation: 2,
    protocol: 'range',
    leader: null,
    currentStateTimestamp: 9,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: null,
        clientId: 'c',
        clientHost: '/h',
        rebalanceTimeoutMs: 100,
        sessionTimeoutMs: 200,
        subscription: Buffer.from([1, 2]),
        assignment: Buffer.from([3]),
      },
    ],
  });

  assert.throws(() => decodeGroupMetadataValue(bytes.subarray(0, bytes.length - 1)), CorruptRecordError);
  assert.throws(() => decodeGroupMetadataValue(Buffer.from('0009', 'hex')), CorruptRecordError);
  assert.throws(() => encodeGroupMetadataValue(rec, 4), RangeError);
});

test('persistence: the leader sync is answered after the write; a failed write fails the sync', async () => {
  const writes: Buffer[] = [];
  let fail: Error | null = null;
  let release: (() => void) | null = null;
  const c = coordinator({
    persistence: {
      storeGroup: async (_groupId, key, value) => {
        assert.ok(isGroupMetadataKey(key));
        await new Promise<void>((r) => (release = r));
        if (fail) throw fail;
        if (value) writes.push(value);
      },
    },
  });
  try {
    const pa = join(c, { clientId: 'a', protocols: protocols('meta-a') });
    const pb = join(c, { clientId: 'b', protocols: protocols('meta-b') });
    const [a, b] = [ok(await pa), ok(await pb)];
    const sa = c.syncGroup({
      groupId: G,
      generationId: 1,
      memberId: a.memberId,
      assignments: [{ memberId: a.memberId, assignment: Buffer.from('asg-a') }],
    });
    const sb = c.syncGroup({ groupId: G, generationId: 1, memberId: b.memberId, assignments: [] });
    assert.ok(await isPending(sa), 'waits for the write');
    assert.equal(c.describeGroup(G).state, 'CompletingRebalance');
    release!();
    ok(await sa);
    assert.equal(ok(await sb).assignment.length, 0, 'a member the leader left out gets an empty assignment');
    const rec = decodeGroupMetadataValue(writes[0]!);
    assert.equal(rec.generation, 1);
    assert.equal(rec.protocolType, 'consumer');
    assert.equal(rec.protocol, 'range');
    assert.equal(rec.leader, a.memberId);
    const ma = rec.members.find((m) => m.memberId === a.memberId)!;
    assert.equal(ma.subscription.toString(), 'meta-a');
    assert.equal(ma.assignment.toString(), 'asg-a');
    assert.equal(ma.sessionTimeoutMs, SESSION);
    assert.equal(ma.rebalanceTimeoutMs, REBALANCE);
    assert.equal(ma.clientId, 'a');

    // Next generation: the write times out; members must rejoin (Kafka maps REQUEST_TIMED_OUT so).
    const pa2 = join(c, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') });
    const pb2 = join(c, { memberId: b.memberId, clientId: 'b', protocols: protocols('meta-b') });
    const [a2, b2] = [ok(await pa2), ok(await pb2)];
    fail = new SluiceError('TIMEOUT', 'append timed out');
    const sb2 = c.syncGroup({ groupId: G, generationId: a2.generationId, memberId: b2.memberId, assignments: [] });
    const sa2 = c.syncGroup({ groupId: G, generationId: a2.generationId, memberId: a2.memberId, assignments: [] });
    await sleep(5);
    release!();
    const [ea, eb]: SyncGroupResult[] = [await sa2, await sb2];
    assert.equal(ea.errorCode, E.REBALANCE_IN_PROGRESS);
    assert.equal(eb.errorCode, E.REBALANCE_IN_PROGRESS);
    assert.equal(c.describeGroup(G).state, 'PreparingRebalance');
  } finally {
    c.close();
  }
});

test('restore from a persisted record: members come back empty, generations continue from the stored one', async () => {
  const writes = new Map<string, Buffer | null>();
  const persistence = {
    storeGroup: async (groupId: string, _key: Buffer, value: Buffer | null) => {
      writes.set(groupId, value);
    },
  };
  const c1 = coordinator({ persistence });
  const { a } = await stableGroupOfTwo(c1);
  const pa = join(c1, { memberId: a.memberId, clientId: 'a', protocols: protocols('meta-a') });
  await sleep(5);
  c1.close();
  const closed = await pa;
  assert.equal(closed.errorCode, E.NOT_COORDINATOR, 'close answers parked joins');
  assert.equal(hb(c1, a), E.COORDINATOR_NOT_AVAILABLE);
  assert.equal((await join(c1)).errorCode, E.COORDINATOR_NOT_AVAILABLE);
  assert.deepEqual(c1.listGroups(), []);

  const stored = writes.get(G)!;
  assert.equal(decodeGroupMetadataValue(stored).generation, 1);
  const c2 = coordinator({ persistence });
  try {
    assert.equal(c2.loadGroup(G, stored), true);
    const d = c2.describeGroup(G);
    assert.equal(d.state, 'Empty');
    assert.equal(d.protocolType, 'consumer');
    assert.deepEqual(d.members, []);
    assert.equal(hb(c2, a), E.UNKNOWN_MEMBER_ID, 'old members rejoin after a restart');
    const r = ok(await join(c2, { clientId: 'a' }));
    assert.equal(r.generationId, 2, 'continues from the stored generation');
    assert.equal(c2.loadGroup(G, null), false, 'live groups are not overwritten by replay');

    c2.ensureGroup('gone');
    assert.equal(c2.loadGroup('gone', null), true);
    assert.equal(c2.describeGroup('gone').state, 'Dead');
    assert.throws(() => c2.loadGroup('bad', Buffer.from('00', 'hex')), CorruptRecordError);
  } finally {
    c2.close();
  }
});

test('the initial rebalance delay is extended while new members keep arriving', async () => {
  const c = coordinator({ initialRebalanceDelayMs: 60 });
  try {
    const started = Date.now();
    const pa = join(c, { clientId: 'a' });
    await sleep(35);
    const pb = join(c, { clientId: 'b' });
    const [a, b] = [ok(await pa), ok(await pb)];
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 110, `the delay was extended once (${elapsed} ms)`);
    assert.equal(a.generationId, 1);
    assert.equal(b.generationId, 1);
  } finally {
    c.close();
  }
});

test('members that never send SyncGroup are removed after the rebalance timeout', async () => {
  const c = coordinator();
  try {
    const pa = join(c, { clientId: 'a', rebalanceTimeoutMs: 100 });
    const pb = join(c, { clientId: 'b', rebalanceTimeoutMs: 100 });
    const [a, b] = [ok(await pa), ok(await pb)];
    ok(await c.syncGroup({ groupId: G, generationId: 1, memberId: a.memberId, assignments: [] }));
    assert.equal(c.describeGroup(G).state, 'Stable');
    await sleep(150);
    assert.equal(hb(c, b), E.UNKNOWN_MEMBER_ID);
    assert.equal(hb(c, a), E.REBALANCE_IN_PROGRESS);
  } finally {
    c.close();
  }
});
