/** The engine core, its public types, and the manual clock for tests. */
export { SluiceEngine } from './engine.js';
export { createManualClock, SharedManualClock } from './clock.js';
export { LocalTopicStore, validateTopicName } from './topic-store.js';
export { LocalProducerIdManager } from './producer-ids.js';
export type { PartitionLeadership, ProducerIdManager, TopicMetadataStore, TopicRecord } from './metadata.js';
export type * from './types.js';
export type { FlushStats, OwnerStats } from './owner-stats.js';
