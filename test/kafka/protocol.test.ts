/**
 * Wire-level behaviour over raw sockets: version negotiation, framing limits, pipelining order, acks=0,
 * per-partition errors, and a seeded fuzz of every served API. After all of it, kafkajs still works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/kafka-protocol/reader.js';
import { encodeBatch } from '../../src/record/batch.js';
import type { ApiTypes, ServedApiName } from '../../src/kafka-protocol/generated/index.js';
import { SERVED_VERSIONS } from '../../src/frontends/kafka/versions.js';
import { RawClient, decodeResponse, requestFrame } from './raw.js';
import { startBroker, type Broker } from '../brokers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
  await b.engine.createTopic('raw', { partitions: 2 });
});
after(async () => {
  await b.stop();
});

/** A raw frame: size prefix + header (api key, version, correlation id, client id) + body bytes. */
function rawFrame(apiKey: number, version: number, correlationId: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(-1, 8); // null client id
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length + (version >= 3 && apiKey === 18 ? 1 : 0));
  return Buffer.concat([size, header, version >= 3 && apiKey === 18 ? Buffer.from([0]) : Buffer.alloc(0), body]);
}

test('ApiVersions at an unsupported version answers v0 with UNSUPPORTED_VERSION and the full list', async () => {
  const c = await RawClient.open(b.port);
  c.write(rawFrame(18, 99, 4242));
  assert.ok(await c.waitFrames(1, 5000));
  const r = new Reader(c.frames[0]!);
  assert.equal(r.int32(), 4242); // response header v0: correlation id only
  assert.equal(r.int16(), 35);
  const n = r.int32();
  assert.ok(n >= 20, `expected the full list, got ${n} entries`);
  const list = new Map<number, [number, number]>();
  for (let i = 0; i < n; i++) list.set(r.int16(), [r.int16(), r.int16()]);
  assert.equal(r.remaining, 0);
  assert.deepEqual(list.get(18), [0, 4]);
  // Produce is advertised from v0 (librdkafka < 2.10 compresses only then); v0-2 requests still get UNSUPPORTED_VERSION.
  assert.deepEqual(list.get(0), [0, 11]);
  assert.deepEqual(list.get(1), [4, 17]);
  assert.ok(!list.has(17), 'SASL is not offered');
  // The connection stays usable: ask again at a supported version.
  c.write(requestFrame('ApiVersions', 3, 7, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }));
  assert.ok(await c.waitFrames(2, 5000));
  const ok = decodeResponse('ApiVersions', 3, c.frames[1]!);
  assert.equal(ok.correlationId, 7);
  assert.equal(ok.body.errorCode, 0);
  assert.equal(ok.body.apiKeys.length, n);
  c.destroy();
});

test('other unsupported versions: an error answer where one is encodable, else the connection closes', async () => {
  const hb = await RawClient.open(b.port);
  hb.write(rawFrame(12, 99, 5));
  assert.ok(await hb.waitFrames(1, 5000));
  const r = new Reader(hb.frames[0]!);
  assert.equal(r.int32(), 5);
  assert.equal(r.int16(), 35);
  hb.destroy();

  // Produce v2 (message format v1, not served) is answered in its own version, per partition.
  const old = await RawClient.open(b.port);
  old.write(requestFrame('Produce', 2, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'raw', partitionData: [{ index: 0, records: Buffer.alloc(0) }] }] }));
  assert.ok(await old.waitFrames(1, 5000));
  const oldRes = decodeResponse('Produce', 2, old.frames[0]!);
  assert.equal(oldRes.correlationId, 9);
  assert.equal(oldRes.body.responses[0]!.partitionResponses[0]!.errorCode, 35);
  old.destroy();

  for (const [apiKey, version] of [
    [0, 99],
    [3, 99],
    [999, 0], // unknown API key
    [17, 0], // SaslHandshake: not offered
  ] as const) {
    const c = await RawClient.open(b.port);
    c.write(rawFrame(apiKey, version, 1));
    assert.ok(await c.waitClosed(5000), `api ${apiKey} v${version} should close the connection`);
    assert.equal(c.frames.length, 0);
  }
});

