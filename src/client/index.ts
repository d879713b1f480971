/** The embedded clients: producer, consumer and the default partitioner. */
export { Producer } from './producer.js';
export type {
  CompressionName,
  ProduceTarget,
  ProducerEngine,
  ProducerMessage,
  ProducerOptions,
  ProducerRecordSet,
  RecordMetadata,
} from './producer.js';
export { Consumer } from './consumer.js';
export type {
  AutoOffsetReset,
  CommitEntry,
  ConsumerEngine,
  ConsumerOptions,
  ConsumerRecord,
  OffsetsBackend,
  PollOptions,
  SeekTarget,
  TopicPartitionOffset,
} from './consumer.js';
export { DefaultPartitioner, murmur2, murmur2Key, partitionForKey, toPositive } from './partitioner.js';
export type { Partitioner, RandomSource } from './partitioner.js';
