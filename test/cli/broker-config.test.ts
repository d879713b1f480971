import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromEnv, parseProperties, resolveBrokerConfig } from '../../src/cli/broker-config.js';
import { ConfigError } from '../../src/errors.js';

test('properties files parse with Kafka syntax: comments, separators, continuations', () => {
  const p = parseProperties('# comment\n! also\nlog.dirs=/tmp/x\nnum.partitions: 3\nlisteners = PLAINTEXT://0.0.0.0:9093\nlog.cleanup.policy=delete,\\\n  compact\n');
  assert.deepEqual(p, {
    'log.dirs': '/tmp/x',
    'num.partitions': '3',
    'listeners': 'PLAINTEXT://0.0.0.0:9093',
    'log.cleanup.policy': 'delete,compact',
  });
});

test('defaults match Kafka and derive topic defaults', () => {
  const c = resolveBrokerConfig();
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 9092);
  assert.equal(c.dataDir, './sluice-data');
  assert.equal(c.topicDefaults['retention.ms'], String(168 * 3600000));
  assert.equal(c.topicDefaults['segment.bytes'], '1073741824');
  assert.equal(c.autoCreateTopics, true);
  assert.equal(c.topicDefaults['flush.messages'], undefined);
  assert.equal(c.producerIdExpirationMs, 86400000);
  assert.equal(resolveBrokerConfig({ 'producer.id.expiration.ms': '60000' }).producerIdExpirationMs, 60000);
  assert.throws(() => resolveBrokerConfig({ 'producer.id.expiration.ms': '0' }), (e: unknown) => e instanceof ConfigError && /producer\.id\.expiration\.ms/.test(e.message));
});

test('later sources win; retention ms beats minutes beats hours', () => {
  const c = resolveBrokerConfig(
    { 'log.retention.hours': '1', 'num.partitions': '2' },
    { 'log.retention.minutes': '5' },
    { 'num.partitions': '4', 'listeners': 'PLAINTEXT://0.0.0.0:19092' },
  );
  assert.equal(c.topicDefaults['retention.ms'], '300000');
  assert.equal(c.defaultPartitions, 4);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.advertisedHost, '127.0.0.1');
  assert.equal(c.port, 19092);
  assert.equal(resolveBrokerConfig({ 'log.retention.ms': '7', 'log.retention.minutes': '5' }).topicDefaults['retention.ms'], '7');
});

test('unknown keys and bad values refuse with the key named', () => {
  assert.throws(() => resolveBrokerConfig({ 'log.retention.hourz': '1' }), (e: unknown) => e instanceof ConfigError && e.key === 'log.retention.hourz');
  assert.throws(() => resolveBrokerConfig({ 'num.partitions': 'three' }), /num.partitions: expected an integer/);
  assert.throws(() => resolveBrokerConfig({ 'num.partitions': '0' }), /num.partitions: must be at least 1/);
  assert.throws(() => resolveBrokerConfig({ 'auto.create.topics.enable': 'yes' }), /expected true or false/);
  assert.throws(() => resolveBrokerConfig({ 'listeners': 'nonsense' }), /listeners/);
  assert.throws(() => resolveBrokerConfig({ 'log.cleanup.policy': 'shred' }), /log.cleanup.policy/);
});

test('SLUICE_CFG_* environment variables map to keys; unknown ones are refused; other SLUICE_* are not read', () => {
  assert.deepEqual(configFromEnv({ SLUICE_CFG_LOG_RETENTION_HOURS: '2', PATH: '/bin' }), { 'log.retention.hours': '2' });
  assert.throws(() => configFromEnv({ SLUICE_CFG_NOPE: '1' }), /SLUICE_CFG_NOPE/);
  // A wrapper's own variables, and the old unprefixed form, are not config: they neither set nor refuse anything.
  assert.deepEqual(configFromEnv({ SLUICE_DIR: '/srv/sluice', SLUICE_HOME: '/opt', SLUICE_LOG_RETENTION_HOURS: '2' }), {});
  assert.deepEqual(configFromEnv({ SLUICE_CFG_ZOOKEEPER_CONNECT: 'zk:2181' }), { 'zookeeper.connect': 'zk:2181' });
});

