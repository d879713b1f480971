/**
 * How Sluice's errors read on the Kafka wire. The engine's errors carry only their own `SluiceErrorCode`;
 * the Kafka edges (the broker frontend, the group coordinator's answers, the wire client) map them here, so
 * another frontend maps them its own way.
 */
import { isSluiceError, type SluiceErrorCode } from '../errors.js';
import { KafkaErrors } from './error-codes.js';
import { UnsupportedVersionError } from './errors.js';

/** Kafka protocol error codes for each Sluice error code. */
export const KAFKA_ERROR_CODES: Readonly<Record<SluiceErrorCode, number>> = {
  CORRUPT_RECORD: KafkaErrors.CORRUPT_MESSAGE,
  INVALID_RECORD: KafkaErrors.INVALID_RECORD,
  INVALID_TIMESTAMP: KafkaErrors.INVALID_TIMESTAMP,
  INVALID_TXN_STATE: KafkaErrors.INVALID_TXN_STATE,
  NOT_ENOUGH_REPLICAS: KafkaErrors.NOT_ENOUGH_REPLICAS,
  UNSUPPORTED_COMPRESSION: KafkaErrors.UNSUPPORTED_COMPRESSION_TYPE,
  RECORD_TOO_LARGE: KafkaErrors.MESSAGE_TOO_LARGE,
  UNKNOWN_TOPIC_OR_PARTITION: KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
  TOPIC_ALREADY_EXISTS: KafkaErrors.TOPIC_ALREADY_EXISTS,
  INVALID_TOPIC: KafkaErrors.INVALID_TOPIC_EXCEPTION,
  INVALID_PARTITIONS: KafkaErrors.INVALID_PARTITIONS,
  INVALID_CONFIG: KafkaErrors.INVALID_CONFIG,
  OFFSET_OUT_OF_RANGE: KafkaErrors.OFFSET_OUT_OF_RANGE,
  OUT_OF_ORDER_SEQUENCE: KafkaErrors.OUT_OF_ORDER_SEQUENCE_NUMBER,
  INVALID_PRODUCER_EPOCH: KafkaErrors.INVALID_PRODUCER_EPOCH,
  UNKNOWN_PRODUCER_ID: KafkaErrors.UNKNOWN_PRODUCER_ID,
  CLOSED: KafkaErrors.NOT_LEADER_OR_FOLLOWER, // a closing broker no longer serves the partition
  STORAGE: KafkaErrors.KAFKA_STORAGE_ERROR,
  INVALID_ARGUMENT: KafkaErrors.INVALID_REQUEST,
  TIMEOUT: KafkaErrors.REQUEST_TIMED_OUT,
  // A KRaft broker forwards CreateTopics and friends to the controller quorum; when the quorum does not answer, the
  // forwarded request times out and the client gets REQUEST_TIMED_OUT, which it retries. KAFKA_STORAGE_ERROR
  // would say a log directory failed, which is not the case.
  METADATA_UNAVAILABLE: KafkaErrors.REQUEST_TIMED_OUT,
};

/** The Kafka error code for anything thrown: a SluiceError by its code, anything else UNKNOWN_SERVER_ERROR. */
export function kafkaErrorCodeOf(err: unknown): number {
  // Still INVALID_ARGUMENT to the engine, but Kafka has a code of its own for it.
  if (err instanceof UnsupportedVersionError) return KafkaErrors.UNSUPPORTED_VERSION;
  if (isSluiceError(err)) return KAFKA_ERROR_CODES[err.code];
  return KafkaErrors.UNKNOWN_SERVER_ERROR;
}
