/**
 * @platformatic/kafka 1.35 (pure JS, flexible request versions throughout: ApiVersions v3+, Metadata 9-12,
 * Produce 7-11, Fetch 12-17, CreateTopics 7, JoinGroup 6-9, ...) against `sluice start`: admin create topic and
 * metadata, produce with acks=all, consume from the beginning, and a two-member consumer group with commits.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tracingChannel } from 'node:diagnostics_channel';
import { nodeAtLeast, skipUnlessRequired, waitFor } from './helpers.js';
import { startSluice, type SluiceProcess } from '../brokers.js';

type Pk = typeof import('@platformatic/kafka');

const skip = skipUnlessRequired(
  !nodeAtLeast(20, 19, 4) ? `@platformatic/kafka 1.35 needs Node >= 20.19.4, this is ${process.versions.node}` : false,
  '@platformatic/kafka tests',
);

/** Every (api key, version) the client sent, from its diagnostics channel. */
const used = new Map<number, Set<number>>();
tracingChannel<string, { apiKey: number; apiVersion: number }>('plt:kafka:connections:api').subscribe({
  start: (m) => {
    if (!used.has(m.apiKey)) used.set(m.apiKey, new Set());
    used.get(m.apiKey)!.add(m.apiVersion);
  },
  end: () => undefined,
  asyncStart: () => undefined,
  asyncEnd: () => undefined,
  error: () => undefined,
});

let pk: Pk;
let b: SluiceProcess;
before(async () => {
  if (skip) return;
  pk = await import('@platformatic/kafka');
  b = await startSluice();
});
after(async () => {
  if (!b) return;
  const code = await b.stop();
  await b.cleanup();
  assert.equal(code, 0, `the broker did not exit cleanly on SIGTERM\n${b.log().slice(-4000)}`);
});

const base = () => ({ clientId: 'sluice-platformatic', bootstrapBrokers: [b.bootstrap], retries: 3, retryDelay: 100 });

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = new pk.Admin(base());
  try {
    const created = await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    assert.equal(created.length, 1);
    assert.equal(created[0]!.name, topic);
    assert.equal(created[0]!.partitions, partitions);
  } finally {
    await admin.close();
  }
}

interface Sent {
  topic: string;
  key: string;
  value: string;
  headers: Map<string, string>;
}

async function produce(topic: string, n: number, prefix: string): Promise<Sent[]> {
  const producer = new pk.Producer({ ...base(), serializers: pk.stringSerializers, acks: pk.ProduceAcks.ALL, idempotent: true });
  try {
    const messages: Sent[] = Array.from({ length: n }, (_, i) => ({
      topic,
      key: `${prefix}-key-${i}`,
      value: `${prefix}-value-${i}`,
      headers: new Map([['seq', String(i)], ['client', 'platformatic']]),
    }));
    const res = await producer.send({ messages });
    assert.ok(res.offsets && res.offsets.length > 0, 'send returns the base offsets');
    return messages;
  } finally {
    await producer.close();
  }
}

test('@platformatic/kafka admin creates a topic (CreateTopics v7) and reads its metadata', { skip, timeout: 30_000 }, async () => {
  await createTopic('pk-admin', 3);
  const admin = new pk.Admin(base());
  try {
    const md = await admin.metadata({ topics: ['pk-admin'] });
    assert.deepEqual([...md.brokers.entries()].map(([id, br]) => [id, br.host, br.port]), [[0, '127.0.0.1', b.port]]);
    const t = md.topics.get('pk-admin');
    assert.ok(t);
    assert.equal(t.partitionsCount, 3);
    for (const p of t.partitions) {
      assert.equal(p.leader, 0);
      assert.deepEqual(p.replicas, [0]);
      assert.deepEqual(p.isr, [0]);
    }
    // Creating it again is refused with TOPIC_ALREADY_EXISTS.
    await assert.rejects(admin.createTopics({ topics: ['pk-admin'], partitions: 3, replicas: 1 }), (e: unknown) => {
      assert.match(JSON.stringify((e as { errors?: unknown }).errors ?? String(e)) + String(e), /already exists|TOPIC_ALREADY_EXISTS|36/i);
      return true;
    });
    await admin.deleteTopics({ topics: ['pk-admin'] });
    const after = await admin.metadata({ topics: [] });
    assert.ok(!after.topics.has('pk-admin'), 'deleted topic gone from metadata');
  } finally {
    await admin.close();
  }
});

test('@platformatic/kafka produces with acks=all and consumes from the beginning', { skip, timeout: 60_000 }, async () => {
  const topic = 'pk-roundtrip';
  await createTopic(topic, 2);
  const sent = await produce(topic, 100, 'rt');
  const consumer = new pk.Consumer({ ...base(), groupId: 'pk-roundtrip-reader', deserializers: pk.stringDeserializers, sessionTimeout: 6000, heartbeatInterval: 300 });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: pk.MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 });
    const got: { key: string; value: string; headers: [string, string][]; partition: number; offset: bigint }[] = [];
    for await (const m of stream) {
      got.push({ key: m.key, value: m.value, headers: [...m.headers.entries()], partition: m.partition, offset: m.offset });
      if (got.length === sent.length) break;
    }
    await stream.close();
    const byKey = new Map(got.map((g) => [g.key, g]));
    for (const s of sent) {
      const g = byKey.get(s.key);
      assert.ok(g, `${s.key} consumed`);
      assert.equal(g.value, s.value);
      assert.deepEqual(g.headers, [...s.headers.entries()]);
    }
    // Offsets per partition are dense from 0.
    for (const part of [0, 1]) {
      const offs = got.filter((g) => g.partition === part).map((g) => g.offset).sort((x, y) => (x < y ? -1 : 1));
      assert.deepEqual(offs, offs.map((_, i) => BigInt(i)));
    }
    const ends = await consumer.listOffsets({ topics: [topic] });
    const total = (ends.get(topic) ?? []).reduce((a, x) => a + x, 0n);
    assert.equal(total, 100n);
  } finally {
    await consumer.close(true);
  }
});

