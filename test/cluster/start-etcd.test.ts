/**
 * `sluice start --etcd` against a real etcd (test/etcd.ts), as a user runs it: real broker processes, kafkajs,
 * the records read back from etcd. Each test works under its own key prefix.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { envNameOf } from '../../src/cli/broker-config.js';
import { EtcdConnection } from '../../src/index.js';
import { TEST_BROKER_CONFIG, deadPort, freePort, spawnSluiceStart, type StartedSluice } from '../brokers.js';
import { runSluice } from '../cli/cli-helpers.js';
import { etcdSkip, startEtcd, type EtcdServer } from '../etcd.js';

const skip = etcdSkip('sluice start --etcd tests');

/** The test broker settings as SLUICE_CFG_* variables (plus `more`). */
function envOf(more: Record<string, string> = {}): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries({ ...TEST_BROKER_CONFIG, ...more }).map(([k, v]) => [envNameOf(k), v]));
}

describe('sluice start --etcd', { skip }, () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  const dirs: string[] = [];
  const brokers: StartedSluice[] = [];

  before(async () => {
    etcd = await startEtcd();
    conn = await EtcdConnection.connect({ endpoints: etcd.endpoint, prefix: '/' });
  });
  after(async () => {
    for (const b of brokers) await b.stop('SIGKILL');
    conn?.close();
    await etcd?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function dataDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'sluice-start-etcd-'));
    dirs.push(d);
    return join(d, 'data');
  }
  /** `sluice start` with --etcd on this etcd; resolves with its port once it is ready. */
  async function start(prefix: string, brokerId: number, dir = dataDir(), more: Record<string, string> = {}): Promise<{ proc: StartedSluice; port: number }> {
    const port = await freePort();
    const args = ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dir, '--broker-id', String(brokerId), '--etcd', etcd.endpoint, '--log-level', 'warn'];
    const proc = await spawnSluiceStart(args, envOf({ 'sluice.etcd.prefix': prefix, ...more }));
    brokers.push(proc);
    assert.match(proc.ready, new RegExp(`metadata in etcd ${etcd.endpoint} under ${prefix}, broker\\.id ${brokerId}\\)`));
    return { proc, port };
  }
  /** `sluice start` that must fail: its exit code, stderr and how long it took. */
  async function startFails(args: readonly string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
    const t0 = Date.now();
    const port = await freePort();
    const r = await runSluice(['start', '--port', String(port), '--data-dir', dataDir(), ...args], { timeoutMs: 20_000 });
    return { code: r.code, stderr: r.stderr, ms: Date.now() - t0 };
  }
  /** `sluice start` that must fail, on this etcd under `prefix`. */
  function runStartIn(prefix: string, args: readonly string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
    return startFails(['--etcd', etcd.endpoint, '--config', writeProps({ 'sluice.etcd.prefix': prefix }), ...args]);
  }
  function writeProps(props: Record<string, string>): string {
    const d = mkdtempSync(join(tmpdir(), 'sluice-start-etcd-cfg-'));
    dirs.push(d);
    const f = join(d, 'broker.properties');
    writeFileSync(f, Object.entries({ ...TEST_BROKER_CONFIG, ...props }).map(([k, v]) => `${k}=${v}\n`).join(''));
    return f;
  }

  const kafkaOf = (port: number): Kafka =>
    new Kafka({ clientId: 'start-etcd-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 1000 } });
  const get = (key: string): Promise<string | null> => conn.call(`get ${key}`, (c) => c.get(key).string());
  async function waitGone(key: string, withinMs: number): Promise<number> {
    const t0 = Date.now();
    while ((await get(key)) !== null) {
      assert.ok(Date.now() - t0 < withinMs, `${key} still in etcd after ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - t0;
  }

  test('serves kafkajs with its topics in etcd; a restart on an empty data dir lists them', async () => {
    const prefix = `/t-${randomUUID()}`;
    const first = await start(prefix, 1);
    assert.ok((await get(`${prefix}/brokers/1`)) !== null, 'registered under <prefix>/brokers/1');

    const kafka = kafkaOf(first.port);
    const admin = kafka.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }], waitForLeaders: true }), true);
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'orders', acks: -1, messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `g-${randomUUID()}`, sessionTimeout: 6000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${JSON.stringify(seen)}`)), 15_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(seen.sort(), ['v0', 'v1', 'v2']);

    const record = JSON.parse((await get(`${prefix}/topics/orders`)) ?? 'null') as { name?: string; partitions?: unknown } | null;
    assert.equal(record?.name, 'orders', 'the topic record is in etcd');

    assert.equal((await first.proc.stop()).code, 0);
    assert.equal(await get(`${prefix}/brokers/1`), null, 'a clean stop revokes the registration');

    // Same etcd and prefix, a NEW empty data dir: the topic comes back from etcd. Its records do not: they were
    // only in the first data dir (replication between brokers comes in later slices).
    const second = await start(prefix, 1);
    const admin2 = kafkaOf(second.port).admin();
    await admin2.connect();
    try {
      assert.ok((await admin2.listTopics()).includes('orders'));
      const offsets = await admin2.fetchTopicOffsets('orders');
      assert.deepEqual(offsets.map((o) => [o.partition, o.high]).sort(), [[0, '0'], [1, '0']]);
    } finally {
      await admin2.disconnect();
    }
    assert.equal((await second.proc.stop()).code, 0);
  });

  test('one broker per prefix: another id or the same id refuses to start while it lives; another prefix starts; SIGKILL frees it after the TTL', async () => {
    const prefix = `/t-${randomUUID()}`;
    const first = await start(prefix, 1, dataDir(), { 'broker.session.timeout.ms': '2000' });

    const refused = await runStartIn(prefix, ['--broker-id', '2']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stderr.trim().split('\n').length, 1, `one line: ${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`^sluice start: broker 1 is already registered in etcd under ${prefix} \\(a live broker\\)`));

    const same = await runStartIn(prefix, ['--broker-id', '1']);
    assert.equal(same.code, 1, same.stderr);
    assert.equal(same.stderr.trim().split('\n').length, 1, `one line: ${same.stderr}`);
    assert.match(same.stderr, /^sluice start: broker\.id 1 is already registered in etcd by a live broker/);

    const elsewhere = await start(`/t-${randomUUID()}`, 2);
    const stoppedElsewhere = await elsewhere.proc.stop();
    assert.equal(stoppedElsewhere.code, 0, `${stoppedElsewhere.code} ${elsewhere.proc.child.signalCode}: ${stoppedElsewhere.stderr}`);

    // killed without stopping: the registration stays until its lease's TTL (2 s) passes, then a broker starts
    await first.proc.stop('SIGKILL');
    const goneAfter = await waitGone(`${prefix}/brokers/1`, 6000);
    assert.ok(goneAfter >= 500, `the registration outlived the kill for a while (${goneAfter} ms)`);
    const next = await start(prefix, 2);
    const stopped = await next.proc.stop();
    assert.equal(stopped.code, 0, `${stopped.code} ${next.proc.child.signalCode}: ${stopped.stderr}`);
  });

  test('etcd not there, or silent: one line, non-zero exit, within the bound', async () => {
    const dead = await deadPort();
    const refused = await startFails(['--etcd', `http://127.0.0.1:${dead}`]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stderr.trim().split('\n').length, 1, `one line: ${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`^sluice start: etcd \\(http://127\\.0\\.0\\.1:${dead}\\) (failed|did not answer) register broker 0`));
    assert.ok(refused.ms < 8000, `took ${refused.ms} ms`);

    // accepts connections and never answers: the 3 s bound ends the start
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await startFails(['--etcd', `http://127.0.0.1:${port}`]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, /^sluice start: etcd \(.*\) (did not answer|failed) register broker 0/);
      assert.ok(r.ms < 8000, `took ${r.ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
