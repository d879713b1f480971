/**
 * A current librdkafka (the one @confluentinc/kafka-javascript builds, 2.15.x) through its Node binding against
 * `sluice start`: metadata, a producer with acks=all and delivery reports, and a two-member consumer group
 * that commits offsets.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessRequired, waitFor } from './helpers.js';
import { startSluice, type SluiceProcess } from '../brokers.js';
import { connect, createTopic, disconnect, exitIfStuck, flush, loadBinding, metadata, type RdConsumer, type RdDeliveryReport, type RdMessage, type RdProducer } from './rdkafka.js';

const binding = loadBinding();
const skip = skipUnlessRequired(binding.ok ? false : binding.reason, 'librdkafka binding tests');
after(() => exitIfStuck());

async function withBroker(fn: (b: SluiceProcess) => Promise<void>): Promise<void> {
  const b = await startSluice();
  try {
    await fn(b);
    assert.equal(await b.stop(), 0, 'the broker did not exit cleanly on SIGTERM');
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- broker log (tail) ---\n${b.log().slice(-4000)}`;
    throw e;
  } finally {
    await b.cleanup();
  }
}

function rd() {
  if (!binding.ok) throw new Error(binding.reason);
  return binding.rd;
}

async function makeTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = rd().AdminClient.create({ 'bootstrap.servers': bootstrap, 'client.id': 'sluice-test-admin' });
  try {
    await createTopic(admin, topic, partitions);
  } finally {
    admin.disconnect();
  }
}

/** Produces `count` keyed records with headers and resolves with every delivery report once all are in. */
async function produceAll(p: RdProducer, topic: string, count: number, prefix: string): Promise<RdDeliveryReport[]> {
  const reports: RdDeliveryReport[] = [];
  const done = new Promise<void>((res, rej) => {
    const onReport = (err: Error | null, r: RdDeliveryReport) => {
      if (err) {
        p.off('delivery-report', onReport);
        return rej(err);
      }
      reports.push(r);
      if (reports.length === count) {
        p.off('delivery-report', onReport);
        res();
      }
    };
    p.on('delivery-report', onReport);
  });
  for (let i = 0; i < count; i++) {
    p.produce(topic, null, Buffer.from(`${prefix}-value-${i}`), `${prefix}-key-${i}`, null, { i }, [{ seq: String(i) }, { origin: 'rdkafka' }]);
  }
  await flush(p);
  await done;
  return reports;
}

test('librdkafka binding: metadata lists the broker and the topic partitions', { skip, timeout: 60_000 }, async () => {
  await withBroker(async (b) => {
    await makeTopic(b.bootstrap, 'md-topic', 4);
    const p = await connect(new (rd().Producer)({ 'bootstrap.servers': b.bootstrap, 'client.id': 'sluice-md' }));
    try {
      const md = await metadata(p);
      assert.deepEqual(md.brokers, [{ id: 0, host: '127.0.0.1', port: b.port }]);
      assert.equal(md.orig_broker_id, 0);
      const t = md.topics.find((x) => x.name === 'md-topic');
      assert.ok(t, `md-topic missing from ${JSON.stringify(md.topics.map((x) => x.name))}`);
      assert.deepEqual(t.partitions.map((x) => x.id).sort(), [0, 1, 2, 3]);
      for (const part of t.partitions) {
        assert.equal(part.leader, 0);
        assert.deepEqual(part.replicas, [0]);
        assert.deepEqual(part.isrs, [0]);
      }
      const one = await metadata(p, { topic: 'md-topic', allTopics: false });
      assert.equal(one.topics.length, 1);
      assert.equal(one.topics[0]!.partitions.length, 4);
    } finally {
      await disconnect(p);
    }
  });
});

test('librdkafka binding: acks=all producer gets a delivery report with an offset for every record', { skip, timeout: 60_000 }, async () => {
  await withBroker(async (b) => {
    await makeTopic(b.bootstrap, 'dr-topic', 2);
    const p = await connect(new (rd().Producer)({
      'bootstrap.servers': b.bootstrap,
      'client.id': 'sluice-dr',
      'acks': 'all',
      'dr_cb': true,
      'enable.idempotence': true,
      'linger.ms': 5,
      'compression.codec': 'lz4',
    }));
    p.setPollInterval(10);
    try {
      const n = 500;
      const reports = await produceAll(p, 'dr-topic', n, 'dr');
      assert.equal(reports.length, n);
      for (const r of reports) assert.equal(r.error, undefined);
      // Offsets per partition are exactly 0..count-1, each once.
      for (const partition of [0, 1]) {
        const offs = reports.filter((r) => r.partition === partition).map((r) => r.offset).sort((a, c) => a - c);
        assert.ok(offs.length > 0, `partition ${partition} received records`);
        assert.deepEqual(offs, offs.map((_, i) => i), `offsets of partition ${partition}`);
        const wm = await new Promise<{ lowOffset: number; highOffset: number }>((res, rej) =>
          p.queryWatermarkOffsets('dr-topic', partition, 5000, (err, o) => (err ? rej(err) : res(o))),
        );
        assert.deepEqual(wm, { lowOffset: 0, highOffset: offs.length });
      }
      const opaques = reports.map((r) => (r.opaque as { i: number }).i).sort((a, c) => a - c);
      assert.deepEqual(opaques, Array.from({ length: n }, (_, i) => i));
    } finally {
      await disconnect(p);
    }
  });
});

