/**
 * Messages between the engine thread and its owner workers.
 *
 * Data path (no postMessage): the append ring carries `AppendEntry`s (a = request id, b = partition slot,
 * c = acks code) with the batch bytes as payload; the completion ring carries results (a = request id,
 * b = status: 0 = ok, else 1 + index in ERROR_CODES; payload: 4 × int64 [baseOffset, lastOffset,
 * logAppendTime, logStartOffset] on success, the UTF-8 error message otherwise).
 *
 * Control path (postMessage): `OwnerRequest`s answered by `OwnerResponse`s with the same id; errors cross as
 * `{ code, message }` and are rebuilt into SluiceError with the same code.
 */
import type { SluiceErrorCode } from '../errors.js';
import { SluiceError } from '../errors.js';
import type { LogConfig } from '../storage/types.js';
import type { CorruptionPolicy } from '../storage/recovery.js';

/** acks as carried in an append entry. */
export const ACKS_NONE = 0;
export const ACKS_LEADER = 1;
export const ACKS_ALL = 2;

export const STATUS_OK = 0;
/** Bytes of a successful completion's payload. */
export const COMPLETION_OK_BYTES = 32;

/**
 * Every code, in a fixed order, so a completion can carry it as a small integer (1 + its index). Checked
 * below to hold the whole union: a code added to SluiceErrorCode and not here fails to compile (rather than
 * crossing from the owner as STORAGE).
 */
export const ERROR_CODES = [
  'CORRUPT_RECORD',
  'UNSUPPORTED_COMPRESSION',
  'RECORD_TOO_LARGE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'TOPIC_ALREADY_EXISTS',
  'INVALID_TOPIC',
  'INVALID_PARTITIONS',
  'INVALID_CONFIG',
  'OFFSET_OUT_OF_RANGE',
  'OUT_OF_ORDER_SEQUENCE',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'CLOSED',
  'STORAGE',
  'INVALID_ARGUMENT',
  'TIMEOUT',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'INVALID_TXN_STATE',
  'NOT_ENOUGH_REPLICAS',
  'METADATA_UNAVAILABLE',
] as const satisfies readonly SluiceErrorCode[];

/** `true` only when ERROR_CODES lists every SluiceErrorCode; otherwise the type names the missing ones. */
type MissingErrorCodes = Exclude<SluiceErrorCode, (typeof ERROR_CODES)[number]>;
const EVERY_CODE_HAS_A_STATUS: [MissingErrorCodes] extends [never] ? true : MissingErrorCodes = true;
void EVERY_CODE_HAS_A_STATUS;

export function statusOf(code: SluiceErrorCode): number {
  const i = (ERROR_CODES as readonly SluiceErrorCode[]).indexOf(code);
  return i < 0 ? 1 + ERROR_CODES.indexOf('STORAGE') : 1 + i;
}

export function codeOfStatus(status: number): SluiceErrorCode {
  return ERROR_CODES[status - 1] ?? 'STORAGE';
}

/** An error as it crosses a thread boundary. */
export interface WireError {
  code: SluiceErrorCode;
  message: string;
}

/** Anything thrown → `{ code, message }` (non-Sluice errors become STORAGE: they come from I/O). */
export function toWireError(e: unknown): WireError {
  if (e instanceof SluiceError) return { code: e.code, message: e.message };
  const err = e as { message?: unknown; code?: unknown };
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  return { code: 'STORAGE', message: typeof err?.code === 'string' ? `${err.code}: ${msg}` : msg };
}

/** Passed as `workerData` to each owner. */
export interface OwnerInit {
  ownerIndex: number;
  appendRing: SharedArrayBuffer;
  completionRing: SharedArrayBuffer;
  /** The shared manual clock's buffer, or null for the system clock. */
  clockBuffer: SharedArrayBuffer | null;
  maintenanceIntervalMs: number;
  /** producer.id.expiration.ms: idempotent producers idle this long are forgotten (at maintenance). */
  producerIdExpirationMs: number;
  /** Monitoring counters the owner writes (owner-stats.ts). */
  statsBuffer: SharedArrayBuffer;
  /** The engine's long-poll watch word (data-waits.ts), bumped when a watched partition changes. */
  watchBuffer: SharedArrayBuffer;
  /** What opening a partition does about corruption before its last segment. */
  onCorruption: CorruptionPolicy;
}

/**
 * When the owner releases a partition's acks=all completions: 'flushed' = after the flush decision that ends
 * each burst (durable as the topic's flush policy asks; a single node is its own in-sync replica set). A
 * replicated partition will release them once the in-sync replicas' high watermark passes them.
 */
export type AcksAllRelease = 'flushed';

export interface OpenPartitionRequest {
  op: 'open';
  slot: number;
  topic: string;
  partition: number;
  dir: string;
  config: LogConfig;
  /** The epoch appended batches are stamped with (the partition's leadership). */
  leaderEpoch: number;
  acksAllRelease: AcksAllRelease;
  stateBuffer: SharedArrayBuffer;
  stateIndex: number;
}

export type OwnerRequest =
  | OpenPartitionRequest
  /** Close the partition's log (with a snapshot); `forDelete` skips the clean-shutdown work. */
  | { op: 'close-partition'; slot: number; forDelete: boolean }
  | { op: 'config'; slot: number; config: LogConfig }
  | { op: 'offset-for-time'; slot: number; timestamp: bigint }
  | { op: 'delete-records'; slot: number; offset: bigint }
  | { op: 'sizes'; slots: number[] }
  | { op: 'maintenance' }
  | { op: 'flush' }
  | { op: 'close' };

/** Results by request kind. */
export interface OwnerResults {
  open: null;
  'close-partition': null;
  config: null;
  'offset-for-time': { offset: bigint; timestamp: bigint } | null;
  'delete-records': bigint;
  sizes: number[];
  maintenance: null;
  flush: null;
  close: null;
}

export interface OwnerRequestMessage {
  id: number;
  req: OwnerRequest;
}

export type OwnerResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError };

/** Log lines the owner forwards to the engine's logger. */
export interface OwnerLogMessage {
  log: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

export type OwnerMessage = OwnerResponse | OwnerLogMessage | { ready: true };
