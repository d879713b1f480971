/**
 * Topic/log configuration with Kafka's names and defaults. `parseLogConfig` validates every entry and throws a
 * ConfigError naming the key; `logConfigToEntries` renders a config back (DescribeConfigs).
 */
import { ConfigError } from '../errors.js';
import { MAX_MAP_BYTES } from '../../native-bindings/mmap.js';
import type { LogConfig } from './types.js';

/** Kafka's Long.MAX_VALUE as text; "never" for flush.messages / flush.ms. */
const LONG_MAX_TEXT = '9223372036854775807';
/** Values at or above this are rendered as Long.MAX_VALUE (JS numbers cannot hold Kafka's longs exactly). */
export const NEVER = Number.MAX_SAFE_INTEGER;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1073741824,
  segmentMs: 604800000,
  segmentIndexBytes: 10485760,
  indexIntervalBytes: 4096,
  retentionMs: 604800000,
  retentionBytes: -1,
  cleanupPolicy: Object.freeze({ delete: true, compact: false }),
  deleteRetentionMs: 86400000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxMessageBytes: 1048588,
  flushMessages: NEVER,
  flushMs: NEVER,
  messageTimestampType: 'CreateTime',
  fileDeleteDelayMs: 60000,
  minInsyncReplicas: 1,
}) as Readonly<LogConfig>;

type NumericField =
  | 'segmentBytes' | 'segmentMs' | 'segmentIndexBytes' | 'indexIntervalBytes' | 'retentionMs' | 'retentionBytes'
  | 'deleteRetentionMs' | 'minCompactionLagMs' | 'maxMessageBytes' | 'flushMessages' | 'flushMs' | 'fileDeleteDelayMs'
  | 'minInsyncReplicas';

interface IntSpec { field: NumericField; min: number; max: number; int32?: boolean }

const INT_MAX = 0x7fffffff;
const INT_KEYS: Readonly<Record<string, IntSpec>> = {
  // segment.bytes: Kafka's minimum is 14 (a legacy record overhead); the mmap addon caps a mapping at int32.
  'segment.bytes': { field: 'segmentBytes', min: 14, max: MAX_MAP_BYTES, int32: true },
  'segment.ms': { field: 'segmentMs', min: 1, max: NEVER },
  'segment.index.bytes': { field: 'segmentIndexBytes', min: 12, max: INT_MAX, int32: true },
  'index.interval.bytes': { field: 'indexIntervalBytes', min: 0, max: INT_MAX, int32: true },
  'retention.ms': { field: 'retentionMs', min: -1, max: NEVER },
  'retention.bytes': { field: 'retentionBytes', min: -1, max: NEVER },
  'delete.retention.ms': { field: 'deleteRetentionMs', min: 0, max: NEVER },
  'min.compaction.lag.ms': { field: 'minCompactionLagMs', min: 0, max: NEVER },
  'max.message.bytes': { field: 'maxMessageBytes', min: 0, max: INT_MAX, int32: true },
  'flush.messages': { field: 'flushMessages', min: 1, max: NEVER },
  'flush.ms': { field: 'flushMs', min: 0, max: NEVER },
  'file.delete.delay.ms': { field: 'fileDeleteDelayMs', min: 0, max: NEVER },
  'min.insync.replicas': { field: 'minInsyncReplicas', min: 1, max: INT_MAX, int32: true },
};

const COMPRESSION_TYPES = new Set(['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd']);

/**
 * Validated and kept in `otherConfigs`; the storage layer ignores them (the message.timestamp.*.max.ms keys
 * are read by the engine's produce checks).
 */
const IGNORED_KEYS: Readonly<Record<string, (v: string) => string | null>> = {
  'compression.type': (v) => (COMPRESSION_TYPES.has(v) ? null : `must be one of ${[...COMPRESSION_TYPES].join(', ')}`),
  'unclean.leader.election.enable': boolProblem,
  'preallocate': boolProblem,
  'message.downconversion.enable': boolProblem,
  'message.timestamp.difference.max.ms': (v) => intProblem(v, 0, NEVER),
  'message.timestamp.before.max.ms': (v) => intProblem(v, 0, NEVER),
  'message.timestamp.after.max.ms': (v) => intProblem(v, 0, NEVER),
  'max.compaction.lag.ms': (v) => intProblem(v, 1, NEVER),
  'segment.jitter.ms': (v) => intProblem(v, 0, NEVER),
  'message.format.version': () => null,
  'leader.replication.throttled.replicas': () => null,
  'follower.replication.throttled.replicas': () => null,
};

function boolProblem(v: string): string | null {
  return v === 'true' || v === 'false' ? null : 'must be true or false';
}

/** Parses a Kafka long; values beyond the JS safe range clamp to NEVER. Returns an error message or the value. */
function parseLong(v: string): number | string {
  const t = v.trim();
  if (!/^-?\d+$/.test(t)) return `"${v}" is not an integer`;
  const big = BigInt(t);
  if (big > 9223372036854775807n || big < -9223372036854775808n) return `"${v}" is out of the long range`;
  if (big >= BigInt(NEVER)) return NEVER;
  if (big <= -BigInt(NEVER)) return -NEVER;
  return Number(big);
}

function intProblem(v: string, min: number, max: number): string | null {
  const n = parseLong(v);
  if (typeof n === 'string') return n;
  if (n < min || n > max) return `${v} is out of range [${min}, ${max === NEVER ? LONG_MAX_TEXT : max}]`;
  return null;
}

/**
 * Parses Kafka-named config entries over `base` (default: Kafka's defaults). Unknown keys and bad values throw
 * a ConfigError naming the key.
 */