test('oversized and negative size prefixes close the connection; the broker keeps serving', async () => {
  const warningsBefore = b.warnings.length;
  for (const size of [0x7fffffff, 104857601, -1, -100000]) {
    const c = await RawClient.open(b.port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    c.write(prefix);
    assert.ok(await c.waitClosed(5000), `size ${size} should close the connection`);
  }
  assert.ok(b.warnings.length > warningsBefore, 'closing for a bad frame is logged');
  const c = await RawClient.open(b.port);
  c.write(requestFrame('Metadata', 1, 1, { topics: null }));
  assert.ok(await c.waitFrames(1, 5000));
  c.destroy();
});

test('pipelined requests are answered in request order, a long poll included', async () => {
  const c = await RawClient.open(b.port);
  const end = b.engine.offsets('raw', 0).highWatermark;
  const frames = [
    requestFrame('Fetch', 11, 1, {
      maxWaitMs: 400,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 'raw', partitions: [{ partition: 0, fetchOffset: end, partitionMaxBytes: 1 << 20 }] }],
    }),
    requestFrame('ApiVersions', 0, 2, {}),
    requestFrame('Metadata', 9, 3, { topics: [{ name: 'raw' }] }),
    requestFrame('ListOffsets', 5, 4, {
      replicaId: -1,
      topics: [{ name: 'raw', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    }),
  ];
  const started = Date.now();
  c.write(Buffer.concat(frames));
  assert.ok(await c.waitFrames(4, 5000));
  assert.ok(Date.now() - started >= 350, 'the empty fetch waited for max_wait_ms');
  assert.deepEqual(
    c.frames.map((f) => f.readInt32BE(0)),
    [1, 2, 3, 4],
  );
  const md = decodeResponse('Metadata', 9, c.frames[2]!);
  assert.equal(md.body.topics[0]!.partitions.length, 2);
  assert.equal(md.body.controllerId, 0);
  c.destroy();
});

test('a long poll wakes as soon as data arrives', async () => {
  const c = await RawClient.open(b.port);
  const end = b.engine.offsets('raw', 1).highWatermark;
  c.write(
    requestFrame('Fetch', 12, 1, {
      maxWaitMs: 10000,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 'raw', partitions: [{ partition: 1, fetchOffset: end, partitionMaxBytes: 1 << 20 }] }],
    }),
  );
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await b.engine.append('raw', 1, encodeBatch([{ value: 'wake' }]), { acks: 1 });
  assert.ok(await c.waitFrames(1, 5000));
  assert.ok(Date.now() - started < 2000, 'woke on new data, not at max_wait_ms');
  const res = decodeResponse('Fetch', 12, c.frames[0]!);
  const p = res.body.responses[0]!.partitions[0]!;
  assert.equal(p.errorCode, 0);
  assert.equal(p.highWatermark, end + 1n);
  assert.ok(p.records !== null && p.records.length > 0);
  c.destroy();
});

test('a half-closed client still gets the answers to what it sent, then the broker ends', async () => {
  const c = await RawClient.open(b.port);
  c.write(Buffer.concat([requestFrame('ApiVersions', 2, 1, {}), requestFrame('Metadata', 4, 2, { topics: null })]));
  c.socket.end();
  assert.ok(await c.waitClosed(5000));
  assert.deepEqual(
    c.frames.map((f) => f.readInt32BE(0)),
    [1, 2],
  );
});

