/** The Kafka wire-protocol frontend. */
export { startKafkaServer, type KafkaServer, type KafkaServerOptions, type KafkaServerMetrics, type BrokerObserver } from './server.js';
