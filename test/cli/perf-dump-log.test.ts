/** `sluice perf produce|consume` against a real broker, and `sluice dump-log` on the files it wrote. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSluice } from './cli-helpers.js';
import { startTestBroker, type TestBroker } from '../brokers.js';

let broker: TestBroker;
let tmp: string;
before(async () => {
  broker = await startTestBroker();
  tmp = mkdtempSync(join(tmpdir(), 'sluice-dl-'));
});
after(async () => {
  await broker?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const seg = (topic: string, partition: number, ext: string): string => join(broker.dataDir, `${topic}-${partition}`, `00000000000000000000${ext}`);

test('perf produce then perf consume: counts, rates and latency percentiles', async () => {
  await broker.run(['topics', 'create', 'load', '--partitions', '3']);
  const p = await broker.run(['perf', 'produce', 'load', '--num-records', '20000', '--record-size', '64', '--acks', '1', '--batch-size', '4096', '--compression', 'lz4', '--json']);
  assert.equal(p.code, 0, p.stderr);
  const res = JSON.parse(p.stdout) as { records: number; bytes: number; recordsPerSec: number; mbPerSec: number; latencyMs: Record<string, number> };
  assert.equal(res.records, 20000);
  assert.equal(res.bytes, 20000 * 64);
  assert.ok(res.recordsPerSec > 0 && res.mbPerSec > 0);
  for (const k of ['avg', 'p50', 'p95', 'p99', 'p999', 'max']) assert.ok(res.latencyMs[k]! >= 0, k);
  assert.ok(res.latencyMs.p50! <= res.latencyMs.p99! && res.latencyMs.p99! <= res.latencyMs.max!);

  const d = await broker.run(['topics', 'describe', 'load']);
  const ends = d.stdout.trim().split('\n').slice(2).map((l) => Number(l.trim().split(/\s+/)[5]));
  assert.equal(ends.reduce((a, b) => a + b, 0), 20000);

  const c = await broker.run(['perf', 'consume', 'load', '--num-records', '20000']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^20000 records consumed in [\d.]+ s, [\d.]+ records\/s \([\d.]+ MB\/s\), .* ms p50, .* ms p95, .* ms p99, .* ms p99\.9\.\n$/);
  const dec = await broker.run(['perf', 'consume', 'load', '--num-records', '20000', '--decode', '--json']);
  assert.equal((JSON.parse(dec.stdout) as { records: number; bytes: number }).bytes, 20000 * 64);
});

test('perf produce with --duration and --throughput prints progress every second', async () => {
  const r = await broker.run(['perf', 'produce', 'paced', '--duration', '2', '--throughput', '2000', '--record-size', '10', '--acks', 'all']);
  assert.equal(r.code, 0, r.stderr);
  const progress = r.stderr.split('\n').filter((l) => /records\/s .*MB\/s.*avg latency/.test(l));
  assert.ok(progress.length >= 1, r.stderr);
  const sent = Number(/^(\d+) records sent/.exec(r.stdout)?.[1]);
  assert.ok(sent >= 2000 && sent <= 4500, `throughput cap held: ${sent}`);
});

test('perf usage errors', async () => {
  for (const args of [['perf', 'produce', 't'], ['perf', 'produce', '--num-records', '5'], ['perf', 'produce', 't', '--num-records', '5', '--throughput', '0'], ['perf', 'bench']]) {
    const r = await broker.run(args);
    assert.equal(r.code, 2, args.join(' '));
  }
  const r = await broker.run(['perf', 'consume', 'missing-topic', '--num-records', '5']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
});

test('dump-log: batches of a .log, records with --deep, index files checked against the log', async () => {
  await broker.run(['topics', 'create', 'dump', '--partitions', '1', '--config', 'index.interval.bytes=1']);
  await broker.run(['produce', 'dump', '--key-separator', '=', '--header', 'h=1'], { input: 'k1=hello\nk2=world\n' });
  await broker.run(['produce', 'dump', '--compression', 'gzip'], { input: 'zipped\n' });
  await broker.run(['produce', 'dump'], { input: 'x'.repeat(300) + '\n' });

  let r = await runSluice(['dump-log', seg('dump', 0, '.log')]);
  assert.equal(r.code, 0, r.stderr);
  const batches = r.stdout.split('\n').filter((l) => l.startsWith('baseOffset:'));
  assert.equal(batches.length, 3);
  // `sluice produce` is idempotent with its default acks=all: each run numbers its batches from sequence 0.
  assert.match(batches[0]!, /^baseOffset: 0 lastOffset: 1 count: 2 position: 0 size: \d+ CreateTime: \d+ .*producerId: \d+ producerEpoch: 0 baseSequence: 0 lastSequence: 1 .*compresscodec: none isTransactional: false isControl: false magic: 2 crc: \d+ isvalid: true$/);
  assert.match(batches[1]!, /^baseOffset: 2 lastOffset: 2 count: 1 .*compresscodec: gzip/);
  assert.match(r.stdout, /3 batches, 4 records/);
  assert.match(r.stdout, /No problems found/);

  r = await runSluice(['dump-log', seg('dump', 0, '.log'), '--deep', '--max-value-chars', '20']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| offset: 0 CreateTime: \d+ keySize: 2 valueSize: 5 sequence: 0 headerKeys: \[h\] key: k1 payload: hello headers: h=1/);
  assert.match(r.stdout, /\| offset: 2 .* payload: zipped/);
  assert.match(r.stdout, /payload: x{20}\.\.\. \(300 bytes\)/);

  r = await runSluice(['dump-log', seg('dump', 0, '.index')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const entries = r.stdout.split('\n').filter((l) => l.startsWith('offset:'));
  assert.ok(entries.length >= 2, r.stdout);
  assert.match(r.stdout, /checked against 00000000000000000000\.log \(3 batches\)/);

  r = await runSluice(['dump-log', seg('dump', 0, '.timeindex')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /timestamp: \d+ offset: \d+/);
});

test('dump-log finds corruption: bad CRC in a .log, an index entry off a batch boundary', async () => {
  const dir = join(tmp, 'dump-0');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  for (const f of readdirSync(join(broker.dataDir, 'dump-0'))) {
    if (f.endsWith('.log') || f.endsWith('.index') || f.endsWith('.timeindex')) copyFileSync(join(broker.dataDir, 'dump-0', f), join(dir, f));
  }
  const log = join(dir, '00000000000000000000.log');
  const bytes = readFileSync(log);
  bytes[70] = bytes[70]! ^ 0xff; // inside the first batch's records
  writeFileSync(log, bytes);
  let r = await runSluice(['dump-log', log]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /position: 0 .*isvalid: false/);
  assert.match(r.stderr, /problem: position 0: CRC mismatch/);

  const idx = join(dir, '00000000000000000000.index');
  const ib = readFileSync(idx);
  ib.writeInt32BE(ib.readInt32BE(12) + 3, 12); // second entry's position
  writeFileSync(idx, ib);
  r = await runSluice(['dump-log', idx]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /entry 1: position \d+ is not at a batch boundary/);
});

test('dump-log errors: missing file exit 1 in one line, no argument exit 2', async () => {
  let r = await runSluice(['dump-log', join(tmp, 'nope.log')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^sluice dump-log: cannot read .*nope\.log: no such file\n$/);
  r = await runSluice(['dump-log', tmp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is a directory \(`sluice verify` checks a whole data directory\)/);
  r = await runSluice(['dump-log']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing PATH argument/);
});
