/**
 * Sluice — a Kafka-compatible streaming log for Node.js.
 *
 * The package's public surface: `Sluice` (engine + embedded producer/consumer/offsets), the engine core,
 * the cluster's metadata in etcd, the embedded clients, the coordinator pieces, the record layer (RecordBatch v2 codec), the storage
 * layer's public types and config helpers, and the typed errors.
 */
export { Sluice } from './sluice.js';
export * from './engine/index.js';
export * from './cluster/index.js';
export * from './client/index.js';
export { OffsetsStore } from './coordinator/offsets-store.js';
export { GroupCoordinator } from './coordinator/group-coordinator.js';
export { ASSIGNORS, assignorByName } from './coordinator/assignors/index.js';
export type * from './coordinator/types.js';
export * from './record/index.js';
export * from './errors.js';
export { KAFKA_ERROR_CODES, kafkaErrorCodeOf } from './kafka-protocol/sluice-errors.js';
export { DEFAULT_LOG_CONFIG, logConfigToEntries, parseLogConfig } from './storage/config.js';
export type {
  AppendInfo,
  CorruptionInfo,
  LogConfig,
  ReadOptions,
  RecoveryReport,
} from './storage/types.js';
export type { CorruptionPolicy } from './storage/recovery.js';
