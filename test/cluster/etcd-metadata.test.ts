/**
 * The engine's metadata in a real etcd (test/etcd.ts): topic records and producer ids through the public surface,
 * etcd taken away and brought back. Each test works under its own key prefix.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decodeBatches } from '../../src/record/batch.js';
import {
  EtcdConnection,
  EtcdProducerIdManager,
  EtcdTopicStore,
  SluiceEngine,
  SluiceError,
  type EtcdConnectionOptions,
} from '../../src/index.js';
import { batchOf, tempDir } from '../engine/helpers.js';
import { etcdSkip, startEtcd, type EtcdServer } from '../etcd.js';

const skip = etcdSkip('etcd metadata tests');

describe('metadata in etcd', { skip }, () => {
  let etcd: EtcdServer;
  const connections: EtcdConnection[] = [];
  const dirs: (() => void)[] = [];

  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    for (const c of connections) c.close();
    for (const d of dirs) d();
    await etcd?.close();
  });

  async function connect(prefix: string, extra: Partial<EtcdConnectionOptions> = {}): Promise<EtcdConnection> {
    const c = await EtcdConnection.connect({ endpoints: etcd.endpoint, prefix, ...extra });
    connections.push(c);
    return c;
  }
  function dataDir(): string {
    const t = tempDir('sluice-etcd-engine-');
    dirs.push(t.cleanup);
    return t.dir;
  }
  function openEngine(conn: EtcdConnection): Promise<SluiceEngine> {
    return SluiceEngine.open({ dataDir: dataDir(), owners: 1, topicStore: new EtcdTopicStore(conn), producerIds: new EtcdProducerIdManager(conn) });
  }
  const values = (buf: Buffer): string[] => decodeBatches(buf).flatMap((b) => b.records.map((r) => r.value?.toString() ?? ''));

  test('a topic created through the engine is in etcd: a new engine on an empty data dir sees it', async () => {
    const conn = await connect(`/t-${randomUUID()}`);
    const a = await openEngine(conn);
    const created = await a.createTopic('orders', { partitions: 3, configs: { 'retention.ms': '60000', 'cleanup.policy': 'delete' } });
    await a.append('orders', 1, batchOf('v', 3));
    assert.deepEqual(values(a.read('orders', 1, 0n, { maxBytes: 1 << 20 }).records), ['v-0', 'v-1', 'v-2']);
    await a.close();

    const b = await openEngine(conn);
    try {
      assert.deepEqual(b.listTopics(), ['orders']);
      const seen = await b.describeTopic('orders');
      assert.equal(seen.topicId, created.topicId);
      assert.equal(seen.partitions.length, 3);
      assert.deepEqual(seen.overrides, { 'retention.ms': '60000', 'cleanup.policy': 'delete' });
      assert.equal(seen.internal, false);
      assert.deepEqual(b.leadership('orders', 2), { leader: 0, leaderEpoch: 0 });
      // the data dir is new: the records stayed with the first engine (replication is a later slice)
      assert.equal(b.offsets('orders', 1).highWatermark, 0n);
    } finally {
      await b.close();
    }
  });

  test('deleting a topic removes its record from etcd', async () => {
    const conn = await connect(`/t-${randomUUID()}`);
    const e = await openEngine(conn);
    try {
      await e.createTopic('gone', { partitions: 1 });
      await e.createTopic('kept', { partitions: 1 });
      const keys = async (): Promise<string[]> => Object.keys(await conn.client.getAll().prefix(`${conn.prefix}/topics/`).strings()).sort();
      assert.deepEqual(await keys(), [`${conn.prefix}/topics/gone`, `${conn.prefix}/topics/kept`]);
      await e.deleteTopic('gone');
      assert.deepEqual(await keys(), [`${conn.prefix}/topics/kept`]);
    } finally {
      await e.close();
    }
  });

  test('two producer id managers on one etcd never hand out the same id, across blocks and restarts', async () => {
    const prefix = `/t-${randomUUID()}`;
    const [c1, c2] = [await connect(prefix), await connect(prefix)];
    const blockSize = 7; // many block boundaries, with the two racing for each next block
    const m1 = new EtcdProducerIdManager(c1, { blockSize });
    const m2 = new EtcdProducerIdManager(c2, { blockSize });
    await Promise.all([m1.load(), m2.load()]);
    const n = 150;
    const take = (m: EtcdProducerIdManager): Promise<bigint[]> =>
      Promise.all(Array.from({ length: n }, () => m.initProducerId().then((r) => (assert.equal(r.producerEpoch, 0), r.producerId))));
    const [ids1, ids2] = await Promise.all([take(m1), take(m2)]);
    const all = [...ids1, ...ids2];
    assert.equal(new Set(all).size, 2 * n, 'no producer id handed out twice');
    const max = all.reduce((a, b) => (a > b ? a : b));
    assert.ok(max >= BigInt(2 * n - 1));

    // Kafka's default block size, and a restarted manager: past every block reserved so far.
    const m3 = new EtcdProducerIdManager(await connect(prefix));
    await m3.load();
    const next = (await m3.initProducerId()).producerId;
    assert.ok(next > max, `${next} > ${max}`);
    const block = JSON.parse(String(await c1.client.get(`${prefix}/producer-id-block`).string())) as { nextBlockStart: string };
    assert.equal(BigInt(block.nextBlockStart), next + 1000n);

    // A transactional id: one stable id, every init (from either broker) a new epoch.
    const inits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? m1 : m2).initProducerId('txn-a/1')));
    assert.equal(new Set(inits.map((r) => r.producerId)).size, 1);
    assert.deepEqual(inits.map((r) => r.producerEpoch).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(!all.includes(inits[0]!.producerId));
    assert.deepEqual(await m3.initProducerId('txn-a/1'), { producerId: inits[0]!.producerId, producerEpoch: 10 });
  });

  test('etcd stopped: createTopic and initProducerId fail within the bound with METADATA_UNAVAILABLE; back: they work', async () => {
    const requestTimeoutMs = 1500;
    const conn = await connect(`/t-${randomUUID()}`, { requestTimeoutMs });
    const e = await openEngine(conn);
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): void => void unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      await e.createTopic('before', { partitions: 1 });
      await etcd.stop();

      const failsInTime = async (what: string, f: () => Promise<unknown>): Promise<void> => {
        const t0 = Date.now();
        await assert.rejects(f, (err: unknown) => {
          assert.ok(err instanceof SluiceError, `${what}: ${String(err)}`);
          assert.equal(err.code, 'METADATA_UNAVAILABLE', `${what}: ${err.message}`);
          return true;
        });
        const took = Date.now() - t0;
        assert.ok(took < requestTimeoutMs + 1000, `${what} failed after ${took} ms`);
      };
      await failsInTime('createTopic', () => e.createTopic('during', { partitions: 1 }));
      await failsInTime('initProducerId', () => e.initProducerId());
      await failsInTime('initProducerId(transactional)', () => e.initProducerId('txn-b'));
      assert.ok(!e.hasTopic('during'));
      // what is open keeps serving
      await e.append('before', 0, batchOf('x', 1));

      await etcd.restart();
      await e.createTopic('during', { partitions: 1 });
      const pid = await e.initProducerId();
      assert.equal(pid.producerEpoch, 0);
      assert.equal((await e.initProducerId('txn-b')).producerEpoch, 0);
      const stored = await conn.client.getAll().prefix(`${conn.prefix}/topics/`).keys();
      assert.deepEqual(stored.sort(), [`${conn.prefix}/topics/before`, `${conn.prefix}/topics/during`]);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      if (!etcd.running) await etcd.restart();
      await e.close();
    }
  });

  test('an etcd that accepts connections and never answers: calls fail at the bound, not hang', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => void sockets.add(sock)); // accepts, reads nothing, says nothing
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const requestTimeoutMs = 800;
    const conn = await EtcdConnection.connect({ endpoints: `http://127.0.0.1:${port}`, requestTimeoutMs });
    try {
      for (const [what, f] of [
        ['loadAll', () => new EtcdTopicStore(conn).loadAll()],
        ['initProducerId', () => new EtcdProducerIdManager(conn).initProducerId()],
      ] as const) {
        const t0 = Date.now();
        await assert.rejects(f, (err: unknown) => err instanceof SluiceError && err.code === 'METADATA_UNAVAILABLE');
        const took = Date.now() - t0;
        assert.ok(took >= requestTimeoutMs - 50 && took < requestTimeoutMs + 1000, `${what} failed after ${took} ms`);
      }
    } finally {
      conn.close();
      for (const s of sockets) s.destroy();
      await new Promise((res) => silent.close(res));
    }
    await assert.rejects(new EtcdTopicStore(conn).loadAll(), (err: unknown) => err instanceof SluiceError && err.code === 'CLOSED');
  });
});
