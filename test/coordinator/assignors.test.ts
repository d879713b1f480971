import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ASSIGNORS,
  assignCooperativeSticky,
  assignRange,
  assignRoundRobin,
  assignSticky,
} from '../../src/coordinator/assignors/index.js';
import type { Assignment, GroupMember, TopicPartition } from '../../src/coordinator/types.js';

const tp = (s: string): TopicPartition => {
  const m = /^(t\d+)p(\d+)$/.exec(s)!;
  return { topic: m[1]!, partition: Number(m[2]) };
};
const tps = (...names: string[]): TopicPartition[] => names.map(tp);
const fmt = (l: TopicPartition[]): string[] => l.map((x) => `${x.topic}p${x.partition}`);
const parts = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));
const member = (memberId: string, topics: string[], owned?: TopicPartition[]): GroupMember => ({ memberId, topics, ownedPartitions: owned ?? [] });
const sortedFmt = (l: TopicPartition[] | undefined): string[] => fmt(l ?? []).sort();

/** Every subscribed partition assigned exactly once, only to a subscriber, every member present. */
function assertValid(members: GroupMember[], partitionsPerTopic: Map<string, number>, a: Assignment): void {
  assert.equal(a.size, members.length);
  const seen = new Map<string, string>();
  for (const m of members) {
    const list = a.get(m.memberId);
    assert.ok(list, `member ${m.memberId} missing`);
    for (const x of list) {
      assert.ok(m.topics.includes(x.topic), `${m.memberId} got ${x.topic} it does not subscribe`);
      assert.ok(x.partition >= 0 && x.partition < (partitionsPerTopic.get(x.topic) ?? 0));
      const k = `${x.topic}/${x.partition}`;
      assert.ok(!seen.has(k), `${k} assigned twice`);
      seen.set(k, m.memberId);
    }
  }
  for (const [t, n] of partitionsPerTopic) {
    if (!members.some((m) => m.topics.includes(t))) continue;
    for (let p = 0; p < n; p++) assert.ok(seen.has(`${t}/${p}`), `${t}/${p} unassigned`);
  }
}

/** Kafka's balance: nobody could take a partition it subscribes to from someone with ≥ 2 more. */
function assertBalanced(members: GroupMember[], a: Assignment): void {
  for (const m of members) {
    for (const x of a.get(m.memberId)!) {
      for (const o of members) {
        if (o === m || !o.topics.includes(x.topic)) continue;
        assert.ok(
          a.get(m.memberId)!.length - a.get(o.memberId)!.length < 2,
          `${o.memberId} (${a.get(o.memberId)!.length}) could take ${x.topic}/${x.partition} from ${m.memberId} (${a.get(m.memberId)!.length})`,
        );
      }
    }
  }
}

describe('range assignor', () => {
  it('javadoc example: C0, C1 on t0, t1 with 3 partitions', () => {
    const members = [member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])];
    const a = assignRange(members, parts({ t0: 3, t1: 3 }));
    assert.deepEqual(fmt(a.get('C0')!), ['t0p0', 't0p1', 't1p0', 't1p1']);
    assert.deepEqual(fmt(a.get('C1')!), ['t0p2', 't1p2']);
  });
  it('static members sort first, by group.instance.id', () => {
    const members: GroupMember[] = [
      { memberId: 'a', topics: ['t0'] },
      { memberId: 'z', groupInstanceId: 'i1', topics: ['t0'] },
      { memberId: 'y', groupInstanceId: 'i0', topics: ['t0'] },
    ];
    const a = assignRange(members, parts({ t0: 4 }));
    assert.deepEqual(fmt(a.get('y')!), ['t0p0', 't0p1']);
    assert.deepEqual(fmt(a.get('z')!), ['t0p2']);
    assert.deepEqual(fmt(a.get('a')!), ['t0p3']);
  });
  it('ignores topics with no metadata and gives members without topics nothing', () => {
    const a = assignRange([member('C0', ['nope']), member('C1', [])], parts({ t0: 2 }));
    assert.deepEqual(a.get('C0'), []);
    assert.deepEqual(a.get('C1'), []);
  });
});

