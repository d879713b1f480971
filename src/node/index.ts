/** The node layer: assembles one broker (engine, offsets, groups, frontends, metrics) and closes it in order. */
export { SluiceNode, startNode, type NodeOptions, type KafkaListenerOptions } from './node.js';
export { createGroupCoordinator, groupConfigEntries, openOffsetsStore, type GroupSettings } from './groups.js';
export { NodeObservers, type FrontendCounters, type NodeObserver, type ObservedNode } from '../frontends/observer.js';