test('acks=0 produce gets no response; later requests still answered in order', async () => {
  const before = b.engine.offsets('raw', 0).highWatermark;
  const c = await RawClient.open(b.port);
  c.write(
    Buffer.concat([
      requestFrame('Produce', 7, 1, {
        acks: 0,
        timeoutMs: 1000,
        topicData: [{ name: 'raw', partitionData: [{ index: 0, records: encodeBatch([{ value: 'a0' }, { value: 'a1' }]) }] }],
      }),
      requestFrame('ApiVersions', 0, 2, {}),
    ]),
  );
  assert.ok(await c.waitFrames(1, 5000));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.frames.length, 1);
  assert.equal(c.frames[0]!.readInt32BE(0), 2);
  assert.equal(b.engine.offsets('raw', 0).highWatermark, before + 2n);
  c.destroy();
});

test('produce errors are per partition: bad CRC, unknown partition, invalid acks', async () => {
  const c = await RawClient.open(b.port);
  const good = encodeBatch([{ value: 'ok' }]);
  const bad = Buffer.from(encodeBatch([{ value: 'corrupt me' }]));
  bad[bad.length - 2] ^= 0xff;
  c.write(
    requestFrame('Produce', 9, 1, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: 'raw',
          partitionData: [
            { index: 0, records: good },
            { index: 1, records: bad },
            { index: 7, records: good },
          ],
        },
        { name: 'no-such-topic-x', partitionData: [{ index: 0, records: good }] },
      ],
    }),
  );
  c.write(requestFrame('Produce', 3, 2, { acks: 5, timeoutMs: 1000, topicData: [{ name: 'raw', partitionData: [{ index: 0, records: good }] }] }));
  assert.ok(await c.waitFrames(2, 5000));
  const res = decodeResponse('Produce', 9, c.frames[0]!).body;
  const raw = res.responses.find((t) => t.name === 'raw')!.partitionResponses;
  assert.equal(raw.find((p) => p.index === 0)!.errorCode, 0);
  assert.ok(raw.find((p) => p.index === 0)!.baseOffset >= 0n);
  assert.equal(raw.find((p) => p.index === 1)!.errorCode, 2); // CORRUPT_MESSAGE
  assert.equal(raw.find((p) => p.index === 7)!.errorCode, 3); // UNKNOWN_TOPIC_OR_PARTITION
  // Auto-create is on: an unknown topic is created on produce, as Kafka.
  assert.equal(res.responses.find((t) => t.name === 'no-such-topic-x')!.partitionResponses[0]!.errorCode, 0);
  const acks = decodeResponse('Produce', 3, c.frames[1]!).body;
  assert.equal(acks.responses[0]!.partitionResponses[0]!.errorCode, 21); // INVALID_REQUIRED_ACKS
  c.destroy();
});

test('fetch errors and limits: offset out of range, partition max bytes, min one batch', async () => {
  await b.engine.createTopic('limits', { partitions: 1 });
  for (let i = 0; i < 5; i++) await b.engine.append('limits', 0, encodeBatch([{ value: Buffer.alloc(1000, i) }]), { acks: 1 });
  const c = await RawClient.open(b.port);
  const fetch = (id: number, offset: bigint, partitionMaxBytes: number, maxBytes: number) =>
    requestFrame('Fetch', 11, id, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes,
      isolationLevel: 0,
      topics: [{ topic: 'limits', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes }] }],
    });
  c.write(fetch(1, 100n, 1 << 20, 1 << 20));
  c.write(fetch(2, 0n, 10, 10)); // smaller than one batch: still one whole batch (KIP-74)
  c.write(fetch(3, 0n, 2500, 1 << 20)); // two batches fit
  assert.ok(await c.waitFrames(3, 5000));
  const p1 = decodeResponse('Fetch', 11, c.frames[0]!).body.responses[0]!.partitions[0]!;
  assert.equal(p1.errorCode, 1);
  assert.equal(p1.highWatermark, 5n);
  const p2 = decodeResponse('Fetch', 11, c.frames[1]!).body.responses[0]!.partitions[0]!;
  assert.equal(p2.errorCode, 0);
  const one = p2.records!;
  assert.ok(one.length > 1000 && one.length < 2000, `one batch, got ${one.length} bytes`);
  const p3 = decodeResponse('Fetch', 11, c.frames[2]!).body.responses[0]!.partitions[0]!;
  assert.equal(p3.records!.length, 2 * one.length);
  c.destroy();
});