describe('roundrobin assignor', () => {
  it('javadoc example: C0, C1 on t0, t1 with 3 partitions', () => {
    const members = [member('C0', ['t0', 't1']), member('C1', ['t0', 't1'])];
    const a = assignRoundRobin(members, parts({ t0: 3, t1: 3 }));
    assert.deepEqual(fmt(a.get('C0')!), ['t0p0', 't0p2', 't1p1']);
    assert.deepEqual(fmt(a.get('C1')!), ['t0p1', 't1p0', 't1p2']);
  });
  it('javadoc example: unequal subscriptions', () => {
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])];
    const a = assignRoundRobin(members, parts({ t0: 1, t1: 2, t2: 3 }));
    assert.deepEqual(fmt(a.get('C0')!), ['t0p0']);
    assert.deepEqual(fmt(a.get('C1')!), ['t1p0']);
    assert.deepEqual(fmt(a.get('C2')!), ['t1p1', 't2p0', 't2p1', 't2p2']);
  });
});

describe('sticky assignor', () => {
  const four = parts({ t0: 2, t1: 2, t2: 2, t3: 2 });
  const all4 = ['t0', 't1', 't2', 't3'];

  it('javadoc example 1: balanced first assignment, then only the leaver’s partitions move', () => {
    const members = [member('C0', all4), member('C1', all4), member('C2', all4)];
    const first = assignSticky(members, four);
    assertValid(members, four, first);
    assert.deepEqual(fmt(first.get('C0')!), ['t0p0', 't1p1', 't3p0']);
    assert.deepEqual(fmt(first.get('C1')!), ['t0p1', 't2p0', 't3p1']);
    assert.deepEqual(fmt(first.get('C2')!), ['t1p0', 't2p1']);

    const remaining = [member('C0', all4, first.get('C0')), member('C2', all4, first.get('C2'))];
    const second = assignSticky(remaining, four);
    assertValid(remaining, four, second);
    assertBalanced(remaining, second);
    for (const m of remaining) {
      const now = new Set(fmt(second.get(m.memberId)!));
      for (const x of fmt(m.ownedPartitions!)) assert.ok(now.has(x), `${m.memberId} lost ${x}`);
    }
    assert.deepEqual(sortedFmt(second.get('C0')), ['t0p0', 't1p1', 't2p0', 't3p0']);
    assert.deepEqual(sortedFmt(second.get('C2')), ['t0p1', 't1p0', 't2p1', 't3p1']);
  });

  it('javadoc example 2: unequal subscriptions, then C0 leaves', () => {
    const pt = parts({ t0: 1, t1: 2, t2: 3 });
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])];
    const first = assignSticky(members, pt);
    assertValid(members, pt, first);
    assert.deepEqual(sortedFmt(first.get('C0')), ['t0p0']);
    assert.deepEqual(sortedFmt(first.get('C1')), ['t1p0', 't1p1']);
    assert.deepEqual(sortedFmt(first.get('C2')), ['t2p0', 't2p1', 't2p2']);

    const remaining = [member('C1', ['t0', 't1'], first.get('C1')), member('C2', ['t0', 't1', 't2'], first.get('C2'))];
    const second = assignSticky(remaining, pt);
    assert.deepEqual(sortedFmt(second.get('C1')), ['t0p0', 't1p0', 't1p1']);
    assert.deepEqual(sortedFmt(second.get('C2')), ['t2p0', 't2p1', 't2p2']);
  });

  it('drops owned partitions of unsubscribed or vanished topics, and resolves conflicting claims by generation', () => {
    const pt = parts({ t0: 2 });
    const members: GroupMember[] = [
      { memberId: 'A', topics: ['t0'], ownedPartitions: tps('t0p0', 't0p1', 't1p0'), generation: 1 },
      { memberId: 'B', topics: ['t0'], ownedPartitions: tps('t0p0'), generation: 2 },
    ];
    const a = assignSticky(members, pt);
    assertValid(members, pt, a);
    assert.deepEqual(fmt(a.get('B')!), ['t0p0']);
    assert.deepEqual(fmt(a.get('A')!), ['t0p1']);
  });

  it('cooperative-sticky withholds partitions that change owner', () => {
    const pt = parts({ t0: 4 });
    const first = assignCooperativeSticky([member('A', ['t0'])], pt);
    assert.deepEqual(fmt(first.get('A')!), ['t0p0', 't0p1', 't0p2', 't0p3']);
    const members = [member('A', ['t0'], first.get('A')), member('B', ['t0'])];
    const second = assignCooperativeSticky(members, pt);
    assert.equal(second.get('A')!.length, 2); // two revoked, not yet handed over
    assert.equal(second.get('B')!.length, 0);
    const third = assignCooperativeSticky([member('A', ['t0'], second.get('A')), member('B', ['t0'], second.get('B'))], pt);
    assertValid(members, pt, third);
    assert.deepEqual(third.get('A'), second.get('A'));
    assert.equal(third.get('B')!.length, 2);
  });

  it('exports the protocol names Kafka uses', () => {
    assert.deepEqual([...ASSIGNORS.keys()].sort(), ['cooperative-sticky', 'range', 'roundrobin', 'sticky']);
  });
});

