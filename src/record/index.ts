/** The record layer: Kafka RecordBatch v2 bytes, varints and compression codecs. */
export * from './batch-header.js';
export * from './types.js';
export * from './varint.js';
export * from './compression.js';
export * from './batch.js';
export * from './fetched.js';
