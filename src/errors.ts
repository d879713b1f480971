/**
 * Typed errors of the Sluice library. Every error a user can receive is a `SluiceError` with a stable
 * string `code`. The codes are the engine's own; each frontend maps them to its wire errors (the Kafka
 * edges through `kafkaErrorCodeOf` in kafka-protocol/sluice-errors.ts).
 */

export type SluiceErrorCode =
  | 'CORRUPT_RECORD' // bytes that are not a valid RecordBatch (bad CRC, bad lengths, bad magic)
  | 'INVALID_RECORD' // a CRC-valid batch whose header or records break Kafka's rules (count, offsets, lengths, flags)
  | 'INVALID_TIMESTAMP' // a record timestamp outside message.timestamp.before/after.max.ms, or a LogAppendTime batch from a producer
  | 'INVALID_TXN_STATE' // a transactional batch for a partition that is in no transaction
  | 'NOT_ENOUGH_REPLICAS' // acks=all while min.insync.replicas exceeds the in-sync replicas (1 on one node)
  | 'UNSUPPORTED_COMPRESSION'
  | 'RECORD_TOO_LARGE' // batch larger than max.message.bytes
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_TOPIC'
  | 'INVALID_PARTITIONS'
  | 'INVALID_CONFIG'
  | 'OFFSET_OUT_OF_RANGE'
  | 'OUT_OF_ORDER_SEQUENCE'
  | 'INVALID_PRODUCER_EPOCH' // fenced: an older epoch than the one the log has seen
  | 'UNKNOWN_PRODUCER_ID'
  | 'CLOSED' // the engine (or a producer/consumer) was closed
  | 'STORAGE' // an I/O failure or on-disk corruption outside the recoverable tail
  | 'INVALID_ARGUMENT'
  | 'TIMEOUT'
  | 'METADATA_UNAVAILABLE'; // the metadata service (etcd) did not answer in time: nothing was decided, retry later

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
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

/** One refused record of a batch: its index in the batch (Kafka's `batch_index`) and why. */
export interface RecordError {
  batchIndex: number;
  message: string;
}

/**
 * A CRC-valid batch refused by the produce-time checks (Kafka's LogValidator rules). `recordErrors` names the
 * records at fault when the problem is theirs (Produce v8+ returns them as `record_errors`); it is empty when
 * the batch as a whole is at fault.
 */
export class InvalidRecordError extends SluiceError {
  readonly recordErrors: readonly RecordError[];
  constructor(code: 'INVALID_RECORD' | 'INVALID_TIMESTAMP' | 'INVALID_TXN_STATE', message: string, recordErrors: readonly RecordError[] = []) {
    super(code, message);
    this.name = 'InvalidRecordError';
    this.recordErrors = recordErrors;
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
