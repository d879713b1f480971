/**
 * Sluice — a Kafka-compatible streaming log for Node.js.
 *
 * The package's public surface: the engine (`Sluice`), the record layer (RecordBatch v2 codec), the storage
 * layer's public types and config helpers, and the typed errors.
 */
export * from './engine/index.js';
export * from './record/index.js';
export * from './errors.js';
export { DEFAULT_LOG_CONFIG, logConfigToEntries, parseLogConfig } from './storage/config.js';
export type {
  AppendInfo,
  CorruptionInfo,
  LogConfig,
  ReadOptions,
  RecoveryReport,
} from './storage/types.js';
