/**
 * A full disk, end to end: `sluice start` with its data directory on a 40 MiB tmpfs, kafkajs producing with
 * acks=all until KAFKA_STORAGE_ERROR. Then space comes back twice — by deleting a topic that was consumed (its
 * blocks must be freed at once, mappings included) and by growing the mount — and each time the failed
 * partitions (the __consumer_offsets ones included) must serve produce and offset commits again within 30 s,
 * without a restart. Finally a restart must find every acknowledged record intact.
 *
 * Needs root (mount); skipped otherwise. The mount is always removed, even when the test fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { Admin as GroupAdmin } from '@platformatic/kafka';
import { startTestBroker, type TestBroker } from '../brokers.js';
import { nodeAtLeast } from '../clients/helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const skip = !isRoot
  ? 'needs root to mount a tmpfs'
  : !nodeAtLeast(20, 19, 4)
    ? `@platformatic/kafka (offset commits) needs Node >= 20.19.4, this is ${process.versions.node}`
    : false;

const RECOVERY_DEADLINE_MS = 30_000;
const RECORD_BYTES = 1024;
const RECORDS_PER_SEND = 64;

let mountDir = '';
let mounted = false;
let broker: TestBroker | null = null;

function mount(size: string, remount = false): void {
  execFileSync('mount', remount ? ['-o', `remount,size=${size}`, mountDir] : ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountDir]);
}

function freeBytes(): number {
  const s = statfsSync(mountDir);
  return s.bavail * s.bsize;
}

before(() => {
  if (!isRoot) return;
  mountDir = mkdtempSync(join(tmpdir(), 'sluice-diskfull-'));
  mount('40m');
  mounted = true;
});

function unmount(): void {
  if (mounted) {
    try {
      execFileSync('umount', [mountDir]);
    } catch {
      execFileSync('umount', ['-l', mountDir]); // something still holds it: detach it anyway
    }
    mounted = false;
  }
  if (mountDir) rmSync(mountDir, { recursive: true, force: true });
}

// a test run stopped by a signal skips `after`: the mount must not outlive it
const onSignal = (sig: NodeJS.Signals): void => {
  unmount();
  process.kill(process.pid, sig);
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, onSignal);

after(async () => {
  await broker?.stop().catch(() => undefined);
  unmount();
});

/** The Kafka error type somewhere in a kafkajs error's chain of causes. */
function errorType(e: unknown): string | undefined {
  for (let c = e as { type?: string; cause?: unknown; originalError?: unknown } | undefined; c; ) {
    if (typeof c.type === 'string' && c.type !== 'UNKNOWN') return c.type;
    c = (c.cause ?? c.originalError) as typeof c;
  }
  return undefined;
}

/** Every acknowledged record: `${topic}/${partition}/${offset}` → value. */
const acked = new Map<string, string>();
let seq = 0;

function value(topic: string, partition: number): string {
  const head = `${topic}/${partition}/${seq++}/`;
  return head + 'x'.repeat(RECORD_BYTES - head.length);
}

/** One acks=all send of RECORDS_PER_SEND records to one partition; records what was acknowledged. */
async function send(producer: Producer, topic: string, partition: number): Promise<void> {
  const values = Array.from({ length: RECORDS_PER_SEND }, () => value(topic, partition));
  const [meta] = await producer.send({ topic, acks: -1, messages: values.map((v) => ({ partition, value: v })) });
  assert.equal(meta?.errorCode, 0);
  const base = BigInt(meta!.baseOffset as string);
  values.forEach((v, i) => acked.set(`${topic}/${partition}/${base + BigInt(i)}`, v));
}

/** Sends until a KAFKA_STORAGE_ERROR (any other error fails the test); returns how many sends succeeded. */
async function fillUntilFull(producer: Producer, topic: string, partitions: number): Promise<number> {
  for (let n = 0; n < 10_000; n++) {
    try {
      await send(producer, topic, n % partitions);
    } catch (e) {
      assert.equal(errorType(e), 'KAFKA_STORAGE_ERROR', `expected a storage error, got ${String(e)}`);
      return n;
    }
  }
  throw new Error('the 40 MiB tmpfs never filled up');
}