test('librdkafka binding: a two-member consumer group splits the partitions, consumes everything and commits', { skip, timeout: 90_000 }, async (t) => {
  await withBroker(async (b) => {
    const topic = 'cg-topic';
    const group = 'rdkafka-group';
    const t0 = Date.now();
    const step = (what: string) => t.diagnostic(`${Date.now() - t0} ms: ${what}`);
    await makeTopic(b.bootstrap, topic, 4);
    step('topic created');
    const consumers: RdConsumer[] = [];
    let p: RdProducer | undefined;
    try {
      const received = new Map<string, RdMessage>();
      const byMember = [0, 0];
      for (let m = 0; m < 2; m++) {
        const c = new (rd().KafkaConsumer)(
          {
            'bootstrap.servers': b.bootstrap,
            'group.id': group,
            'client.id': `member-${m}`,
            'enable.auto.commit': false,
            'session.timeout.ms': 6000,
            'heartbeat.interval.ms': 300,
            'partition.assignment.strategy': 'range',
          },
          { 'auto.offset.reset': 'earliest' },
        );
        c.on('data', (msg: RdMessage) => {
          received.set(`${msg.partition}/${msg.offset}`, msg);
          byMember[m]! += 1;
        });
        consumers.push(c);
        await connect(c);
        step(`member ${m} connected`);
        c.subscribe([topic]);
        c.consume();
      }
      await waitFor('both members to hold two partitions each', () => {
        const a = consumers.map((c) => c.assignments().length);
        return a[0] === 2 && a[1] === 2 ? true : undefined;
      }, 30_000);
      step('both members assigned');
      p = await connect(new (rd().Producer)({ 'bootstrap.servers': b.bootstrap, 'acks': 'all', 'dr_cb': true, 'linger.ms': 5 }));
      p.setPollInterval(10);
      const n = 200;
      await produceAll(p, topic, n, 'cg');
      step('produced');
      await waitFor(`all ${n} records (have ${received.size})`, () => (received.size === n ? true : undefined), 30_000);
      step('consumed');
      const values = [...received.values()].map((msg) => msg.value!.toString()).sort();
      assert.deepEqual(values, Array.from({ length: n }, (_, i) => `cg-value-${i}`).sort());
      assert.equal(byMember[0]! + byMember[1]!, n, 'no record delivered twice');
      assert.ok(byMember[0]! > 0 && byMember[1]! > 0, `both members received records: ${byMember}`);
      const sample = [...received.values()][0]!;
      assert.match(String(sample.key), /^cg-key-\d+$/);
      assert.deepEqual(sample.headers?.map((h) => Object.entries(h).map(([k, v]) => [k, v.toString()])[0]), [
        ['seq', String(sample.key).replace('cg-key-', '')],
        ['origin', 'rdkafka'],
      ]);

      // Each member commits the next offset of every partition it owns; the group coordinator returns them.
      const ends = new Map<number, number>();
      for (const msg of received.values()) ends.set(msg.partition, Math.max(ends.get(msg.partition) ?? 0, msg.offset + 1));
      for (const c of consumers) {
        c.commitSync(c.assignments().map((a) => ({ topic, partition: a.partition, offset: ends.get(a.partition) ?? 0 })));
      }
      const committed = await new Promise<{ partition: number; offset: number }[]>((res, rej) =>
        consumers[0]!.committed([0, 1, 2, 3].map((partition) => ({ topic, partition })), 10_000, (err, tps) => (err ? rej(err) : res(tps))),
      );
      step('committed');
      assert.deepEqual(
        committed.map((x) => [x.partition, x.offset]).sort((x, y) => x[0]! - y[0]!),
        [0, 1, 2, 3].map((partition) => [partition, ends.get(partition) ?? 0]),
      );
    } finally {
      for (const c of consumers) await disconnect(c);
      if (p) await disconnect(p);
      step('disconnected');
    }
  });
});