// ------------------------------------------------------------------------------------------------- fuzz

/** Deterministic PRNG (mulberry32) so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small valid request body for every served API (destructive ones aim at fuzz-only names). */
function sampleBody(api: ServedApiName): ApiTypes[ServedApiName]['requestInput'] {
  const batch = encodeBatch([{ key: 'k', value: 'fuzz' }]);
  const bodies: { [K in ServedApiName]?: ApiTypes[K]['requestInput'] } = {
    Produce: { acks: 1, timeoutMs: 1000, topicData: [{ name: 'fuzz', partitionData: [{ index: 0, records: batch }] }] },
    Fetch: {
      maxWaitMs: 50,
      minBytes: 1,
      maxBytes: 65536,
      topics: [{ topic: 'fuzz', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 65536 }] }],
    },
    ListOffsets: { replicaId: -1, topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 }] }] },
    Metadata: { topics: [{ name: 'fuzz' }], allowAutoTopicCreation: false },
    OffsetCommit: {
      groupId: 'fuzz-g',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedMetadata: null }] }],
    },
    OffsetFetch: { groupId: 'fuzz-g', topics: [{ name: 'fuzz', partitionIndexes: [0] }], groups: [{ groupId: 'fuzz-g', topics: null }] },
    FindCoordinator: { key: 'fuzz-g', keyType: 0, coordinatorKeys: ['fuzz-g'] },
    JoinGroup: {
      groupId: 'fuzz-g',
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 100,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0]) }],
    },
    Heartbeat: { groupId: 'fuzz-g', generationId: 1, memberId: 'm' },
    LeaveGroup: { groupId: 'fuzz-g', memberId: 'm', members: [{ memberId: 'm' }] },
    SyncGroup: { groupId: 'fuzz-g', generationId: 1, memberId: 'm', protocolType: 'consumer', protocolName: 'range', assignments: [] },
    DescribeGroups: { groups: ['fuzz-g'] },
    ListGroups: {},
    ApiVersions: { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' },
    CreateTopics: {
      topics: [{ name: 'fuzz-created', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: true,
    },
    DeleteTopics: { topicNames: ['fuzz-nothing'], topics: [{ name: 'fuzz-nothing', topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: 1000 },
    DeleteRecords: { topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 1000 },
    InitProducerId: { transactionalId: null, transactionTimeoutMs: 1000 },
    OffsetForLeaderEpoch: { topics: [{ topic: 'fuzz', partitions: [{ partition: 0, leaderEpoch: 0 }] }] },
    DescribeConfigs: { resources: [{ resourceType: 2, resourceName: 'fuzz', configurationKeys: null }] },
    AlterConfigs: { resources: [{ resourceType: 2, resourceName: 'fuzz', configs: [{ name: 'retention.ms', value: '86400000' }] }], validateOnly: true },
    CreatePartitions: { topics: [{ name: 'fuzz', count: 1, assignments: null }], timeoutMs: 1000, validateOnly: true },
    DeleteGroups: { groupsNames: ['fuzz-nothing'] },
    IncrementalAlterConfigs: {
      resources: [{ resourceType: 2, resourceName: 'fuzz', configs: [{ name: 'retention.ms', configOperation: 0, value: '86400000' }] }],
      validateOnly: true,
    },
    DescribeLogDirs: { topics: [{ topic: 'fuzz', partitions: [0] }] },
    DescribeCluster: { includeClusterAuthorizedOperations: false },
  };
  const body = bodies[api];
  if (body === undefined) throw new Error(`no sample body for ${api}`);
  return body;
}

test('fuzz: random, oversized, truncated and mutated frames for every API never take the broker down', async () => {
  await b.engine.createTopic('fuzz', { partitions: 1 });
  // FUZZ_SEED replays or explores other seeds; the default keeps CI deterministic.
  const rand = prng(Number(process.env['FUZZ_SEED'] ?? 0x5eed));
  const int = (n: number) => Math.floor(rand() * n);
  const cases: { name: string; bytes: Buffer; endAfter: boolean }[] = [];

  // Valid frames at the lowest and highest served version of each API, each sent once as is (must be
  // answered), then mutated.
  const valid: { api: ServedApiName; version: number; frame: Buffer }[] = [];
  for (const [, r] of SERVED_VERSIONS) {
    for (const version of new Set([r.min, Math.floor((r.min + r.max) / 2), r.max])) {
      valid.push({ api: r.name, version, frame: requestFrame(r.name, version, 77, sampleBody(r.name)) });
    }
  }
  for (const v of valid) {
    for (let i = 0; i < 12; i++) {
      const m = Buffer.from(v.frame);
      const flips = 1 + int(4);
      for (let f = 0; f < flips; f++) {
        const pos = 4 + int(m.length - 4);
        m[pos] = int(3) === 0 ? 0xff : int(256);
      }
      cases.push({ name: `mutated ${v.api} v${v.version}`, bytes: m, endAfter: false });
    }
    // Truncated: the body cut short with a consistent size prefix (malformed), and a frame cut mid-way.
    const cut = 12 + int(Math.max(1, v.frame.length - 12));
    const t = Buffer.from(v.frame.subarray(0, cut));
    t.writeInt32BE(cut - 4, 0);
    cases.push({ name: `truncated ${v.api} v${v.version}`, bytes: t, endAfter: false });
    cases.push({ name: `partial ${v.api} v${v.version}`, bytes: v.frame.subarray(0, int(v.frame.length)), endAfter: true });
  }
  for (let i = 0; i < 150; i++) {
    const body = Buffer.alloc(int(120));
    for (let j = 0; j < body.length; j++) body[j] = int(256);
    if (body.length >= 2 && rand() < 0.7) body.writeInt16BE(int(70), 0); // mostly plausible api keys
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(rand() < 0.1 ? int(0x7fffffff) : body.length);
    cases.push({ name: `random #${i}`, bytes: Buffer.concat([prefix, body]), endAfter: rand() < 0.3 });
  }

  const runCase = async (bytes: Buffer, endAfter: boolean): Promise<void> => {
    const c = await RawClient.open(b.port);
    c.write(bytes);
    if (endAfter) c.socket.end();
    await Promise.race([c.waitFrames(1, 150), c.waitClosed(150)]);
    c.destroy();
  };

  // Unmutated frames are all answered.
  for (const v of valid) {
    const c = await RawClient.open(b.port);
    c.write(v.frame);
    assert.ok(await c.waitFrames(1, 5000), `valid ${v.api} v${v.version} was not answered`);
    c.destroy();
  }
  const errorsBefore = b.server.metrics.protocolErrors;
  for (let i = 0; i < cases.length; i += 25) {
    await Promise.all(cases.slice(i, i + 25).map((k) => runCase(k.bytes, k.endAfter)));
  }
  assert.ok(b.server.metrics.protocolErrors > errorsBefore, 'malformed frames were detected');
  // Decodable requests with odd values get error answers, never a handler crash.
  const crashes = b.warnings.filter((w) => /handler failed|could not be encoded/.test(w.msg ?? ''));
  assert.deepEqual(
    crashes.map((w) => String((w.obj as { err?: Error }).err?.stack ?? '')),
    [],
  );

  // Still healthy: kafkajs admin and producer work.
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'after-fuzz', numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({ topic: 'after-fuzz', messages: [{ value: 'still alive' }] });
  assert.equal(sent[0]!.errorCode, 0);
  await producer.disconnect();
  const offs = await admin.fetchTopicOffsets('after-fuzz');
  assert.equal(offs.reduce((s, o) => s + Number(o.high), 0), 1);
  await admin.disconnect();
});
