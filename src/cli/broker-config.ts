/**
 * Broker configuration with Kafka's names. Sources, later ones winning: defaults, a properties file,
 * SLUICE_CFG_* environment variables (SLUICE_CFG_LOG_RETENTION_HOURS → log.retention.hours), command-line flags.
 * Unknown keys and bad values refuse to start with a message naming the key; Kafka keys that do not apply to one
 * node are accepted and reported in `ignoredKeys`.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import type { CorruptionPolicy } from '../storage/recovery.js';

type Kind = 'int' | 'long' | 'bool' | 'string' | 'ratio' | 'list';

interface KeyDef {
  kind: Kind;
  default: string | null;
  doc: string;
  min?: number;
}

/** Every broker key Sluice understands, with Kafka's default and meaning. */
export const BROKER_CONFIG_KEYS: Readonly<Record<string, KeyDef>> = {
  'listeners': { kind: 'string', default: 'PLAINTEXT://127.0.0.1:9092', doc: 'Address the broker listens on (one PLAINTEXT listener).' },
  'advertised.listeners': { kind: 'string', default: null, doc: 'Address given to clients in Metadata; defaults to the listener.' },
  'listener.security.protocol.map': { kind: 'string', default: null, doc: 'Listener name to security protocol (Kafka\'s syntax); the served listener must map to PLAINTEXT.' },
  'controller.listener.names': { kind: 'string', default: null, doc: 'KRaft controller listeners in `listeners`: never served (a Sluice node is a broker).' },
  'inter.broker.listener.name': { kind: 'string', default: null, doc: 'Which of several client listeners is served (Sluice serves one); default: the first.' },
  'broker.id': { kind: 'int', default: '0', doc: 'This broker\'s id.', min: 0 },
  'node.id': { kind: 'int', default: null, doc: 'Alias of broker.id (KRaft name).', min: 0 },
  'log.dirs': { kind: 'string', default: './sluice-data', doc: 'Data directory (one directory).' },
  'log.dir': { kind: 'string', default: null, doc: 'Alias of log.dirs.' },
  'num.partitions': { kind: 'int', default: '1', doc: 'Partitions of auto-created topics and CreateTopics with -1.', min: 1 },
  'auto.create.topics.enable': { kind: 'bool', default: 'true', doc: 'Create unknown topics on Metadata/Produce.' },
  'default.replication.factor': { kind: 'int', default: '1', doc: 'Replication factor of auto-created topics (1 on a single node).', min: 1 },
  'log.retention.hours': { kind: 'long', default: '168', doc: 'retention.ms default, in hours.' },
  'log.retention.minutes': { kind: 'long', default: null, doc: 'retention.ms default, in minutes (wins over hours).' },
  'log.retention.ms': { kind: 'long', default: null, doc: 'retention.ms default (wins over minutes/hours); -1 = forever.' },
  'log.retention.bytes': { kind: 'long', default: '-1', doc: 'retention.bytes default; -1 = unlimited.' },
  'log.segment.bytes': { kind: 'int', default: '1073741824', doc: 'segment.bytes default.', min: 14 },
  'log.roll.hours': { kind: 'long', default: '168', doc: 'segment.ms default, in hours.' },
  'log.roll.ms': { kind: 'long', default: null, doc: 'segment.ms default (wins over hours).' },
  'log.index.interval.bytes': { kind: 'int', default: '4096', doc: 'index.interval.bytes default.', min: 0 },
  'log.index.size.max.bytes': { kind: 'int', default: '10485760', doc: 'segment.index.bytes default.', min: 4 },
  'log.flush.interval.messages': { kind: 'long', default: null, doc: 'flush.messages default (1 = fsync every batch as a group commit); unset = OS-managed.' },
  'log.flush.interval.ms': { kind: 'long', default: null, doc: 'flush.ms default; unset = OS-managed.' },
  'log.cleanup.policy': { kind: 'list', default: 'delete', doc: 'cleanup.policy default: delete, compact, or both.' },
  'log.cleaner.delete.retention.ms': { kind: 'long', default: '86400000', doc: 'delete.retention.ms default.' },
  'log.cleaner.min.cleanable.ratio': { kind: 'ratio', default: '0.5', doc: 'min.cleanable.dirty.ratio default.' },
  'log.cleaner.min.compaction.lag.ms': { kind: 'long', default: '0', doc: 'min.compaction.lag.ms default.' },
  'log.message.timestamp.type': { kind: 'string', default: 'CreateTime', doc: 'message.timestamp.type default.' },
  'log.message.timestamp.before.max.ms': { kind: 'long', default: null, doc: 'message.timestamp.before.max.ms default; unset = no bound.', min: 0 },
  'log.message.timestamp.after.max.ms': { kind: 'long', default: null, doc: 'message.timestamp.after.max.ms default; unset = no bound.', min: 0 },
  'log.message.timestamp.difference.max.ms': { kind: 'long', default: null, doc: 'message.timestamp.difference.max.ms default (deprecated by Kafka).', min: 0 },
  'min.insync.replicas': { kind: 'int', default: '1', doc: 'min.insync.replicas default. One node is one in-sync replica: above 1, acks=all produce is refused with NOT_ENOUGH_REPLICAS (internal topics included, as in Kafka).', min: 1 },
  'message.max.bytes': { kind: 'int', default: '1048588', doc: 'max.message.bytes default: largest record batch accepted.', min: 0 },
  'log.retention.check.interval.ms': { kind: 'long', default: '300000', doc: 'How often retention and compaction run.', min: 1 },
  'producer.id.expiration.ms': { kind: 'int', default: '86400000', doc: 'A partition forgets an idempotent producer that has not written to it for this long (checked with retention).', min: 1 },
  'socket.request.max.bytes': { kind: 'int', default: '104857600', doc: 'Largest request frame; larger ones close the connection.', min: 1 },
  'queued.max.request.bytes': {
    kind: 'long',
    default: '104857600',
    doc: 'Bytes of requests being read or handled, over all connections: a frame\'s size is reserved when its size prefix arrives, and when none is left connections are not read (muted) until memory frees. At least socket.request.max.bytes; -1 = unbounded (Kafka\'s default; Sluice bounds it so that clients sending huge frames cannot exhaust memory).',
  },
  'connections.max.idle.ms': { kind: 'long', default: '600000', doc: 'Close a connection with nothing in flight and no traffic for this long.', min: 1 },
  'max.connections': { kind: 'int', default: '2147483647', doc: 'Connections beyond this many are closed as soon as accepted (Kafka stops accepting instead).', min: 0 },
  'max.connections.per.ip': { kind: 'int', default: '2147483647', doc: 'Connections from one address beyond this many are closed as soon as accepted.', min: 0 },
  'sluice.request.read.timeout.ms': {
    kind: 'int',
    default: '30000',
    doc: 'Time a request may take to arrive in full from its first byte (a client trickling bytes is closed); at most connections.max.idle.ms.',
    min: 1,
  },
  'offsets.topic.num.partitions': { kind: 'int', default: '50', doc: 'Partitions of __consumer_offsets.', min: 1 },
  'group.initial.rebalance.delay.ms': { kind: 'int', default: '3000', doc: 'Wait for more members before the first rebalance of an empty group.', min: 0 },
  'group.min.session.timeout.ms': { kind: 'int', default: '6000', doc: 'Smallest session timeout a member may ask for.', min: 0 },
  'group.max.session.timeout.ms': { kind: 'int', default: '1800000', doc: 'Largest session timeout a member may ask for.', min: 0 },
  'sluice.owner.threads': { kind: 'int', default: null, doc: 'Partition owner worker threads (default: one per core).', min: 1 },
  'sluice.ring.bytes': { kind: 'int', default: '8388608', doc: 'Bytes of each owner\'s shared-memory append ring.', min: 65536 },
  'sluice.log.on.corruption': { kind: 'string', default: 'refuse', doc: 'Invalid data found at start in a segment before a partition\'s last one: refuse (name file and byte, do not start) or truncate (keep the data before it, delete the rest). `sluice verify DIR` lists every problem.' },
  'sluice.metrics.port': { kind: 'int', default: null, doc: 'Port of the Prometheus endpoint (GET /metrics on the listener\'s host); unset = off, 0 = any free port.', min: 0 },
  'sluice.etcd.endpoints': {
    kind: 'string',
    default: null,
    doc: 'etcd client URLs, comma-separated (`http://127.0.0.1:2379`; `--etcd`): topics and producer ids are kept in etcd and the broker registers there under broker.id. Unset or empty = one node with local metadata files, no etcd. For now ONE broker per sluice.etcd.prefix: a start refuses while another live broker is registered under it (the controller and replication come in later releases).',
  },
  'sluice.etcd.prefix': { kind: 'string', default: '/sluice', doc: 'Key prefix of this cluster in etcd (several clusters can share one etcd); starts with `/`.' },
  'broker.session.timeout.ms': { kind: 'int', default: '9000', doc: 'With etcd: TTL of the broker\'s registration lease (rounded up to seconds); a broker killed without stopping is gone from etcd after this long. No effect without etcd.', min: 1 },
};

