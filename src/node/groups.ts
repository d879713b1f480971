/**
 * Committed offsets and consumer groups of a node: the one place the offsets store is opened and the group
 * coordinator is built on it (the `Sluice` facade opens its store here too).
 */
import type { Logger, Millis } from '../engine/types.js';
import { OffsetsStore, type OffsetsEngine } from '../coordinator/offsets-store.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from '../coordinator/group-coordinator.js';

/** Group coordinator settings a node is configured with (group.initial.rebalance.delay.ms, session timeout bounds, ...). */
export type GroupSettings = Omit<GroupCoordinatorOptions, 'persistence' | 'logger'>;

/** Opens the committed-offsets store, creating `__consumer_offsets` (with `partitions`, default 50) if it is missing. */
export function openOffsetsStore(engine: OffsetsEngine, partitions?: number): Promise<OffsetsStore> {
  return OffsetsStore.open(engine, partitions !== undefined ? { partitions } : {});
}

/** A group coordinator that persists to `offsets`, on the engine's clock; it restores the groups of every loaded partition. */
export function createGroupCoordinator(engine: { now(): Millis }, offsets: OffsetsStore, settings: GroupSettings, logger: Logger): GroupCoordinator {
  return new GroupCoordinator({ ...settings, persistence: offsets, logger, now: () => engine.now() });
}

/** The group settings that were given, by Kafka name (DescribeConfigs reports them for the broker). */
export function groupConfigEntries(settings: GroupSettings): Record<string, string> {
  const out: Record<string, string> = {};
  if (settings.initialRebalanceDelayMs !== undefined) out['group.initial.rebalance.delay.ms'] = String(settings.initialRebalanceDelayMs);
  if (settings.minSessionTimeoutMs !== undefined) out['group.min.session.timeout.ms'] = String(settings.minSessionTimeoutMs);
  if (settings.maxSessionTimeoutMs !== undefined) out['group.max.session.timeout.ms'] = String(settings.maxSessionTimeoutMs);
  return out;
}
