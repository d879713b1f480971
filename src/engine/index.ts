/** The engine core, its public types, and the manual clock for tests. */
export { SluiceEngine } from './engine.js';
export { createManualClock, SharedManualClock } from './clock.js';
export { validateTopicName } from './topic-store.js';
export type * from './types.js';
export type { FlushStats, OwnerStats } from './owner-stats.js';
