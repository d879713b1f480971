/**
 * Broker configuration with Kafka's names. Sources, later ones winning: defaults, a properties file,
 * SLUICE_* environment variables (SLUICE_LOG_RETENTION_HOURS → log.retention.hours), command-line flags.
 * Unknown keys and bad values refuse to start with a message naming the key.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';

type Kind = 'int' | 'long' | 'bool' | 'string' | 'ratio' | 'list';

interface KeyDef {
  kind: Kind;
  default: string | null;
  doc: string;
  /** Accepted for compatibility with Kafka config files; has no effect on a single Sluice node. */
  inert?: boolean;
  min?: number;
}

/** Every broker key Sluice understands, with Kafka's default and meaning. */
export const BROKER_CONFIG_KEYS: Readonly<Record<string, KeyDef>> = {
  'listeners': { kind: 'string', default: 'PLAINTEXT://127.0.0.1:9092', doc: 'Address the broker listens on (one PLAINTEXT listener).' },
  'advertised.listeners': { kind: 'string', default: null, doc: 'Address given to clients in Metadata; defaults to the listener.' },
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
  'socket.request.max.bytes': { kind: 'int', default: '104857600', doc: 'Largest request frame; larger ones close the connection.', min: 1 },
  'offsets.topic.num.partitions': { kind: 'int', default: '50', doc: 'Partitions of __consumer_offsets.', min: 1 },
  'group.initial.rebalance.delay.ms': { kind: 'int', default: '3000', doc: 'Wait for more members before the first rebalance of an empty group.', min: 0 },
  'group.min.session.timeout.ms': { kind: 'int', default: '6000', doc: 'Smallest session timeout a member may ask for.', min: 0 },
  'group.max.session.timeout.ms': { kind: 'int', default: '1800000', doc: 'Largest session timeout a member may ask for.', min: 0 },
  'sluice.owner.threads': { kind: 'int', default: null, doc: 'Partition owner worker threads (default: one per core).', min: 1 },
  'sluice.ring.bytes': { kind: 'int', default: '8388608', doc: 'Bytes of each owner\'s shared-memory append ring.', min: 65536 },
  'sluice.metrics.port': { kind: 'int', default: null, doc: 'Port of the Prometheus endpoint (GET /metrics on the listener\'s host); unset = off, 0 = any free port.', min: 0 },
  // Common in Kafka sample files; accepted so those files load, no effect here.
  'num.network.threads': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'num.io.threads': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'socket.send.buffer.bytes': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'socket.receive.buffer.bytes': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'num.recovery.threads.per.data.dir': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'offsets.topic.replication.factor': { kind: 'int', default: null, doc: 'Accepted for compatibility; always 1 on a single node.', inert: true },
  'transaction.state.log.replication.factor': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
  'transaction.state.log.min.isr': { kind: 'int', default: null, doc: 'Accepted for compatibility; no effect.', inert: true },
};

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

/** SLUICE_LOG_RETENTION_HOURS=1 → { 'log.retention.hours': '1' } for keys Sluice knows. */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const byEnvName = new Map(Object.keys(BROKER_CONFIG_KEYS).map((k) => [`SLUICE_${k.toUpperCase().replace(/\./g, '_')}`, k]));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SLUICE_') || value === undefined) continue;
    const key = byEnvName.get(name);
    if (!key) throw new ConfigError(name, 'unknown SLUICE_* environment variable (no such broker config key)');
    out[key] = value;
  }
  return out;
}

export interface BrokerConfig {
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
  offsetsTopicPartitions: number;
  maintenanceIntervalMs: number;
  ownerThreads: number;
  ringBytes: number;
  /** Port of the Prometheus /metrics endpoint (on the listener's host); null = no endpoint. */
  metricsPort: number | null;
  group: { initialRebalanceDelayMs: number; minSessionTimeoutMs: number; maxSessionTimeoutMs: number };
  /** Topic config defaults by Kafka topic-level name, derived from the log.* keys. */
  topicDefaults: Record<string, string>;
  /** Every key as set (after merging sources), for DescribeConfigs on the broker resource. */
  entries: Record<string, string>;
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

function parseListener(key: string, value: string): { host: string; port: number } {
  const m = /^(?:[A-Z_]+:\/\/)?\[?([^\]]*?)\]?:(\d+)$/.exec(value.split(',')[0]!.trim());
  if (!m) throw new ConfigError(key, `expected PLAINTEXT://host:port, got "${value}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(key, `port ${port} is out of range`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port };
}

/** Merges sources (later wins), validates every key, and derives the typed broker config. */
export function resolveBrokerConfig(...sources: Record<string, string>[]): BrokerConfig {
  const set: Record<string, string> = {};
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      const def = BROKER_CONFIG_KEYS[k];
      if (!def) throw new ConfigError(k, 'unknown broker config key');
      checkValue(k, def, v);
      set[k] = v.trim();
    }
  }
  const get = (k: string): string | null => set[k] ?? BROKER_CONFIG_KEYS[k]!.default;
  const num = (k: string): number => Number(get(k));

  const listen = parseListener('listeners', get('listeners')!);
  const adv = set['advertised.listeners'] ? parseListener('advertised.listeners', set['advertised.listeners']) : null;
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

  const metricsPort = set['sluice.metrics.port'] !== undefined ? num('sluice.metrics.port') : null;
  if (metricsPort !== null && metricsPort > 65535) throw new ConfigError('sluice.metrics.port', `port ${metricsPort} is out of range`);

  const minSession = num('group.min.session.timeout.ms');
  const maxSession = num('group.max.session.timeout.ms');
  if (minSession > maxSession) throw new ConfigError('group.min.session.timeout.ms', 'must not exceed group.max.session.timeout.ms');

  return {
    host: listen.host,
    port: listen.port,
    advertisedHost,
    advertisedPort: adv ? adv.port : listen.port === 0 ? null : listen.port,
    brokerId: Number(set['node.id'] ?? get('broker.id')),
    dataDir: set['log.dirs'] ?? set['log.dir'] ?? get('log.dirs')!,
    defaultPartitions: num('num.partitions'),
    autoCreateTopics: get('auto.create.topics.enable')!.toLowerCase() === 'true',
    socketRequestMaxBytes: num('socket.request.max.bytes'),
    offsetsTopicPartitions: num('offsets.topic.num.partitions'),
    maintenanceIntervalMs: num('log.retention.check.interval.ms'),
    ownerThreads: set['sluice.owner.threads'] ? num('sluice.owner.threads') : Math.max(1, availableParallelism()),
    ringBytes: num('sluice.ring.bytes'),
    metricsPort,
    group: { initialRebalanceDelayMs: num('group.initial.rebalance.delay.ms'), minSessionTimeoutMs: minSession, maxSessionTimeoutMs: maxSession },
    topicDefaults,
    entries: set,
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
