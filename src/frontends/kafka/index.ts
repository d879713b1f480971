/** The Kafka wire-protocol frontend. */
export { startKafkaServer, type KafkaServer, type KafkaServerOptions, type KafkaServerMetrics } from './server.js';
