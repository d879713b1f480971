/** `sluice groups ...` against a real `sluice start` broker. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../brokers.js';

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker();
  await broker.run(['topics', 'create', 'events', '--partitions', '2']);
  // 3 records on partition 0, 5 on partition 1
  await broker.run(['produce', 'events', '--partition', '0'], { input: 'a\nb\nc\n' });
  await broker.run(['produce', 'events', '--partition', '1'], { input: 'd\ne\nf\ng\nh\n' });
});
after(async () => {
  await broker?.stop();
});

/** TOPIC PARTITION CURRENT LOG-END LAG rows of `groups describe`. */
function offsetRows(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('events '))
    .map((l) => l.trim().split(/\s+/).slice(0, 5));
}

test('list, describe with lag, reset-offsets (plan, dry run, execute), delete', async () => {
  let r = await broker.run(['consume', 'events', '--group', 'app', '--from-beginning', '--max-messages', '8']);
  assert.equal(r.code, 0, r.stderr);
  await broker.run(['produce', 'events', '--partition', '1'], { input: 'i\nj\n' });

  r = await broker.run(['groups', 'list']);
  assert.equal(r.stdout, 'app\n');
  r = await broker.run(['groups', 'list', '--state']);
  assert.match(r.stdout, /^GROUP\s+STATE\s+PROTOCOL-TYPE\napp\s+Empty\s+consumer\n$/);

  r = await broker.run(['groups', 'describe', 'app']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Group: app\tState: Empty\tProtocol: consumer\//);
  assert.deepEqual(offsetRows(r.stdout), [
    ['events', '0', '3', '3', '0'],
    ['events', '1', '5', '7', '2'],
  ]);

  r = await broker.run(['groups', 'reset-offsets', '--group', 'app', '--topic', 'events', '--to-earliest']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Dry run/);
  assert.match(r.stdout, /app\s+events\s+1\s+5\s+0/);
  r = await broker.run(['groups', 'reset-offsets', '--group', 'app', '--topic', 'events', '--to-earliest', '--dry-run']);
  assert.equal(r.code, 0);
  r = await broker.run(['groups', 'describe', 'app']);
  assert.deepEqual(offsetRows(r.stdout)[1], ['events', '1', '5', '7', '2'], 'dry run changed nothing');

  r = await broker.run(['groups', 'reset-offsets', '--group', 'app', '--topic', 'events', '--to-offset', '4', '--execute']);
  assert.equal(r.code, 0, r.stderr);
  r = await broker.run(['groups', 'describe', 'app']);
  assert.deepEqual(offsetRows(r.stdout), [
    ['events', '0', '3', '3', '0'], // clamped to the log end
    ['events', '1', '4', '7', '3'],
  ]);
  r = await broker.run(['groups', 'reset-offsets', '--group', 'app', '--topic', 'events', '--partition', '1', '--to-latest', '--execute']);
  assert.equal(r.code, 0, r.stderr);
  r = await broker.run(['groups', 'reset-offsets', '--group', 'app', '--topic', 'events', '--to-datetime', '2000-01-01T00:00:00Z', '--execute']);
  assert.equal(r.code, 0, r.stderr);
  r = await broker.run(['groups', 'describe', 'app']);
  assert.deepEqual(offsetRows(r.stdout).map((row) => row[2]), ['0', '0']);

  // the consumer resumes from the reset position
  r = await broker.run(['consume', 'events', '--group', 'app', '--max-messages', '10']);
  assert.equal(r.stdout.trim().split('\n').length, 10);

  r = await broker.run(['groups', 'delete', 'app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Deleted group app.\n');
  r = await broker.run(['groups', 'list']);
  assert.equal(r.stdout, '');
});

test('describe shows members and assignment of a running consumer; reset refuses an active group', async () => {
  // The consumer runs until the checks are done (Ctrl-C then), however slowly each `sluice` command starts.
  const ctrlC = new AbortController();
  const running = broker.run(['consume', 'events', '--group', 'live', '--from-beginning', '--client-id', 'watcher'], { interrupt: ctrlC.signal, timeoutMs: 120_000 });
  try {
    let desc = '';
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await broker.run(['groups', 'describe', 'live']);
      if (r.code === 0 && /State: Stable/.test(r.stdout)) {
        desc = r.stdout;
        break;
      }
    }
    assert.match(desc, /Members: 1/);
    assert.match(desc, /CONSUMER-ID\s+HOST\s+CLIENT-ID\s+#PARTITIONS\s+ASSIGNMENT/);
    assert.match(desc, /watcher\s+2\s+events\(0,1\)/);
    const reset = await broker.run(['groups', 'reset-offsets', '--group', 'live', '--topic', 'events', '--to-earliest', '--execute']);
    assert.equal(reset.code, 1);
    assert.match(reset.stderr, /group 'live' has active members/);
    const del = await broker.run(['groups', 'delete', 'live']);
    assert.equal(del.code, 1);
    assert.match(del.stderr, /NON_EMPTY_GROUP/);
  } finally {
    ctrlC.abort();
  }
  const done = await running;
  assert.equal(done.code, 0, done.stderr);
});

test('errors: unknown group, unknown topic, bad flags', async () => {
  let r = await broker.run(['groups', 'describe', 'nobody']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "sluice groups: group 'nobody': GROUP_ID_NOT_FOUND: the group id does not exist\n");
  r = await broker.run(['groups', 'delete', 'nobody']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /GROUP_ID_NOT_FOUND/);
  r = await broker.run(['groups', 'reset-offsets', '--group', 'x', '--topic', 'ghost', '--to-earliest']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /topic 'ghost': UNKNOWN_TOPIC_OR_PARTITION/);

  const usage: [string[], RegExp][] = [
    [['groups', 'describe'], /missing GROUP/],
    [['groups', 'reset-offsets', '--topic', 'events', '--to-earliest'], /missing --group/],
    [['groups', 'reset-offsets', '--group', 'g', '--to-earliest'], /missing --topic/],
    [['groups', 'reset-offsets', '--group', 'g', '--topic', 'events'], /exactly one of/],
    [['groups', 'reset-offsets', '--group', 'g', '--topic', 'events', '--to-earliest', '--to-latest'], /exactly one of/],
    [['groups', 'reset-offsets', '--group', 'g', '--topic', 'events', '--to-earliest', '--dry-run', '--execute'], /exclude each other/],
    [['groups', 'reset-offsets', '--group', 'g', '--topic', 'events', '--to-offset', 'x'], /--to-offset expects/],
    [['groups', 'list', '--execute'], /does not apply/],
  ];
  for (const [args, re] of usage) {
    r = await broker.run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