test('Kafka keys without effect are accepted and reported; listeners pick the client one', () => {
  const c = resolveBrokerConfig({
    'zookeeper.connect': 'localhost:2181',
    'process.roles': 'broker,controller',
    'listeners': 'CONTROLLER://:9093,PLAINTEXT://:9092,EXTERNAL://10.0.0.1:19092',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT',
    'advertised.listeners': 'EXTERNAL://example.com:19092,PLAINTEXT://localhost:9092',
  });
  assert.deepEqual(c.ignoredKeys, ['process.roles', 'zookeeper.connect']);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 9092);
  assert.equal(c.advertisedHost, 'localhost', 'the advertised entry of the same listener name');
  assert.deepEqual(c.unservedListeners, ['EXTERNAL://10.0.0.1:19092']);
  const named = resolveBrokerConfig({ 'listeners': 'PLAINTEXT://:9092,EXTERNAL://:19092', 'inter.broker.listener.name': 'EXTERNAL', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT' });
  assert.equal(named.port, 19092);
  assert.deepEqual(resolveBrokerConfig().ignoredKeys, []);
});

test('port 0 advertises the port actually bound', () => {
  assert.equal(resolveBrokerConfig({ 'listeners': 'PLAINTEXT://127.0.0.1:0' }).advertisedPort, null);
  assert.equal(resolveBrokerConfig({ 'listeners': 'PLAINTEXT://127.0.0.1:0', 'advertised.listeners': 'PLAINTEXT://h:9' }).advertisedPort, 9);
});

test('sluice.log.on.corruption: refuse by default, truncate on request, nothing else', () => {
  assert.equal(resolveBrokerConfig({}).onCorruption, 'refuse');
  assert.equal(resolveBrokerConfig({ 'sluice.log.on.corruption': 'truncate' }).onCorruption, 'truncate');
  assert.equal(resolveBrokerConfig(configFromEnv({ SLUICE_CFG_SLUICE_LOG_ON_CORRUPTION: 'truncate' })).onCorruption, 'truncate');
  assert.throws(() => resolveBrokerConfig({ 'sluice.log.on.corruption': 'ignore' }), (e: unknown) => e instanceof ConfigError && e.key === 'sluice.log.on.corruption');
});

test('sluice.etcd.*: unset or empty = no etcd; http(s) URLs, comma-separated; prefix /sluice by default; broker.session.timeout.ms 9000', () => {
  assert.equal(resolveBrokerConfig().etcd, null);
  assert.equal(resolveBrokerConfig({ 'sluice.etcd.endpoints': ' ' }).etcd, null);
  assert.equal(resolveBrokerConfig().brokerSessionTimeoutMs, 9000);
  assert.deepEqual(resolveBrokerConfig({ 'sluice.etcd.endpoints': 'http://a:2379, https://b:2379' }).etcd, { endpoints: ['http://a:2379', 'https://b:2379'], prefix: '/sluice' });
  assert.deepEqual(resolveBrokerConfig(configFromEnv({ SLUICE_CFG_SLUICE_ETCD_ENDPOINTS: 'http://e:1', SLUICE_CFG_SLUICE_ETCD_PREFIX: '/c2' })).etcd, { endpoints: ['http://e:1'], prefix: '/c2' });
  assert.throws(() => resolveBrokerConfig({ 'sluice.etcd.endpoints': 'e:2379' }), (e: unknown) => e instanceof ConfigError && e.key === 'sluice.etcd.endpoints');
  assert.throws(() => resolveBrokerConfig({ 'sluice.etcd.endpoints': 'http://e:1', 'sluice.etcd.prefix': 'c2' }), (e: unknown) => e instanceof ConfigError && e.key === 'sluice.etcd.prefix');
  assert.throws(() => resolveBrokerConfig({ 'broker.session.timeout.ms': '0' }), (e: unknown) => e instanceof ConfigError && e.key === 'broker.session.timeout.ms');
  assert.deepEqual(resolveBrokerConfig({ 'broker.session.timeout.ms': '2000' }).ignoredKeys, []);
});
