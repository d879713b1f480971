/**
 * Errors of the wire client. A non-zero Kafka error code in a response becomes a `KafkaProtocolError`
 * (code number + the name from Kafka's `Errors` enum); a broker that cannot be reached, a dropped connection
 * or a request without an answer becomes a `KafkaConnectionError`.
 */
import { SluiceError } from '../errors.js';
import { isRetriableKafkaError, kafkaErrorMessage, kafkaErrorName } from '../kafka-protocol/error-codes.js';

export { isRetriableKafkaError, kafkaErrorName };

/** A non-zero error code in a Kafka response. `message` reads e.g. "topic 'x': UNKNOWN_TOPIC_OR_PARTITION: …". */
export class KafkaProtocolError extends Error {
  /** The numeric Kafka error code. */
  readonly errorCode: number;
  /** Kafka's enum name, e.g. UNKNOWN_TOPIC_OR_PARTITION. */
  readonly errorName: string;
  readonly retriable: boolean;
  constructor(errorCode: number, context?: string, brokerMessage?: string | null) {
    const name = kafkaErrorName(errorCode);
    const text = brokerMessage || kafkaErrorMessage(errorCode) || 'unknown error';
    super(`${context ? `${context}: ` : ''}${name}: ${text}`);
    this.name = 'KafkaProtocolError';
    this.errorCode = errorCode;
    this.errorName = name;
    this.retriable = isRetriableKafkaError(errorCode);
  }
}

/** Throws a KafkaProtocolError when `code` is not 0. */
export function checkKafkaError(code: number, context?: string, brokerMessage?: string | null): void {
  if (code !== 0) throw new KafkaProtocolError(code, context, brokerMessage);
}

export type ConnectionFailure = 'unreachable' | 'timeout' | 'closed';

/**
 * The broker could not be reached, went away, or did not answer in time. Code TIMEOUT for timeouts and
 * CLOSED for a refused or dropped connection (the library has no dedicated connection code).
 */
export class KafkaConnectionError extends SluiceError {
  readonly host: string;
  readonly port: number;
  readonly failure: ConnectionFailure;
  constructor(failure: ConnectionFailure, host: string, port: number, message: string, options?: { cause?: unknown }) {
    super(failure === 'timeout' ? 'TIMEOUT' : 'CLOSED', message, options);
    this.name = 'KafkaConnectionError';
    this.host = host;
    this.port = port;
    this.failure = failure;
  }
}
