/** The engine: the embeddable Sluice class, its public types, and the manual clock for tests. */
export { Sluice } from './engine.js';
export { createManualClock, SharedManualClock } from './clock.js';
export { validateTopicName } from './topic-store.js';
export type * from './types.js';
