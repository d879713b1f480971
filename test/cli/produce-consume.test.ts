/** `sluice produce` and `sluice consume` against a real `sluice start` broker. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionForKey } from '../../src/client/partitioner.js';
import { startTestBroker, type TestBroker } from '../brokers.js';

let broker: TestBroker;
let tmp: string;
before(async () => {
  broker = await startTestBroker();
  tmp = mkdtempSync(join(tmpdir(), 'sluice-pc-'));
});
after(async () => {
  await broker?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface JsonRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}
const parseJson = (out: string): JsonRecord[] => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonRecord);

test('keyed lines land on murmur2(key) % partitions, like the Java client; headers and --verbose offsets', async () => {
  await broker.run(['topics', 'create', 'keyed', '--partitions', '4']);
  const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
  const input = keys.map((k, i) => `${k}::v${i}`).join('\n') + '\n';
  const r = await broker.run(['produce', 'keyed', '--key-separator', '::', '--header', 'src=cli', '--header', 'n=1', '--verbose'], { input });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, keys.length);
  keys.forEach((k, i) => assert.match(lines[i]!, new RegExp(`^keyed-${partitionForKey(k, 4)}@\\d+$`)));

  const c = await broker.run(['consume', 'keyed', '--from-beginning', '--max-messages', String(keys.length), '--format', 'json']);
  assert.equal(c.code, 0, c.stderr);
  const recs = parseJson(c.stdout);
  assert.equal(recs.length, keys.length);
  for (const rec of recs) {
    const i = keys.indexOf(rec.key!);
    assert.ok(i >= 0);
    assert.equal(rec.value, `v${i}`);
    assert.equal(rec.partition, partitionForKey(rec.key!, 4));
    assert.deepEqual(rec.headers, { src: 'cli', n: '1' });
  }
  assert.match(c.stderr, /Processed a total of 8 messages/);
});

test('from a file, every compression codec, acks 0/1/all; consume formats and positions', async () => {
  await broker.run(['topics', 'create', 'codecs', '--partitions', '1']);
  const file = join(tmp, 'lines.txt');
  const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  const acks = ['all', '1', '0', 'all', '1'];
  for (const [i, codec] of codecs.entries()) {
    writeFileSync(file, `${codec}-1\n${codec}-2\n`);
    const r = await broker.run(['produce', 'codecs', '--file', file, '--compression', codec, '--acks', acks[i]!]);
    assert.equal(r.code, 0, `${codec}: ${r.stderr}`);
  }
  const expected = codecs.flatMap((c) => [`${c}-1`, `${c}-2`]);
  let c = await broker.run(['consume', 'codecs', '--from-beginning', '--max-messages', '10']);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.stdout.trim().split('\n'), expected);

  c = await broker.run(['consume', 'codecs', '--partition', '0', '--offset', '7', '--max-messages', '2', '--format', 'kv']);
  assert.equal(c.code, 0, c.stderr);
  const kv = c.stdout.trim().split('\n');
  assert.equal(kv.length, 2);
  assert.match(kv[0]!, /^partition:0\toffset:7\ttimestamp:\d+\tkey:null\theaders:\tvalue:lz4-2$/);
  assert.match(kv[1]!, /^partition:0\toffset:8\t.*value:zstd-1$/);

  // idle timeout: 10 records exist, ask for more, exit 0 once idle
  c = await broker.run(['consume', 'codecs', '--from-beginning', '--timeout-ms', '500']);
  assert.equal(c.code, 0);
  assert.equal(c.stdout.trim().split('\n').length, 10);
  // default start is the end of the log: nothing to print
  c = await broker.run(['consume', 'codecs', '--timeout-ms', '300']);
  assert.equal(c.code, 0);
  assert.equal(c.stdout, '');
});

test('--from-time starts at the first record at or after the time', async () => {
  await broker.run(['topics', 'create', 'timed', '--partitions', '1']);
  await broker.run(['produce', 'timed'], { input: 'old1\nold2\n' });
  await new Promise((r) => setTimeout(r, 50));
  const mid = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 50));
  await broker.run(['produce', 'timed'], { input: 'new1\n' });
  const c = await broker.run(['consume', 'timed', '--from-time', mid, '--timeout-ms', '300']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'new1\n');
  const future = await broker.run(['consume', 'timed', '--from-time', '2999-01-01T00:00:00Z', '--timeout-ms', '200']);
  assert.equal(future.stdout, '');
});

test('explicit --partition for produce; auto-created topic; empty and special lines', async () => {
  const r = await broker.run(['produce', 'auto-made', '--verbose'], { input: 'x\n\n{"a":1}\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3);
  const c = await broker.run(['consume', 'auto-made', '--from-beginning', '--max-messages', '3', '--format', 'json']);
  assert.deepEqual(parseJson(c.stdout).map((x) => x.value), ['x', '', '{"a":1}']);

  await broker.run(['topics', 'create', 'parts', '--partitions', '3']);
  const p = await broker.run(['produce', 'parts', '--partition', '2', '--verbose'], { input: 'a\nb\n' });
  assert.equal(p.stdout, 'parts-2@0\nparts-2@1\n');
  const only = await broker.run(['consume', 'parts', '--partition', '2', '--from-beginning', '--timeout-ms', '300', '--format', 'json']);
  assert.deepEqual(parseJson(only.stdout).map((x) => [x.partition, x.value]), [[2, 'a'], [2, 'b']]);
});

test('consume --group commits and resumes; Ctrl-C exits cleanly and commits', async () => {
  await broker.run(['topics', 'create', 'grouped', '--partitions', '2']);
  await broker.run(['produce', 'grouped', '--key-separator', ':'], { input: 'a:1\nb:2\nc:3\nd:4\ne:5\nf:6\n' });
  let c = await broker.run(['consume', 'grouped', '--group', 'readers', '--from-beginning', '--max-messages', '4']);
  assert.equal(c.code, 0, c.stderr);
  const first = c.stdout.trim().split('\n');
  assert.equal(first.length, 4);
  c = await broker.run(['consume', 'grouped', '--group', 'readers', '--timeout-ms', '1500']);
  assert.equal(c.code, 0, c.stderr);
  const rest = c.stdout.trim().split('\n').filter(Boolean);
  assert.deepEqual([...first, ...rest].sort(), ['1', '2', '3', '4', '5', '6']);

  // a long-running consumer stopped with SIGINT: exit 0, and its position is committed
  await broker.run(['produce', 'grouped'], { input: 'seven\n' });
  c = await broker.run(['consume', 'grouped', '--group', 'readers'], { sigintAfterMs: 2500 });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'seven\n');
  const d = await broker.run(['groups', 'describe', 'readers']);
  const lags = d.stdout.split('\n').filter((l) => l.startsWith('grouped')).map((l) => l.split(/\s+/)[4]);
  assert.deepEqual(lags, ['0', '0']);
});

test('errors: unknown topic, missing file, bad flags, bad input', async () => {
  let r = await broker.run(['consume', 'nowhere', '--timeout-ms', '100']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "sluice consume: topic 'nowhere': UNKNOWN_TOPIC_OR_PARTITION: this server does not host this topic-partition\n");
  r = await broker.run(['consume', 'parts', '--partition', '9', '--timeout-ms', '100']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /partition 9 of topic 'parts'/);
  r = await broker.run(['produce', 'parts', '--file', join(tmp, 'missing.txt')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^sluice produce: cannot read .*missing\.txt: ENOENT\n$/);
  r = await broker.run(['produce', 'parts', '--key-separator', ':'], { input: 'k:v\nno separator here\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line 2 has no key separator ":"/);
  r = await broker.run(['produce', 'parts', '--partition', '7'], { input: 'x\n' });
  assert.equal(r.code, 2);

  const usage: string[][] = [
    ['consume'],
    ['consume', 'parts', '--format', 'xml'],
    ['consume', 'parts', '--offset', '3'],
    ['consume', 'parts', '--offset', '-1', '--partition', '0'],
    ['consume', 'parts', '--from-beginning', '--from-time', '2024-01-01T00:00:00Z'],
    ['consume', 'parts', '--from-time', 'yesterday'],
    ['consume', 'parts', '--group', 'g', '--partition', '1'],
    ['consume', 'parts', '--max-messages', '0'],
    ['produce'],
    ['produce', 'parts', '--compression', 'brotli'],
    ['produce', 'parts', '--acks', '2'],
  ];
  for (const args of usage) {
    r = await broker.run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^sluice ${args[0]}: .*\\n$`));
  }
});
