/**
 * Kafka's own server.properties files start a real `sluice start` (ZooKeeper mode 3.x, KRaft 3.x and 4.x): keys that
 * do not apply to one node are named in one warning, unknown keys and security keys still refuse, and only
 * SLUICE_CFG_* environment variables are read as config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, runSluice } from './cli-helpers.js';
import { deadPort, spawnSluiceStart } from '../brokers.js';

const CONFIGS = join(REPO_ROOT, 'test', 'cli', 'kafka-configs');

// host: the ZooKeeper-mode file leaves `listeners` commented out (Sluice's default, 127.0.0.1); the KRaft files
// listen on all interfaces (PLAINTEXT://:9092), and --port replaces only the port.
const cases: { file: string; host: string; ignored: string[] }[] = [
  { file: 'kafka-3-zookeeper.properties', host: '127.0.0.1', ignored: ['zookeeper.connect', 'zookeeper.connection.timeout.ms', 'num.network.threads', 'offsets.topic.replication.factor'] },
  { file: 'kafka-3-kraft.properties', host: '0.0.0.0', ignored: ['process.roles', 'controller.quorum.voters', 'num.io.threads', 'transaction.state.log.min.isr'] },
  { file: 'kafka-4.properties', host: '0.0.0.0', ignored: ['process.roles', 'controller.quorum.bootstrap.servers', 'share.coordinator.state.topic.replication.factor'] },
];

for (const c of cases) {
  test(`Kafka's ${c.file} starts a broker; keys without effect are named in one warning`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-kafka-config-'));
    try {
      const port = await deadPort();
      // The file's advertised.listeners names localhost:9092; the environment points clients at this test's port.
      // SLUICE_DIR stands for a wrapper script's own variable: not a config key, so it must not refuse the start.
      const b = await spawnSluiceStart(
        ['--config', join(CONFIGS, c.file), '--port', String(port), '--data-dir', join(dir, 'data')],
        { SLUICE_CFG_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`, SLUICE_CFG_NUM_PARTITIONS: '3', SLUICE_DIR: dir },
      );
      try {
        assert.equal(b.ready, `sluice: listening on ${c.host}:${port} (data in ${join(dir, 'data')})\n`);
        const bootstrap = ['--bootstrap-server', `127.0.0.1:${port}`];
        const created = await runSluice(['topics', 'create', 'from-kafka-config', ...bootstrap]);
        assert.equal(created.code, 0, created.stderr);
        const described = await runSluice(['topics', 'describe', 'from-kafka-config', ...bootstrap]);
        assert.equal(described.code, 0, described.stderr);
        assert.match(described.stdout, /Topic: from-kafka-config\s.*Partitions: 3\s/, 'num.partitions from SLUICE_CFG_NUM_PARTITIONS');
      } finally {
        const { code, stderr } = await b.stop();
        assert.equal(code, 0, stderr);
        const warnings = stderr.split('\n').filter((l) => l.includes('do not apply to a single Sluice node'));
        assert.equal(warnings.length, 1, stderr);
        for (const k of c.ignored) assert.ok(warnings[0]!.includes(k), `${k} named in ${warnings[0]}`);
        assert.ok(!warnings[0]!.includes('log.retention.hours'), 'keys that apply are not in the warning');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a Kafka file with a typo, a security key or an SSL listener still refuses, with a one-line message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kafka-config-'));
  try {
    const refusals: [string, RegExp][] = [
      ['zookeeper.connect=localhost:2181\nlog.retention.hourz=1\n', /log\.retention\.hourz: unknown broker config key/],
      ['ssl.keystore.location=/etc/kafka/keystore.jks\n', /ssl\.keystore\.location: security settings are not supported yet/],
      ['listeners=SSL://:9093\n', /listeners: listener SSL uses SSL; Sluice serves PLAINTEXT only/],
      ['listeners=CLIENT://:9093\nlistener.security.protocol.map=CLIENT:SASL_SSL\n', /listener CLIENT uses SASL_SSL/],
      ['process.roles=controller\nlisteners=CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\n', /process\.roles: "controller" has no broker role/],
    ];
    for (const [text, expected] of refusals) {
      const file = join(dir, 'server.properties');
      writeFileSync(file, text);
      const r = await runSluice(['start', '--config', file, '--data-dir', join(dir, 'data'), '--port', '0']);
      assert.notEqual(r.code, 0, text);
      assert.match(r.stderr, expected);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