/** Retries `fn` until it succeeds or the deadline passes; returns the time it took. */
async function within(ms: number, what: string, fn: () => Promise<void>): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < ms) {
    try {
      await fn();
      return Date.now() - t0;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what}: still failing ${ms} ms after space came back: ${String(last)} (broker exit code ${broker?.exitCode()})\n${broker?.stderr() ?? ''}`);
}

/** Commits until a commit fails (a commit is small: the last page of the offsets segment may still take some). */
async function commitUntilFull(admin: GroupAdmin): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      await commit(admin, 100 + i);
    } catch {
      return;
    }
  }
  throw new Error('offset commits never failed on a full disk');
}

/** Commits `offset` for both partitions of `fill` (an OffsetCommit outside a generation, as Kafka's admin does). */
async function commit(admin: GroupAdmin, offset: number): Promise<void> {
  const partitionOffsets = [0, 1].map((partition) => ({ partition, offset: BigInt(offset) }));
  await admin.alterConsumerGroupOffsets({ groupId: 'committer', topics: [{ name: 'fill', partitionOffsets }] });
  assert.deepEqual(await committed(admin), [BigInt(offset), BigInt(offset)]);
}

async function committed(admin: GroupAdmin): Promise<bigint[]> {
  const [g] = await admin.listConsumerGroupOffsets({ groups: ['committer'] });
  const t = g?.topics.find((x) => x.name === 'fill');
  return (t?.partitions ?? []).sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.committedOffset);
}

test('disk full: KAFKA_STORAGE_ERROR, then produce and offset commits recover without a restart; acknowledged records survive', { skip, timeout: 150_000 }, async (t) => {
  const dataDir = join(mountDir, 'data');
  const config = {
    'log.segment.bytes': String(1 << 20),
    'offsets.topic.num.partitions': '2',
    'sluice.owner.threads': '2',
  };
  broker = await startTestBroker(config, { dataDir });
  const kafka = new Kafka({ clientId: 'disk-full', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  let producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  const { Admin } = await import('@platformatic/kafka');
  const groups = new Admin({ clientId: 'disk-full-groups', bootstrapBrokers: [broker.bootstrap], retries: 0 });
  await admin.connect();
  await producer.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'fill', numPartitions: 2 }, { topic: 'doomed', numPartitions: 1 }], waitForLeaders: true });
    await commit(groups, 1);

    // A topic that a consumer reads (its segments get mapped by the broker's read path), deleted later.
    for (let i = 0; i < 100; i++) await send(producer, 'doomed', 0);
    const doomedRecords = 100 * RECORDS_PER_SEND;
    const consumed = await broker.run(['consume', 'doomed', '--group', 'reader', '--from-beginning', '--max-messages', String(doomedRecords)], { timeoutMs: 60_000 });
    assert.equal(consumed.code, 0, consumed.stderr);
    for (const k of [...acked.keys()]) if (k.startsWith('doomed/')) acked.delete(k); // deleted below

    // 1. fill the disk
    const sent = await fillUntilFull(producer, 'fill', 2);
    assert.ok(sent > 10, `only ${sent} sends before the disk was full`);
    await assert.rejects(send(producer, 'fill', 0), (e) => errorType(e) === 'KAFKA_STORAGE_ERROR');
    await assert.rejects(send(producer, 'fill', 1), (e) => errorType(e) === 'KAFKA_STORAGE_ERROR');
    await commitUntilFull(groups);
    assert.equal(broker.exitCode(), null, `the broker died:\n${broker.stderr()}`);

    // 2. deleting the consumed topic frees its space at once, and space coming back heals the failed partitions
    const freeBefore = freeBytes();
    await admin.deleteTopics({ topics: ['doomed'] });
    const freed = freeBytes() - freeBefore;
    assert.ok(freed >= doomedRecords * RECORD_BYTES * 0.9, `deleting the topic freed only ${freed} bytes`);
    await admin.createTopics({ topics: [{ topic: 'fresh', numPartitions: 1 }], waitForLeaders: true });
    // (kafkajs keeps asking metadata for every topic a producer wrote to, and fails on the deleted one)
    await producer.disconnect();
    producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    await send(producer, 'fresh', 0);
    const afterDelete = await within(RECOVERY_DEADLINE_MS, 'produce after a topic deletion', async () => {
      await send(producer, 'fill', 0);
      await send(producer, 'fill', 1);
    });
    await within(RECOVERY_DEADLINE_MS, 'offset commit after a topic deletion', () => commit(groups, 3));

    // 3. fill again, then grow the mount
    await fillUntilFull(producer, 'fill', 2);
    await commitUntilFull(groups);
    mount('200m', true);
    const afterRemount = await within(RECOVERY_DEADLINE_MS, 'produce after the mount grew', async () => {
      await send(producer, 'fill', 0);
      await send(producer, 'fill', 1);
    });
    await within(RECOVERY_DEADLINE_MS, 'offset commit after the mount grew', () => commit(groups, 5));
    t.diagnostic(`produce recovered ${afterDelete} ms after the deletion, ${afterRemount} ms after the remount; deletion freed ${freed} bytes`);
    for (let i = 0; i < 20; i++) await send(producer, 'fill', i % 2);
    assert.equal(broker.exitCode(), null, `the broker died:\n${broker.stderr()}`);
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await groups.close().catch(() => undefined);
  }

  // 4. restart: every acknowledged record is there, at its offset, with its value
  const port = broker.port;
  await broker.stop();
  broker = await startTestBroker(config, { dataDir, port });
  const kafka2 = new Kafka({ clientId: 'disk-full-2', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const groups2 = new (await import('@platformatic/kafka')).Admin({ clientId: 'disk-full-groups-2', bootstrapBrokers: [broker.bootstrap] });
  try {
    assert.deepEqual(await committed(groups2), [5n, 5n]);
  } finally {
    await groups2.close();
  }
  const consumer = kafka2.consumer({ groupId: 'verifier', maxBytes: 8 << 20 });
  const seen = new Map<string, string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: ['fill', 'fresh'], fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const k = `${topic}/${partition}/${message.offset}`;
          if (acked.has(k)) seen.set(k, message.value?.toString() ?? '');
          if (seen.size === acked.size) resolve();
        },
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  let missing = 0;
  for (const [k, v] of acked) if (seen.get(k) !== v) missing++;
  assert.equal(missing, 0, `${missing} of ${acked.size} acknowledged records are missing or changed after the restart`);
});

test('segments are preallocated in bounded steps: a few records do not make gigabyte files', { timeout: 60_000 }, async () => {
  const b = await startTestBroker(); // default log.segment.bytes: 1 GiB
  try {
    let r = await b.run(['topics', 'create', 'small', '--partitions', '3']);
    assert.equal(r.code, 0, r.stderr);
    for (const p of [0, 1, 2]) {
      r = await b.run(['produce', 'small', '--partition', String(p)], { input: 'a\nb\nc\n' });
      assert.equal(r.code, 0, r.stderr);
    }
    r = await b.run(['consume', 'small', '--group', 'g', '--from-beginning', '--max-messages', '9']);
    assert.equal(r.code, 0, r.stderr);
    const logs = readdirSync(b.dataDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log'));
    assert.ok(logs.some((f) => f.startsWith('__consumer_offsets')) && logs.filter((f) => f.startsWith('small-')).length === 3, logs.join(' '));
    for (const f of logs) {
      const size = statSync(join(b.dataDir, f)).size;
      assert.ok(size <= 1 << 20, `${f} is ${size} bytes long`);
    }
  } finally {
    await b.stop();
  }
});
