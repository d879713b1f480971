/** The cluster's parts (metadata in etcd so far): the etcd connection and the etcd kinds of the engine's metadata. */
export { DEFAULT_ETCD_PREFIX, DEFAULT_ETCD_REQUEST_TIMEOUT_MS, EtcdConnection, type EtcdConnectionOptions } from './etcd.js';
export { EtcdTopicStore, type EtcdTopicStoreOptions } from './etcd-topic-store.js';
export { DEFAULT_PRODUCER_ID_BLOCK_SIZE, EtcdProducerIdManager, type EtcdProducerIdManagerOptions } from './etcd-producer-ids.js';
export { BrokerRegistration, DEFAULT_BROKER_SESSION_TIMEOUT_MS, type BrokerRegistrationOptions } from './broker-registration.js';
