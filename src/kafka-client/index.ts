/** A Kafka wire-protocol client on Sluice's generated codecs: connections, cluster view, typed operations. */
export { KafkaClient } from './client.js';
export { groupByTopic } from './cluster.js';
export { Connection, hostPort, parseBootstrap } from './connection.js';
export type { ConnectionOptions, RequestOptions } from './connection.js';
export { KafkaProtocolError, KafkaConnectionError, kafkaErrorName, isRetriableKafkaError, checkKafkaError } from './errors.js';
export type { ConnectionFailure } from './errors.js';
export { GroupMember, rangeAssign } from './group.js';
export type { GroupMemberOptions, GroupGeneration } from './group.js';
export { decodeFetchedRecords } from '../record/fetched.js';
export type { FetchedRecords } from '../record/fetched.js';
export * from './types.js';
export { KafkaProduceTarget, producerErrorOf } from './produce-target.js';
export type { KafkaProduceTargetOptions } from './produce-target.js';
