/** The `sluice` binary's help, version and usage exits (no broker needed), and the default bootstrap server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runSluice } from './cli-helpers.js';
import { defaultBootstrap } from '../../src/cli/commands/common.js';

test('`<group> <sub> --help` prints the subcommand\'s own help', async () => {
  const r = await runSluice(['topics', 'create', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Usage: sluice topics create TOPIC \[--partitions N\]/);
  assert.match(r.stdout, /--if-not-exists/);
  assert.match(r.stdout, /--replication-factor N/);
  // not the group's: no subcommand list, no other subcommand's options
  assert.doesNotMatch(r.stdout, /Subcommands:/);
  assert.doesNotMatch(r.stdout, /--include-internal|--delete-config|--if-exists\b/);

  // every spelling of one subcommand's help prints the same text
  for (const args of [['topics', 'create', '-h'], ['topics', 'help', 'create'], ['help', 'topics', 'create'], ['topics', '--help', 'create']]) {
    const other = await runSluice(args);
    assert.equal(other.code, 0, args.join(' '));
    assert.equal(other.stdout, r.stdout, args.join(' '));
  }

  const g = await runSluice(['groups', 'reset-offsets', '--help']);
  assert.equal(g.code, 0);
  assert.match(g.stdout, /^Usage: sluice groups reset-offsets --group G --topic T/);
  assert.match(g.stdout, /--to-datetime ISO/);
  assert.doesNotMatch(g.stdout, /--state/);
  const p = await runSluice(['perf', 'consume', '--help']);
  assert.match(p.stdout, /^Usage: sluice perf consume TOPIC/);
  assert.doesNotMatch(p.stdout, /--record-size/);
});

test('`<group> --help` still prints the whole group\'s help', async () => {
  for (const args of [['topics', '--help'], ['help', 'topics'], ['topics', 'help']]) {
    const r = await runSluice(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: sluice topics <create\|list\|describe\|delete\|alter> \[options\]/, args.join(' '));
    assert.match(r.stdout, /Subcommands:\n {2}sluice topics create TOPIC/);
    assert.match(r.stdout, /sluice topics alter TOPIC/);
    assert.match(r.stdout, /Run `sluice topics <subcommand> --help` for one subcommand's options\./);
    assert.match(r.stdout, /--include-internal/);
  }
});

test('a plain command\'s --help, and the main help', async () => {
  let r = await runSluice(['consume', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: sluice consume TOPIC/);
  r = await runSluice(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: sluice <command> \[options\]/);
  r = await runSluice([]);
  assert.equal(r.code, 2, 'no command is a usage error');
  assert.match(r.stdout, /^Usage: sluice <command>/);
});

test('an unknown command or subcommand exits 2 with one line on stderr', async () => {
  let r = await runSluice(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'sluice: unknown command "frobnicate" (see sluice --help)\n');
  r = await runSluice(['help', 'frobnicate']);
  assert.equal(r.code, 2);
  r = await runSluice(['topics', 'help', 'frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown subcommand "frobnicate"/);
  r = await runSluice(['topics', 'create', '--no-such-flag', '--help']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split('\n').length, 2, 'one line');
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await runSluice([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test('without --bootstrap-server the tools connect where SLUICE_CFG_LISTENERS points', () => {
  assert.equal(defaultBootstrap({}), '127.0.0.1:9092');
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://127.0.0.1:19092' }), '127.0.0.1:19092');
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://0.0.0.0:9093' }), '127.0.0.1:9093', 'a wildcard listener is reached locally');
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://:9094' }), '127.0.0.1:9094');
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://[::1]:9095' }), '[::1]:9095');
  assert.equal(
    defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://0.0.0.0:9092', SLUICE_CFG_ADVERTISED_LISTENERS: 'PLAINTEXT://broker.local:9092' }),
    'broker.local:9092',
    'the advertised address wins, as in Metadata',
  );
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'PLAINTEXT://127.0.0.1:0' }), '127.0.0.1:9092', 'port 0 is not knowable');
  assert.equal(defaultBootstrap({ SLUICE_CFG_LISTENERS: 'garbage' }), '127.0.0.1:9092');
});