/**
 * Kafka broker keys that have no effect on one Sluice node, grouped by why. They are accepted so the
 * server.properties files shipped with Kafka (ZooKeeper mode and KRaft mode, 3.x and 4.x) load, and `sluice start`
 * names them in one warning. Any other unknown key still refuses to start: a typo must not pass silently.
 */
const WITHOUT_EFFECT: Readonly<Record<string, readonly string[]>> = {
  'ZooKeeper mode: Sluice needs no coordination service on one node': [
    'zookeeper.connect', 'zookeeper.connection.timeout.ms', 'zookeeper.session.timeout.ms', 'zookeeper.set.acl',
    'zookeeper.max.in.flight.requests', 'zookeeper.metadata.migration.enable', 'zookeeper.ssl.client.enable',
  ],
  'KRaft quorum: a Sluice node is a broker with its own metadata': [
    'process.roles', 'controller.quorum.voters', 'controller.quorum.bootstrap.servers',
    'controller.quorum.election.timeout.ms', 'controller.quorum.fetch.timeout.ms', 'controller.quorum.request.timeout.ms',
    'metadata.log.dir', 'metadata.log.segment.bytes', 'metadata.max.retention.bytes', 'metadata.max.retention.ms',
    'initial.broker.registration.timeout.ms', 'broker.heartbeat.interval.ms',
    'security.inter.broker.protocol',
  ],
  'threads and socket buffers: Sluice sizes its own (sluice.owner.threads)': [
    'num.network.threads', 'num.io.threads', 'num.recovery.threads.per.data.dir', 'num.replica.fetchers',
    'background.threads', 'queued.max.requests', 'socket.send.buffer.bytes', 'socket.receive.buffer.bytes',
    'socket.listen.backlog.size', 'log.cleaner.threads', 'log.cleaner.dedupe.buffer.size', 'log.cleaner.io.buffer.size',
    'log.cleaner.backoff.ms', 'log.cleaner.enable', 'log.flush.scheduler.interval.ms',
    'log.flush.offset.checkpoint.interval.ms', 'log.flush.start.offset.checkpoint.interval.ms', 'log.preallocate',
  ],
  'replication: one node holds one replica of each partition': [
    'offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr',
    'share.coordinator.state.topic.replication.factor', 'share.coordinator.state.topic.min.isr',
    'replica.lag.time.max.ms', 'replica.fetch.max.bytes', 'replica.fetch.wait.max.ms', 'replica.socket.timeout.ms',
    'replica.high.watermark.checkpoint.interval.ms', 'unclean.leader.election.enable', 'auto.leader.rebalance.enable',
    'leader.imbalance.check.interval.seconds', 'leader.imbalance.per.broker.percentage', 'offsets.commit.required.acks',
    'controlled.shutdown.enable',
  ],
  'internal topics and metrics Sluice does not have': [
    'transaction.state.log.num.partitions', 'transaction.state.log.segment.bytes', 'offsets.topic.segment.bytes',
    'offsets.topic.compression.codec', 'metric.reporters', 'metrics.num.samples', 'metrics.sample.window.ms',
    'metrics.recording.level', 'auto.include.jmx.reporter', 'group.coordinator.rebalance.protocols',
  ],
};

