/** The storage layer: a partition's segmented log (owner side), its readers, config, and recovery. */
export * from './types.js';
export { PartitionSharedState, PARTITION_STATE_BYTES, FLAG_CLOSED } from './shared-state.js';
export { DEFAULT_LOG_CONFIG, NEVER, parseLogConfig, logConfigToEntries, validateLogConfig } from './config.js';
export {
  PartitionLog,
  DEFAULT_IO_MODE,
  type PartitionLogOptions,
  type AppendOptions,
  type DeleteSegmentsResult,
  type BatchScanCallback,
} from './partition-log.js';
export { PartitionReader } from './partition-reader.js';
export { StorageCorruptionError, type CorruptionPolicy } from './recovery.js';
export { type CleanOptions, type CleanStats, planClean } from './cleaner.js';
export { LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type EpochEntry, type EpochEndOffset } from './leader-epoch.js';
export { type IoMode } from './segment.js';
export {
  CLEAN_SHUTDOWN_FILE,
  LEADER_EPOCH_FILE,
  CLEANER_CHECKPOINT_FILE,
  RECOVERY_POINT_FILE,
  LOG_START_FILE,
  segmentFileName,
  listSegmentBases,
  observeDurability,
  type DurabilityEvent,
} from './files.js';
