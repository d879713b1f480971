/**
 * kcat (librdkafka 2.0.2 from Debian) against `sluice start` run as a child process: metadata, produce with
 * keys and headers and consume back for every compression codec (checking the codec of the stored batches),
 * and a balanced consumer group with committed offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { CompressionType, compressionOf } from '../../src/record/batch-header.js';
import { INSTALL_HINT, commandVersion, skipUnlessRequired, readStoredBatches, run } from './helpers.js';
import { startSluice, type SluiceProcess } from '../brokers.js';

const version = commandVersion('kcat');
const skip = skipUnlessRequired(version === null ? `kcat not installed; ${INSTALL_HINT}` : false, 'kcat tests');

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

async function kcat(args: readonly string[], input?: string, timeoutMs = 30_000): Promise<string> {
  const r = await run('kcat', args, { ...(input !== undefined ? { input } : {}), timeoutMs });
  assert.equal(r.code, 0, `kcat ${args.join(' ')} exited with ${r.code}\nstderr: ${r.stderr}`);
  return r.stdout;
}

function parseJsonLines(out: string): KcatMessage[] {
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as KcatMessage);
}

/** Admin through kafkajs (kcat cannot create topics or read group offsets). */
async function withAdmin<T>(b: SluiceProcess, fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = new Kafka({ clientId: 'kcat-test-admin', brokers: [b.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Runs `fn` against a fresh broker; then stops it cleanly and runs `inspect` on its data dir (engine access). */
async function withBroker(fn: (b: SluiceProcess) => Promise<void>, inspect?: (dataDir: string) => Promise<void>): Promise<void> {
  const b = await startSluice();
  try {
    await fn(b);
    assert.equal(await b.stop(), 0, 'the broker did not exit cleanly on SIGTERM');
    if (inspect) await inspect(b.dataDir);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- broker log (tail) ---\n${b.log().slice(-4000)}`;
    throw e;
  } finally {
    await b.cleanup();
  }
}

test('kcat -L lists the broker, topics and partitions', { skip, timeout: 60_000 }, async () => {
  await withBroker(async (b) => {
    await withAdmin(b, (admin) => admin.createTopics({ topics: [{ topic: 'meta-three', numPartitions: 3 }, { topic: 'meta-one' }] }));
    const md = JSON.parse(await kcat(['-b', b.bootstrap, '-L', '-J'])) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
    };
    assert.deepEqual(md.brokers, [{ id: 0, name: b.bootstrap }]);
    const three = md.topics.find((t) => t.topic === 'meta-three');
    assert.ok(three, `meta-three missing from ${JSON.stringify(md.topics.map((t) => t.topic))}`);
    assert.equal(three.error, undefined);
    assert.deepEqual(three.partitions.map((p) => p.partition).sort(), [0, 1, 2]);
    for (const p of three.partitions) {
      assert.equal(p.leader, 0);
      assert.deepEqual(p.replicas, [{ id: 0 }]);
      assert.deepEqual(p.isrs, [{ id: 0 }]);
    }
    assert.equal(md.topics.find((t) => t.topic === 'meta-one')?.partitions.length, 1);

    // One topic asked by name; the human-readable form names the broker too.
    const one = await kcat(['-b', b.bootstrap, '-L', '-t', 'meta-three']);
    assert.match(one, /1 brokers:\s+broker 0 at 127\.0\.0\.1:\d+/);
    assert.match(one, /topic "meta-three" with 3 partitions:/);
  });
});

const CODECS = [
  ['gzip', CompressionType.Gzip],
  ['snappy', CompressionType.Snappy],
  ['lz4', CompressionType.Lz4],
  ['zstd', CompressionType.Zstd],
] as const;

for (const [codec, type] of CODECS) {
  test(`kcat produces and consumes with compression.codec=${codec}; the stored batches carry ${codec}`, { skip, timeout: 60_000 }, async () => {
    const topic = `codec-${codec}`;
    const n = 300;
    // Compressible values (librdkafka sends a batch uncompressed when compressing does not shrink it).
    const sent = Array.from({ length: n }, (_, i) => ({ key: `key-${i % 7}`, value: `value-${i} ${'the quick brown fox '.repeat(4)}${codec}` }));
    await withBroker(async (b) => {
      await withAdmin(b, (admin) => admin.createTopics({ topics: [{ topic }] }));
      await kcat(
        ['-b', b.bootstrap, '-P', '-t', topic, '-p', '0', '-K:', '-H', 'source=kcat', '-H', `codec=${codec}`,
          '-X', `compression.codec=${codec}`, '-X', 'acks=all', '-X', 'linger.ms=20'],
        sent.map((m) => `${m.key}:${m.value}`).join('\n') + '\n',
      );
      const got = parseJsonLines(await kcat(['-b', b.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q']));
      assert.equal(got.length, n, `consumed ${got.length} of ${n}`);
      got.forEach((m, i) => {
        assert.equal(m.partition, 0);
        assert.equal(m.offset, i);
        assert.equal(m.key, sent[i]!.key);
        assert.equal(m.payload, sent[i]!.value);
        assert.deepEqual(m.headers, ['source', 'kcat', 'codec', codec]);
      });
    }, async (dataDir) => {
      const stored = await readStoredBatches(dataDir, topic, 0);
      const records = stored.batches.flatMap((bt) => bt.records);
      assert.equal(records.length, n, 'records stored');
      assert.ok(stored.headers.length >= 1);
      for (const h of stored.headers) {
        assert.equal(
          compressionOf(h.attributes),
          type,
          `stored batch at offset ${h.baseOffset} has codec ${CompressionType[compressionOf(h.attributes)]}, not ${codec}` +
            (compressionOf(h.attributes) === CompressionType.None
              ? ' (librdkafka before 2.10 sends gzip/snappy/lz4 uncompressed unless the broker\'s ApiVersions range for Produce includes v0)'
              : ''),
        );
      }
      // The stored records decode to exactly what kcat sent.
      records.forEach((r, i) => {
        assert.equal(r.offset, BigInt(i));
        assert.equal(r.key?.toString(), sent[i]!.key);
        assert.equal(r.value?.toString(), sent[i]!.value);
        assert.deepEqual(r.headers.map((h) => [h.key, h.value?.toString()]), [['source', 'kcat'], ['codec', codec]]);
      });
    });
  });
}

test('kcat balanced consumer group (-G) consumes every partition and commits its offsets', { skip, timeout: 90_000 }, async () => {
  await withBroker(async (b) => {
    const topic = 'grp-topic';
    const group = 'kcat-group';
    await withAdmin(b, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }));
    const first = Array.from({ length: 60 }, (_, i) => `k${i}:first-${i}`);
    await kcat(['-b', b.bootstrap, '-P', '-t', topic, '-K:', '-X', 'acks=all'], first.join('\n') + '\n');

    const consume = async () =>
      parseJsonLines(await kcat(
        ['-b', b.bootstrap, '-G', group, '-J', '-q', '-e', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000',
          '-X', 'heartbeat.interval.ms=500', topic],
        undefined,
        60_000,
      ));
    const got = await consume();
    assert.deepEqual(got.map((m) => `${m.key}:${m.payload}`).sort(), [...first].sort());
    assert.deepEqual([...new Set(got.map((m) => m.partition))].sort(), [0, 1, 2], 'keys spread over all partitions');

    const committed = await withAdmin(b, async (admin) => {
      const offs = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      return { offs: offs[0]!.partitions, ends };
    });
    for (const end of committed.ends) {
      const c = committed.offs.find((p) => p.partition === end.partition);
      assert.equal(c?.offset, end.high, `committed offset of partition ${end.partition}`);
    }

    // Same group again: only what was produced since is delivered.
    const second = Array.from({ length: 9 }, (_, i) => `n${i}:second-${i}`);
    await kcat(['-b', b.bootstrap, '-P', '-t', topic, '-K:', '-X', 'acks=all'], second.join('\n') + '\n');
    const again = await consume();
    assert.deepEqual(again.map((m) => `${m.key}:${m.payload}`).sort(), [...second].sort());
  });
});