// ----- property tests -----

const groupArb = fc.record({
  topics: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
  members: fc.array(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 7 }),
});

function buildGroup(g: { topics: number[]; members: boolean[][] }): { pt: Map<string, number>; members: GroupMember[] } {
  const pt = new Map(g.topics.map((n, i) => [`t${i}`, n] as const));
  const members = g.members.map((subs, i) => member(`m${i}`, g.topics.map((_, t) => `t${t}`).filter((_, t) => subs[t])));
  return { pt, members };
}

describe('assignor properties', () => {
  for (const [name, assignor] of ASSIGNORS) {
    it(`${name}: every subscribed partition exactly once, only to a subscriber`, () => {
      fc.assert(
        fc.property(groupArb, (g) => {
          const { pt, members } = buildGroup(g);
          assertValid(members, pt, assignor.assign(members, pt));
        }),
        { numRuns: 200 },
      );
    });
  }

  it('sticky: balanced for any subscriptions', () => {
    fc.assert(
      fc.property(groupArb, (g) => {
        const { pt, members } = buildGroup(g);
        assertBalanced(members, assignSticky(members, pt));
      }),
      { numRuns: 300 },
    );
  });

  it('sticky: balance and stickiness across random join/leave sequences (equal subscriptions)', () => {
    const step = fc.oneof(fc.constant<'join'>('join'), fc.integer({ min: 0, max: 20 }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 3 }), fc.array(step, { minLength: 1, maxLength: 12 }), (n, nt, steps) => {
        const topics = Array.from({ length: nt }, (_, i) => `t${i}`);
        const pt = new Map(topics.map((t) => [t, n] as const));
        const total = n * nt;
        let current: GroupMember[] = [member('m0', topics)];
        let next = 1;
        let prev = assignSticky(current, pt);
        for (const s of steps) {
          const owned = current.map((m) => member(m.memberId, topics, prev.get(m.memberId)));
          let members: GroupMember[];
          if (s === 'join') members = [...owned, member(`m${next++}`, topics)];
          else if (owned.length > 1) members = owned.filter((_, i) => i !== s % owned.length);
          else continue;
          const a = assignSticky(members, pt);
          assertValid(members, pt, a);
          const counts = members.map((m) => a.get(m.memberId)!.length);
          assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `unbalanced ${counts}`);
          const floor = Math.floor(total / members.length);
          for (const m of members) {
            const now = new Set(fmt(a.get(m.memberId)!));
            const kept = fmt(m.ownedPartitions!).filter((x) => now.has(x)).length;
            if (s === 'join') {
              // A member gives up only what it must for the newcomer.
              assert.ok(kept >= Math.min(m.ownedPartitions!.length, floor), `${m.memberId} kept ${kept}`);
            } else {
              assert.equal(kept, m.ownedPartitions!.length, `${m.memberId} lost partitions on a leave`);
            }
          }
          current = members;
          prev = a;
        }
      }),
      { numRuns: 200 },
    );
  });
});
