/**
 * Errors raised by the Kafka wire-protocol codecs.
 *
 * Malformed input is a `ProtocolError`: a `SluiceError` with code `INVALID_ARGUMENT`, so `kafkaErrorCodeOf`
 * maps it to Kafka's INVALID_REQUEST (42). The frontend should answer (or close the connection)
 * rather than crash; decoders never throw anything else on bad bytes.
 */
import { SluiceError } from '../errors.js';

export class ProtocolError extends SluiceError {
  /** Byte offset in the frame where the problem was found (-1 when not about a position, e.g. on encode). */
  readonly offset: number;
  constructor(message: string, offset = -1) {
    super('INVALID_ARGUMENT', offset >= 0 ? `${message} (at byte ${offset})` : message);
    this.name = 'ProtocolError';
    this.offset = offset;
  }
}

/** A request or response at a version (or of an API) that the codecs do not implement. Kafka code 35 (see `kafkaErrorCodeOf`). */
export class UnsupportedVersionError extends ProtocolError {
  readonly apiKey: number;
  readonly apiVersion: number;
  /** Set when the request header could be read, so the caller can still answer with UNSUPPORTED_VERSION. */
  readonly correlationId: number | undefined;
  constructor(what: string, apiKey: number, apiVersion: number, correlationId?: number) {
    super(`unsupported version ${apiVersion} of ${what}`);
    this.name = 'UnsupportedVersionError';
    this.apiKey = apiKey;
    this.apiVersion = apiVersion;
    this.correlationId = correlationId;
  }
}
