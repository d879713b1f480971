/** `sluice topics ...` and the CLI-wide error behaviour, against a real `sluice start` broker. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSluice } from './cli-helpers.js';
import { deadPort, startTestBroker, type TestBroker } from '../brokers.js';

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker();
});
after(async () => {
  await broker?.stop();
});

test('create, list, describe, alter, delete', async () => {
  let r = await broker.run(['topics', 'create', 'orders', '--partitions', '3', '--replication-factor', '1', '--config', 'retention.ms=3600000', '--config', 'cleanup.policy=delete']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Created topic orders with 3 partitions.\n');

  r = await broker.run(['topics', 'list']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'orders\n');
  r = await broker.run(['topics', 'list', '--include-internal']);
  assert.match(r.stdout, /^__consumer_offsets\norders\n$/);

  await broker.run(['produce', 'orders', '--partition', '2'], { input: 'a\nb\nc\n' });
  r = await broker.run(['topics', 'describe', 'orders']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Topic: orders\tTopicId: [0-9a-f-]{36}\tPartitions: 3\tReplicationFactor: 1\tConfigs: .*retention\.ms=3600000/);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines[1]!.trim().split(/\s+/), ['Partition', 'Leader', 'Replicas', 'Isr', 'LogStartOffset', 'LogEndOffset', 'Size']);
  const rows = lines.slice(2).map((l) => l.trim().split(/\s+/));
  // Size (bytes, from DescribeLogDirs) is checked apart: the rest is exact.
  assert.deepEqual(
    rows.map((row) => row.slice(0, 6)),
    [
      ['0', '0', '0', '0', '0', '0'],
      ['1', '0', '0', '0', '0', '0'],
      ['2', '0', '0', '0', '0', '3'],
    ],
  );
  const sizes = rows.map((row) => Number(row[6]));
  for (const s of sizes) assert.ok(Number.isInteger(s) && s >= 0, `size column: ${r.stdout}`);
  // One batch of three one-byte records: more than a batch header (61 bytes), far less than a page.
  assert.ok(sizes[2]! > 61 && sizes[2]! < 4096, `partition 2 size ${sizes[2]}`);
  assert.ok(sizes[2]! > sizes[0]! && sizes[2]! > sizes[1]!, `sizes ${sizes.join(',')}`);

  r = await broker.run(['topics', 'alter', 'orders', '--partitions', '5', '--config', 'retention.ms=7200000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /now has 5 partitions/);
  r = await broker.run(['topics', 'describe', 'orders']);
  assert.match(r.stdout, /Partitions: 5\t.*retention\.ms=7200000/);
  r = await broker.run(['topics', 'alter', 'orders', '--delete-config', 'retention.ms']);
  assert.equal(r.code, 0, r.stderr);
  r = await broker.run(['topics', 'describe', 'orders']);
  assert.doesNotMatch(r.stdout, /retention\.ms/);
  r = await broker.run(['topics', 'alter', 'orders', '--partitions', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /INVALID_PARTITIONS/);

  r = await broker.run(['topics', 'delete', 'orders']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Deleted topic orders.\n');
  r = await broker.run(['topics', 'list']);
  assert.equal(r.stdout, '');
});

test('existing and missing topics: clear errors, exit 1, --if-(not-)exists', async () => {
  await broker.run(['topics', 'create', 'dup']);
  let r = await broker.run(['topics', 'create', 'dup']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^sluice topics: topic 'dup': TOPIC_ALREADY_EXISTS: .*\n$/);
  r = await broker.run(['topics', 'create', 'dup', '--if-not-exists']);
  assert.equal(r.code, 0);

  for (const args of [['describe', 'ghost'], ['delete', 'ghost'], ['alter', 'ghost', '--partitions', '3']]) {
    r = await broker.run(['topics', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^sluice topics: topic 'ghost': UNKNOWN_TOPIC_OR_PARTITION: .*\n$/, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  r = await broker.run(['topics', 'delete', 'ghost', '--if-exists']);
  assert.equal(r.code, 0);
  r = await broker.run(['topics', 'create', 'bad-config', '--config', 'retention.ms=soon']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /INVALID_CONFIG/);
});

test('broker not reachable: one line, exit 1, no stack trace (every client command)', async () => {
  const port = await deadPort();
  const cases: [string, string[]][] = [
    ['topics', ['topics', 'list']],
    ['produce', ['produce', 't']],
    ['consume', ['consume', 't']],
    ['groups', ['groups', 'list']],
    ['perf', ['perf', 'produce', 't', '--num-records', '10']],
  ];
  for (const [name, args] of cases) {
    const r = await runSluice([...args, '--bootstrap-server', `127.0.0.1:${port}`]);
    assert.equal(r.code, 1, name);
    assert.equal(r.stderr, `sluice ${name}: cannot connect to 127.0.0.1:${port} (ECONNREFUSED)\n`);
  }
});

test('usage errors exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['topics'], /^sluice topics: missing subcommand/],
    [['topics', 'frobnicate'], /unknown subcommand "frobnicate"/],
    [['topics', 'create'], /create: missing TOPIC argument/],
    [['topics', 'create', 't', '--partitions', 'many'], /--partitions expects an integer/],
    [['topics', 'create', 't', '--partitions', '0'], /--partitions must be an integer >= 1/],
    [['topics', 'create', 't', '--config', 'novalue'], /--config expects KEY=VALUE/],
    [['topics', 'list', '--partitions', '3'], /option --partitions does not apply to "topics list"/],
    [['topics', 'list', '--no-such-flag'], /Unknown option '--no-such-flag'/],
    [['topics', 'alter', 't'], /nothing to alter/],
    [['topics', 'delete'], /missing TOPIC/],
  ];
  for (const [args, re] of cases) {
    const r = await broker.run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
  }
});

test('help: group, subcommand and per-command, generated from the definitions', async () => {
  let r = await runSluice(['topics', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: sluice topics <create\|list\|describe\|delete\|alter>/);
  assert.match(r.stdout, /sluice topics create TOPIC \[--partitions N\]/);
  assert.match(r.stdout, /--bootstrap-server HOST:PORT/);
  r = await runSluice(['topics', 'help', 'alter']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: sluice topics alter TOPIC/);
  assert.match(r.stdout, /--delete-config KEY/);
  assert.doesNotMatch(r.stdout, /--if-not-exists/);
  for (const cmd of ['produce', 'consume', 'groups', 'perf', 'dump-log']) {
    r = await runSluice([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`^Usage: sluice ${cmd}`));
  }
  r = await runSluice(['--help']);
  for (const cmd of ['topics', 'produce', 'consume', 'groups', 'perf', 'dump-log']) assert.match(r.stdout, new RegExp(`\\n  ${cmd} `));
});