test('@platformatic/kafka consumer group: two members split the partitions, autocommit, and a restart resumes', { skip, timeout: 90_000 }, async () => {
  const topic = 'pk-group';
  const groupId = 'pk-group-1';
  await createTopic(topic, 4);
  const opts = { ...base(), groupId, deserializers: pk.stringDeserializers, sessionTimeout: 6000, heartbeatInterval: 300, rebalanceTimeout: 10_000 };
  const members = [new pk.Consumer({ ...opts, clientId: 'pk-m0' }), new pk.Consumer({ ...opts, clientId: 'pk-m1' })];
  const seen = new Map<string, number>();
  const perMember = [0, 0];
  let first: Sent[] = [];
  try {
    const streams = await Promise.all(
      members.map((c) => c.consume({ topics: [topic], mode: pk.MessagesStreamModes.COMMITTED, fallbackMode: pk.MessagesStreamFallbackModes.EARLIEST, autocommit: 100, maxWaitTime: 200 })),
    );
    streams.forEach((s, i) =>
      s.on('data', (m: { key: string; value: string }) => {
        seen.set(m.value, (seen.get(m.value) ?? 0) + 1);
        perMember[i]! += 1;
      }),
    );
    const owned = (c: (typeof members)[number]) => (c.assignments ?? []).flatMap((a) => a.partitions.map((p) => p));
    await waitFor('both members to own two partitions each in one generation', () =>
      owned(members[0]!).length === 2 && owned(members[1]!).length === 2 && members[0]!.generationId === members[1]!.generationId ? true : undefined,
    20_000);
    assert.deepEqual([...owned(members[0]!), ...owned(members[1]!)].sort(), [0, 1, 2, 3]);
    first = await produce(topic, 80, 'g1');
    await waitFor(`all ${first.length} records (have ${seen.size})`, () => (seen.size === first.length ? true : undefined), 40_000);
    assert.deepEqual([...seen.keys()].sort(), first.map((m) => m.value).sort());
    assert.equal(perMember[0]! + perMember[1]!, first.length, 'no record delivered twice');
    assert.ok(perMember[0]! > 0 && perMember[1]! > 0, `both members received records: ${perMember}`);
    // Wait until autocommit has stored every partition's end offset.
    const committed = await waitFor('commits to reach the end of every partition', async () => {
      const c = await members[0]!.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] });
      const offs = c.get(topic) ?? [];
      return offs.reduce((a, x) => a + x, 0n) === BigInt(first.length) ? offs : undefined;
    }, 20_000, 200);
    assert.equal(committed.length, 4);
    await Promise.all(streams.map((s) => s.close()));
  } finally {
    await Promise.all(members.map((c) => c.close(true)));
  }

  // A new member of the same group starts from the committed offsets: only new records arrive.
  const second = await produce(topic, 12, 'g2');
  const again = new pk.Consumer({ ...opts, clientId: 'pk-m2' });
  try {
    const stream = await again.consume({ topics: [topic], mode: pk.MessagesStreamModes.COMMITTED, fallbackMode: pk.MessagesStreamFallbackModes.EARLIEST, autocommit: false, maxWaitTime: 200 });
    const got: string[] = [];
    for await (const m of stream) {
      got.push((m as { value: string }).value);
      if (got.length === second.length) break;
    }
    await stream.close();
    assert.deepEqual(got.sort(), second.map((m) => m.value).sort());
  } finally {
    await again.close(true);
  }
});

test('@platformatic/kafka used flexible versions of every API it needed', { skip }, (t) => {
  // Api key -> the lowest version expected (all flexible except the ones below their flexible cutoff).
  const expected: Record<string, [number, number]> = {
    Produce: [0, 9], Fetch: [1, 12], ListOffsets: [2, 6], Metadata: [3, 9], OffsetCommit: [8, 8], OffsetFetch: [9, 8],
    FindCoordinator: [10, 4], JoinGroup: [11, 6], LeaveGroup: [13, 4], SyncGroup: [14, 4],
    ApiVersions: [18, 3], CreateTopics: [19, 5], DeleteTopics: [20, 4], InitProducerId: [22, 2],
  };
  const summary = [...used.entries()].sort((a, c) => a[0] - c[0]).map(([k, v]) => `${k}:v${[...v].join('/')}`).join(' ');
  t.diagnostic(`api key:versions sent: ${summary}`);
  for (const [name, [key, min]] of Object.entries(expected)) {
    const versions = used.get(key);
    assert.ok(versions, `${name} (key ${key}) was never sent`);
    for (const v of versions) assert.ok(v >= min, `${name} v${v} is below its flexible versions (>= v${min})`);
  }
});