/** Every key of WITHOUT_EFFECT with the reason it does not apply. */
export const KAFKA_KEYS_WITHOUT_EFFECT: ReadonlyMap<string, string> = new Map(
  Object.entries(WITHOUT_EFFECT).flatMap(([why, keys]) => keys.map((k): [string, string] => [k, why])),
);

/** Security settings would be silently weaker if ignored, so they refuse until TLS/SASL/ACLs are built. */
const SECURITY_KEY = /^(ssl\.|sasl\.|listener\.name\.|authorizer\.class\.name$|super\.users$|allow\.everyone\.if\.no\.acl\.found$)/;

/** Parses Java .properties text: `key=value` or `key: value`, `#`/`!` comments, `\` line continuations. */
export function parseProperties(text: string, source = 'properties'): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.trim();
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(line, `cannot parse line ${i + 1} of ${source}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Environment variables that set broker keys: `SLUICE_CFG_` + the key in upper case with `_` for `.`
 * (SLUICE_CFG_LOG_RETENTION_HOURS=1 sets log.retention.hours). Other SLUICE_* variables are left alone, so a
 * wrapper's own SLUICE_DIR or SLUICE_HOME cannot refuse a start; a misspelt SLUICE_CFG_ name still refuses.
 */
export const ENV_PREFIX = 'SLUICE_CFG_';

/** The environment variable that sets a broker key. */
export function envNameOf(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/[.-]/g, '_');
}

/** SLUICE_CFG_LOG_RETENTION_HOURS=1 → { 'log.retention.hours': '1' }. */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const keys = [...Object.keys(BROKER_CONFIG_KEYS), ...KAFKA_KEYS_WITHOUT_EFFECT.keys()];
  const byEnvName = new Map(keys.map((k) => [envNameOf(k), k]));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const key = byEnvName.get(name);
    if (!key) throw new ConfigError(name, `unknown ${ENV_PREFIX}* environment variable (no such broker config key)`);
    out[key] = value;
  }
  return out;
}

export interface BrokerConfig {
  /** The served listener's name in `listeners` (PLAINTEXT unless the file names it otherwise). */
  listenerName: string;
  host: string;
  port: number;
  advertisedHost: string;
  /** null: advertise the port actually bound (matters with port 0). */
  advertisedPort: number | null;
  brokerId: number;
  dataDir: string;
  defaultPartitions: number;
  autoCreateTopics: boolean;
  socketRequestMaxBytes: number;
  /** queued.max.request.bytes; <= 0 = unbounded. */
  queuedMaxRequestBytes: number;
  connectionsMaxIdleMs: number;
  /** sluice.request.read.timeout.ms, capped at connections.max.idle.ms. */
  requestReadTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  offsetsTopicPartitions: number;
  maintenanceIntervalMs: number;
  producerIdExpirationMs: number;
  ownerThreads: number;
  ringBytes: number;
  /** Port of the Prometheus /metrics endpoint (on the listener's host); null = no endpoint. */
  metricsPort: number | null;
  /** sluice.etcd.endpoints / sluice.etcd.prefix: metadata in etcd; null = local files, no etcd. */
  etcd: { endpoints: string[]; prefix: string } | null;
  /** broker.session.timeout.ms: the etcd registration lease's TTL. */
  brokerSessionTimeoutMs: number;
  /** sluice.log.on.corruption: what starting does about invalid data before a partition's last segment. */
  onCorruption: CorruptionPolicy;
  group: { initialRebalanceDelayMs: number; minSessionTimeoutMs: number; maxSessionTimeoutMs: number };
  /** Topic config defaults by Kafka topic-level name, derived from the log.* keys. */
  topicDefaults: Record<string, string>;
  /** Every key as set (after merging sources), for DescribeConfigs on the broker resource. */
  entries: Record<string, string>;
  /** Kafka keys that were set but have no effect on one Sluice node (KAFKA_KEYS_WITHOUT_EFFECT), sorted. */
  ignoredKeys: string[];
  /** Client listeners beyond the one served (Sluice serves one), as NAME://host:port. */
  unservedListeners: string[];
}

function checkValue(key: string, def: KeyDef, value: string): void {
  switch (def.kind) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(key, `expected an integer, got "${value}"`);
      const n = Number(value);
      if (def.kind === 'int' && (n > 2147483647 || n < -2147483648)) throw new ConfigError(key, `${value} is out of int range`);
      if (def.min !== undefined && n < def.min && !(n === -1 && def.default === '-1')) {
        throw new ConfigError(key, `must be at least ${def.min}, got ${value}`);
      }
      break;
    }
    case 'bool':
      if (!/^(true|false)$/i.test(value.trim())) throw new ConfigError(key, `expected true or false, got "${value}"`);
      break;
    case 'ratio': {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(key, `expected a number from 0 to 1, got "${value}"`);
      break;
    }
    default:
      break;
  }
}

/** One entry of a `listeners` list: `NAME://host:port` (NAME defaults to PLAINTEXT; an empty host = all interfaces). */
export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
}

