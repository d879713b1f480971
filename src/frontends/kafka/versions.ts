/**
 * The API versions this broker serves (what ApiVersions advertises). Kept apart from the handlers so the
 * ApiVersions handler and the dispatcher share one list.
 *
 * Produce starts at v3 and Fetch at v4: older versions carry message sets v0/v1, and Sluice stores and
 * serves RecordBatch v2 only (no down-conversion). SASL and transactions are not offered.
 */
import { APIS, type ServedApiName } from './generated/index.js';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

const RANGES: Readonly<Partial<Record<ServedApiName, VersionRange>>> = {
  Produce: { min: 3, max: 11 },
  Fetch: { min: 4, max: 17 },
  ListOffsets: { min: 0, max: 10 },
  Metadata: { min: 0, max: 12 },
  OffsetCommit: { min: 0, max: 9 },
  OffsetFetch: { min: 0, max: 9 },
  FindCoordinator: { min: 0, max: 6 },
  JoinGroup: { min: 0, max: 9 },
  Heartbeat: { min: 0, max: 4 },
  LeaveGroup: { min: 0, max: 5 },
  SyncGroup: { min: 0, max: 5 },
  DescribeGroups: { min: 0, max: 5 },
  ListGroups: { min: 0, max: 5 },
  ApiVersions: { min: 0, max: 4 },
  CreateTopics: { min: 0, max: 7 },
  DeleteTopics: { min: 0, max: 6 },
  DeleteRecords: { min: 0, max: 2 },
  InitProducerId: { min: 0, max: 5 },
  OffsetForLeaderEpoch: { min: 0, max: 4 },
  DescribeConfigs: { min: 0, max: 4 },
  AlterConfigs: { min: 0, max: 2 },
  CreatePartitions: { min: 0, max: 3 },
  DeleteGroups: { min: 0, max: 2 },
  IncrementalAlterConfigs: { min: 0, max: 1 },
  DescribeCluster: { min: 0, max: 1 },
};

/** Served range per API key, clamped to what the generated codecs implement. */
export const SERVED_VERSIONS: ReadonlyMap<number, VersionRange & { name: ServedApiName }> = new Map(
  (Object.entries(RANGES) as [ServedApiName, VersionRange][]).map(([name, r]) => {
    const codec = APIS[name];
    return [codec.apiKey, { name, min: Math.max(r.min, codec.minVersion), max: Math.min(r.max, codec.maxVersion) }];
  }),
);

/** The ApiVersions list: every served API with its range, by api key. */
export function apiVersionsList(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return [...SERVED_VERSIONS.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([apiKey, r]) => ({ apiKey, minVersion: r.min, maxVersion: r.max }));
}
