/**
 * The API versions this broker serves (what ApiVersions advertises). Kept apart from the handlers so the
 * ApiVersions handler and the dispatcher share one list.
 *
 * Produce is served from v3 and Fetch from v4: older versions carry message sets v0/v1, and Sluice stores and
 * serves RecordBatch v2 only (no down-conversion); such requests are answered UNSUPPORTED_VERSION per
 * partition. Produce is nevertheless *advertised* from v0, as Kafka 3.x does: librdkafka before 2.10 only
 * uses gzip/snappy/lz4 when the broker's Produce range includes v0, and silently sends uncompressed
 * otherwise. Clients pick the highest common version, so none will send v0-2. SASL and transactions are not
 * offered.
 */
import { APIS, type ServedApiName } from '../../kafka-protocol/generated/index.js';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
  /** Lowest version advertised by ApiVersions when it is below `min` (see Produce above). */
  readonly advertisedMin?: number;
}

const RANGES: Readonly<Partial<Record<ServedApiName, VersionRange>>> = {
  Produce: { min: 3, max: 11, advertisedMin: 0 },
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
  DescribeLogDirs: { min: 0, max: 4 },
  CreatePartitions: { min: 0, max: 3 },
  DeleteGroups: { min: 0, max: 2 },
  IncrementalAlterConfigs: { min: 0, max: 1 },
  DescribeCluster: { min: 0, max: 1 },
};

/** Served range per API key, clamped to what the generated codecs implement. */
export const SERVED_VERSIONS: ReadonlyMap<number, VersionRange & { name: ServedApiName }> = new Map(
  (Object.entries(RANGES) as [ServedApiName, VersionRange][]).map(([name, r]) => {
    const codec = APIS[name];
    const min = Math.max(r.min, codec.minVersion);
    return [codec.apiKey, { name, min, max: Math.min(r.max, codec.maxVersion), advertisedMin: Math.max(r.advertisedMin ?? min, codec.minVersion) }];
  }),
);

/** The ApiVersions list: every served API with its range, by api key. */
export function apiVersionsList(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return [...SERVED_VERSIONS.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([apiKey, r]) => ({ apiKey, minVersion: r.advertisedMin ?? r.min, maxVersion: r.max }));
}