/** Parses Kafka's comma-separated `listeners` / `advertised.listeners` value. */
export function parseListeners(key: string, value: string): ListenerSpec[] {
  const out: ListenerSpec[] = [];
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(?:([A-Za-z_][A-Za-z0-9_]*):\/\/)?\[?([^\]]*?)\]?:(\d+)$/.exec(part);
    if (!m) throw new ConfigError(key, `expected PLAINTEXT://host:port, got "${value}"`);
    const port = Number(m[3]);
    if (port > 65535) throw new ConfigError(key, `port ${port} is out of range`);
    out.push({ name: (m[1] ?? 'PLAINTEXT').toUpperCase(), host: m[2] === '' ? '0.0.0.0' : m[2]!, port });
  }
  if (out.length === 0) throw new ConfigError(key, `expected PLAINTEXT://host:port, got "${value}"`);
  return out;
}

/**
 * The one listener a Sluice node serves, chosen as a Kafka broker would pick its client listener: not a
 * controller listener, the inter-broker listener when named, else the first. Its security protocol (through
 * `listener.security.protocol.map`) must be PLAINTEXT: Sluice has no TLS or SASL yet, and serving an SSL
 * listener in the clear would be worse than refusing.
 */
export function selectListener(set: Readonly<Record<string, string>>, listenersValue: string): { listener: ListenerSpec; others: ListenerSpec[] } {
  const all = parseListeners('listeners', listenersValue);
  const controllers = new Set((set['controller.listener.names'] ?? '').split(',').map((n) => n.trim().toUpperCase()).filter(Boolean));
  const candidates = all.filter((l) => !controllers.has(l.name));
  if (candidates.length === 0) throw new ConfigError('listeners', `only controller listeners (${[...controllers].join(', ')}) are configured; Sluice serves clients as a broker`);
  const wanted = set['inter.broker.listener.name']?.trim().toUpperCase();
  const listener = candidates.find((l) => l.name === wanted) ?? candidates[0]!;
  const protocols = new Map(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].map((p) => [p, p]));
  for (const pair of (set['listener.security.protocol.map'] ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, proto] = pair.split(':').map((x) => x.trim().toUpperCase());
    if (!name || !proto) throw new ConfigError('listener.security.protocol.map', `expected NAME:PROTOCOL pairs, got "${pair}"`);
    protocols.set(name, proto);
  }
  const protocol = protocols.get(listener.name);
  if (protocol === undefined) throw new ConfigError('listeners', `listener ${listener.name} has no entry in listener.security.protocol.map`);
  if (protocol !== 'PLAINTEXT') throw new ConfigError('listeners', `listener ${listener.name} uses ${protocol}; Sluice serves PLAINTEXT only (TLS and SASL are not built yet)`);
  return { listener, others: candidates.filter((l) => l !== listener) };
}

