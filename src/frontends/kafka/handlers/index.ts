/** The handler of every served API, by name. */
import type { ServedApiName } from '../../../kafka-protocol/generated/index.js';
import type { Handler } from './types.js';
import { handleApiVersions } from './api-versions.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets } from './list-offsets.js';
import { handleCreatePartitions, handleCreateTopics, handleDeleteTopics } from './topics.js';
import {
  handleDeleteGroups,
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleSyncGroup,
} from './groups.js';
import { handleOffsetCommit, handleOffsetFetch } from './offsets.js';
import { handleInitProducerId } from './producer.js';
import { handleAlterConfigs, handleDescribeConfigs, handleIncrementalAlterConfigs } from './configs.js';
import { handleDeleteRecords, handleOffsetForLeaderEpoch } from './records.js';
import { handleDescribeCluster } from './cluster.js';
import { handleDescribeLogDirs } from './log-dirs.js';

export const HANDLERS: { readonly [K in ServedApiName]?: Handler<K> } = {
  ApiVersions: handleApiVersions,
  Metadata: handleMetadata,
  Produce: handleProduce,
  Fetch: handleFetch,
  ListOffsets: handleListOffsets,
  CreateTopics: handleCreateTopics,
  DeleteTopics: handleDeleteTopics,
  CreatePartitions: handleCreatePartitions,
  FindCoordinator: handleFindCoordinator,
  JoinGroup: handleJoinGroup,
  SyncGroup: handleSyncGroup,
  Heartbeat: handleHeartbeat,
  LeaveGroup: handleLeaveGroup,
  DescribeGroups: handleDescribeGroups,
  ListGroups: handleListGroups,
  DeleteGroups: handleDeleteGroups,
  OffsetCommit: handleOffsetCommit,
  OffsetFetch: handleOffsetFetch,
  InitProducerId: handleInitProducerId,
  DescribeConfigs: handleDescribeConfigs,
  AlterConfigs: handleAlterConfigs,
  IncrementalAlterConfigs: handleIncrementalAlterConfigs,
  DeleteRecords: handleDeleteRecords,
  OffsetForLeaderEpoch: handleOffsetForLeaderEpoch,
  DescribeLogDirs: handleDescribeLogDirs,
  DescribeCluster: handleDescribeCluster,
};