export function parseLogConfig(entries: Record<string, string>, base: LogConfig = DEFAULT_LOG_CONFIG): LogConfig {
  const out: LogConfig = {
    ...base,
    cleanupPolicy: { ...base.cleanupPolicy },
    ...(base.otherConfigs ? { otherConfigs: { ...base.otherConfigs } } : {}),
  };
  for (const [key, raw] of Object.entries(entries)) {
    if (typeof raw !== 'string') throw new ConfigError(key, 'value must be a string');
    const value = raw.trim();
    const spec = INT_KEYS[key];
    if (spec) {
      const n = parseLong(value);
      if (typeof n === 'string') throw new ConfigError(key, n);
      if (n < spec.min || n > spec.max) {
        throw new ConfigError(key, `${value} is out of range [${spec.min}, ${spec.max === NEVER ? LONG_MAX_TEXT : spec.max}]`);
      }
      out[spec.field] = n;
      continue;
    }
    switch (key) {
      case 'cleanup.policy': {
        const parts = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        const policy = { delete: false, compact: false };
        for (const p of parts) {
          if (p === 'delete') policy.delete = true;
          else if (p === 'compact') policy.compact = true;
          else throw new ConfigError(key, `"${p}" is not one of delete, compact`);
        }
        out.cleanupPolicy = policy; // an empty list is allowed by Kafka: neither delete nor compact
        break;
      }
      case 'min.cleanable.dirty.ratio': {
        const n = Number(value);
        if (value === '' || !Number.isFinite(n)) throw new ConfigError(key, `"${raw}" is not a number`);
        if (n < 0 || n > 1) throw new ConfigError(key, `${value} is out of range [0, 1]`);
        out.minCleanableDirtyRatio = n;
        break;
      }
      case 'message.timestamp.type':
        if (value !== 'CreateTime' && value !== 'LogAppendTime') {
          throw new ConfigError(key, `"${raw}" is not one of CreateTime, LogAppendTime`);
        }
        out.messageTimestampType = value;
        break;
      default: {
        const check = IGNORED_KEYS[key];
        if (!check) throw new ConfigError(key, 'unknown topic config');
        const problem = check(value);
        if (problem) throw new ConfigError(key, problem);
        out.otherConfigs = { ...(out.otherConfigs ?? {}), [key]: value };
      }
    }
  }
  return out;
}

function longText(n: number): string {
  return n >= NEVER ? LONG_MAX_TEXT : String(n);
}

/** Renders a config with Kafka's names (every storage key, plus accepted pass-through keys). */
export function logConfigToEntries(config: LogConfig): Record<string, string> {
  const policy = [config.cleanupPolicy.delete ? 'delete' : '', config.cleanupPolicy.compact ? 'compact' : '']
    .filter((s) => s)
    .join(',');
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(INT_KEYS)) out[key] = longText(config[spec.field]);
  out['cleanup.policy'] = policy;
  out['min.cleanable.dirty.ratio'] = String(config.minCleanableDirtyRatio);
  out['message.timestamp.type'] = config.messageTimestampType;
  if (config.otherConfigs) Object.assign(out, config.otherConfigs);
  return out;
}

/** Throws a ConfigError if a typed config (built by hand rather than parsed) is out of range. */
export function validateLogConfig(config: LogConfig): void {
  parseLogConfig(logConfigToEntries(config), config);
}

/** What each topic-level key means, for the configuration reference (docs/configuration.md). */
export const TOPIC_CONFIG_DOCS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete, compact, or delete,compact: how old data goes (retention, or keep the last record per key).',
  'compression.type': 'Accepted for compatibility: batches are always stored as the producer compressed them.',
  'delete.retention.ms': 'How long tombstones (null values) survive compaction.',
  'file.delete.delay.ms': 'Delay before the files of a deleted segment are removed.',
  'flush.messages': 'fsync after this many messages; 1 = every batch, shared by concurrent appends (group commit). Default: OS-managed.',
  'flush.ms': 'fsync when unflushed data is this old. Default: OS-managed.',
  'index.interval.bytes': 'Bytes of log between two sparse index entries.',
  'max.message.bytes': 'Largest record batch accepted (after compression).',
  'message.timestamp.type': 'CreateTime (the producer\'s) or LogAppendTime (set by the broker).',
  'message.timestamp.before.max.ms': 'CreateTime topics refuse (INVALID_TIMESTAMP) a record older than this; default: no bound (Long.MAX_VALUE).',
  'message.timestamp.after.max.ms': 'CreateTime topics refuse (INVALID_TIMESTAMP) a record dated this far in the future; default: no bound.',
  'message.timestamp.difference.max.ms': 'Deprecated by Kafka: the bound of before.max.ms / after.max.ms when those are not set.',
  'min.insync.replicas': 'In-sync replicas an acks=all produce needs. One node has exactly one, so above 1 every acks=all produce is refused with NOT_ENOUGH_REPLICAS (acks=0/1 unaffected), as Kafka with too few replicas.',
  'min.cleanable.dirty.ratio': 'Compact when the not-yet-compacted share of the log reaches this.',
  'min.compaction.lag.ms': 'Records younger than this are not compacted.',
  'retention.bytes': 'Delete the oldest segments while the partition is larger than this; -1 = no limit.',
  'retention.ms': 'Delete segments whose newest record is older than this; -1 = keep forever.',
  'segment.bytes': 'Roll to a new segment file when the active one would exceed this.',
  'segment.index.bytes': 'Largest offset / time index file; a full index rolls the segment.',
  'segment.ms': 'Roll to a new segment when the active one is older than this.',
};
