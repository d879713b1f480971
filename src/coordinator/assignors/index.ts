/** The built-in partition assignors, by the protocol names Kafka clients announce. */
import type { PartitionAssignor } from '../types.js';
import { RangeAssignor } from './range.js';
import { RoundRobinAssignor } from './round-robin.js';
import { CooperativeStickyAssignor, StickyAssignor } from './sticky.js';

export { assignRange, RangeAssignor } from './range.js';
export { assignRoundRobin, RoundRobinAssignor } from './round-robin.js';
export { assignCooperativeSticky, assignSticky, CooperativeStickyAssignor, StickyAssignor } from './sticky.js';
export { compareMembers } from './common.js';

export const ASSIGNORS: ReadonlyMap<string, PartitionAssignor> = new Map<string, PartitionAssignor>([
  [RangeAssignor.name, RangeAssignor],
  [RoundRobinAssignor.name, RoundRobinAssignor],
  [StickyAssignor.name, StickyAssignor],
  [CooperativeStickyAssignor.name, CooperativeStickyAssignor],
]);

/** The assignor with a given protocol name, or undefined. */
export function assignorByName(name: string): PartitionAssignor | undefined {
  return ASSIGNORS.get(name);
}
