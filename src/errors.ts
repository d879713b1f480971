/**
 * Typed errors of the Sluice library. Every error a user can receive is a `SluiceError` with a stable
 * string `code`; frontends map codes to their own wire errors (e.g. `kafkaErrorCode`).
 */

export type SluiceErrorCode =
  | 'CORRUPT_RECORD' // bytes that are not a valid RecordBatch (bad CRC, bad lengths, bad magic)
  | 'UNSUPPORTED_COMPRESSION'
  | 'RECORD_TOO_LARGE' // batch larger than max.message.bytes
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_TOPIC'
  | 'INVALID_PARTITIONS'
  | 'INVALID_CONFIG'
  | 'OFFSET_OUT_OF_RANGE'
  | 'OUT_OF_ORDER_SEQUENCE'
  | 'DUPLICATE_SEQUENCE'
  | 'INVALID_PRODUCER_EPOCH' // fenced: an older epoch than the one the log has seen
  | 'UNKNOWN_PRODUCER_ID'
  | 'CLOSED' // the engine (or a producer/consumer) was closed
  | 'STORAGE' // an I/O failure or on-disk corruption outside the recoverable tail
  | 'INVALID_ARGUMENT'
  | 'TIMEOUT';

/** Kafka protocol error codes for each Sluice error code (from Kafka's `Errors` enum). */
export const KAFKA_ERROR_CODES: Readonly<Record<SluiceErrorCode, number>> = {
  CORRUPT_RECORD: 2,
  UNSUPPORTED_COMPRESSION: 76,
  RECORD_TOO_LARGE: 10, // MESSAGE_TOO_LARGE
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_TOPIC: 17, // INVALID_TOPIC_EXCEPTION
  INVALID_PARTITIONS: 37,
  INVALID_CONFIG: 40,
  OFFSET_OUT_OF_RANGE: 1,
  OUT_OF_ORDER_SEQUENCE: 45, // OUT_OF_ORDER_SEQUENCE_NUMBER
  DUPLICATE_SEQUENCE: 46, // DUPLICATE_SEQUENCE_NUMBER
  INVALID_PRODUCER_EPOCH: 47,
  UNKNOWN_PRODUCER_ID: 59,
  CLOSED: 6, // NOT_LEADER_OR_FOLLOWER: a closing broker no longer serves the partition
  STORAGE: 56, // KAFKA_STORAGE_ERROR
  INVALID_ARGUMENT: 42, // INVALID_REQUEST
  TIMEOUT: 7, // REQUEST_TIMED_OUT
};

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
  }
  get kafkaErrorCode(): number {
    return KAFKA_ERROR_CODES[this.code];
  }
}

/** Bytes that do not form a valid RecordBatch. `position` is where in the input the problem was found. */
export class CorruptRecordError extends SluiceError {
  readonly position: number;
  constructor(message: string, position = -1) {
    super('CORRUPT_RECORD', position >= 0 ? `${message} (at byte ${position})` : message);
    this.name = 'CorruptRecordError';
    this.position = position;
  }
}

export class ConfigError extends SluiceError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('INVALID_CONFIG', `invalid config ${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** Errors crossing a worker boundary lose their class; this restores them from `{ code, message }`. */
export function errorFromWire(code: SluiceErrorCode, message: string): SluiceError {
  return new SluiceError(code, message);
}

export function isSluiceError(e: unknown): e is SluiceError {
  return e instanceof SluiceError;
}