/** Merges sources (later wins), validates every key, and derives the typed broker config. */
export function resolveBrokerConfig(...sources: Record<string, string>[]): BrokerConfig {
  const set: Record<string, string> = {};
  const ignored = new Set<string>();
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      const def = BROKER_CONFIG_KEYS[k];
      if (def) checkValue(k, def, v);
      else if (KAFKA_KEYS_WITHOUT_EFFECT.has(k)) ignored.add(k);
      else if (SECURITY_KEY.test(k)) throw new ConfigError(k, 'security settings are not supported yet (TLS, SASL and ACLs are not built); refusing rather than running without them');
      else throw new ConfigError(k, 'unknown broker config key');
      set[k] = v.trim();
    }
  }
  const get = (k: string): string | null => set[k] ?? BROKER_CONFIG_KEYS[k]!.default;
  const num = (k: string): number => Number(get(k));

  const roles = set['process.roles'];
  if (roles !== undefined && !roles.split(',').map((r) => r.trim()).includes('broker')) {
    throw new ConfigError('process.roles', `"${roles}" has no broker role; a Sluice node is a broker (this looks like a KRaft controller's file)`);
  }
  const { listener: listen, others } = selectListener(set, get('listeners')!);
  const advertised = set['advertised.listeners'] ? parseListeners('advertised.listeners', set['advertised.listeners']) : null;
  const adv = advertised ? (advertised.find((l) => l.name === listen.name) ?? advertised[0]!) : null;
  const advertisedHost = adv ? adv.host : listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;

  const retentionMs = set['log.retention.ms'] ?? (set['log.retention.minutes'] ? String(Number(set['log.retention.minutes']) * 60000) : String(num('log.retention.hours') * 3600000));
  const segmentMs = set['log.roll.ms'] ?? String(num('log.roll.hours') * 3600000);
  const timestampType = get('log.message.timestamp.type')!;
  if (timestampType !== 'CreateTime' && timestampType !== 'LogAppendTime') {
    throw new ConfigError('log.message.timestamp.type', `expected CreateTime or LogAppendTime, got "${timestampType}"`);
  }
  const policy = get('log.cleanup.policy')!.split(',').map((s) => s.trim()).filter(Boolean);
  if (policy.length === 0 || policy.some((p) => p !== 'delete' && p !== 'compact')) {
    throw new ConfigError('log.cleanup.policy', `expected delete, compact or both, got "${get('log.cleanup.policy')}"`);
  }
  const topicDefaults: Record<string, string> = {
    'retention.ms': retentionMs,
    'retention.bytes': get('log.retention.bytes')!,
    'segment.bytes': get('log.segment.bytes')!,
    'segment.ms': segmentMs,
    'index.interval.bytes': get('log.index.interval.bytes')!,
    'segment.index.bytes': get('log.index.size.max.bytes')!,
    'cleanup.policy': policy.join(','),
    'delete.retention.ms': get('log.cleaner.delete.retention.ms')!,
    'min.cleanable.dirty.ratio': get('log.cleaner.min.cleanable.ratio')!,
    'min.compaction.lag.ms': get('log.cleaner.min.compaction.lag.ms')!,
    'message.timestamp.type': timestampType,
    'max.message.bytes': get('message.max.bytes')!,
    'min.insync.replicas': get('min.insync.replicas')!,
  };
  for (const k of ['before', 'after', 'difference']) {
    const v = set[`log.message.timestamp.${k}.max.ms`];
    if (v !== undefined) topicDefaults[`message.timestamp.${k}.max.ms`] = v;
  }
  if (set['log.flush.interval.messages']) topicDefaults['flush.messages'] = set['log.flush.interval.messages'];
  if (set['log.flush.interval.ms']) topicDefaults['flush.ms'] = set['log.flush.interval.ms'];

  const onCorruption = get('sluice.log.on.corruption')!;
  if (onCorruption !== 'refuse' && onCorruption !== 'truncate') {
    throw new ConfigError('sluice.log.on.corruption', `expected refuse or truncate, got "${onCorruption}"`);
  }

  const metricsPort = set['sluice.metrics.port'] !== undefined ? num('sluice.metrics.port') : null;
  if (metricsPort !== null && metricsPort > 65535) throw new ConfigError('sluice.metrics.port', `port ${metricsPort} is out of range`);

  const etcdEndpoints = (get('sluice.etcd.endpoints') ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of etcdEndpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new ConfigError('sluice.etcd.endpoints', `"${e}" is not an http(s)://host:port URL`);
  }
  const etcdPrefix = get('sluice.etcd.prefix')!;
  if (!etcdPrefix.startsWith('/') || /\s/.test(etcdPrefix)) throw new ConfigError('sluice.etcd.prefix', `expected a key prefix starting with "/", got "${etcdPrefix}"`);

  const queuedMaxRequestBytes = num('queued.max.request.bytes');
  if (queuedMaxRequestBytes > 0 && queuedMaxRequestBytes < num('socket.request.max.bytes')) {
    throw new ConfigError('queued.max.request.bytes', `must be at least socket.request.max.bytes (${num('socket.request.max.bytes')}), or -1 for unbounded; got ${queuedMaxRequestBytes}`);
  }
  const connectionsMaxIdleMs = num('connections.max.idle.ms');

  const minSession = num('group.min.session.timeout.ms');
  const maxSession = num('group.max.session.timeout.ms');
  if (minSession > maxSession) throw new ConfigError('group.min.session.timeout.ms', 'must not exceed group.max.session.timeout.ms');

  return {
    listenerName: listen.name,
    host: listen.host,
    port: listen.port,
    advertisedHost,
    advertisedPort: adv ? adv.port : listen.port === 0 ? null : listen.port,
    brokerId: Number(set['node.id'] ?? get('broker.id')),
    dataDir: set['log.dirs'] ?? set['log.dir'] ?? get('log.dirs')!,
    defaultPartitions: num('num.partitions'),
    autoCreateTopics: get('auto.create.topics.enable')!.toLowerCase() === 'true',
    socketRequestMaxBytes: num('socket.request.max.bytes'),
    queuedMaxRequestBytes,
    connectionsMaxIdleMs,
    requestReadTimeoutMs: Math.min(num('sluice.request.read.timeout.ms'), connectionsMaxIdleMs),
    maxConnections: num('max.connections'),
    maxConnectionsPerIp: num('max.connections.per.ip'),
    offsetsTopicPartitions: num('offsets.topic.num.partitions'),
    maintenanceIntervalMs: num('log.retention.check.interval.ms'),
    producerIdExpirationMs: num('producer.id.expiration.ms'),
    ownerThreads: set['sluice.owner.threads'] ? num('sluice.owner.threads') : Math.max(1, availableParallelism()),
    ringBytes: num('sluice.ring.bytes'),
    metricsPort,
    etcd: etcdEndpoints.length > 0 ? { endpoints: etcdEndpoints, prefix: etcdPrefix } : null,
    brokerSessionTimeoutMs: num('broker.session.timeout.ms'),
    onCorruption,
    group: { initialRebalanceDelayMs: num('group.initial.rebalance.delay.ms'), minSessionTimeoutMs: minSession, maxSessionTimeoutMs: maxSession },
    topicDefaults,
    entries: set,
    ignoredKeys: [...ignored].sort(),
    unservedListeners: others.map((l) => `${l.name}://${l.host}:${l.port}`),
  };
}

/** Reads a properties file; a missing or unreadable file is a ConfigError naming it. */
export function readPropertiesFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('--config', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseProperties(text, path);
}
