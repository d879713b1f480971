/**
 * Encoding and decoding of whole Kafka RecordBatches (magic 2), byte-compatible with Kafka's
 * DefaultRecordBatch / DefaultRecord.
 *
 * Record layout inside the records section (compressed as a whole when the batch is compressed):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | keyLength varint | key
 *   | valueLength varint | value | headerCount varint | (keyLength varint, utf8 key, valueLength varint,
 *   value)*
 * Lengths of -1 mean null.
 *
 * Encoding sizes everything first and writes into one buffer (the hot path of every producer); decoding
 * checks every length against the bytes that remain before slicing or allocating, so arbitrary input ends in
 * a value or a SluiceError.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  type BatchHeader,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  CompressionType,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  readBatchHeader,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TimestampType,
  TRANSACTIONAL_MASK,
  validateBatch,
} from './batch-header.js';
import { compress, decompress, DEFAULT_MAX_DECOMPRESSED_BYTES } from './compression.js';
import type { BatchEncodeOptions, DecodedBatch, LogRecord, RecordHeader, RecordInput } from './types.js';
import { ByteReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

/** Kafka's RecordBatch.NO_TIMESTAMP. */
export const NO_TIMESTAMP = -1n;
/** Smallest possible record: length, attributes, timestampDelta, offsetDelta, key/value lengths, header count. */
const MIN_RECORD_SIZE = 7;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Largest batch whose size fits the int32 batchLength field. */
const MAX_BATCH_SIZE = INT32_MAX + LOG_OVERHEAD;

/**
 * Header of a batch written by `buildBatch`. Defaults: partitionLeaderEpoch -1, producerId -1,
 * producerEpoch -1, baseSequence -1, CreateTime, no compression, not transactional, not control.
 */
export interface BatchBuildHeader {
  baseOffset: bigint;
  /** Defaults to the last record's offset - baseOffset (0 without records). May be larger, never smaller. */
  lastOffsetDelta?: number;
  partitionLeaderEpoch?: number;
  /**
   * Raw attributes, kept as they are (including the delete-horizon bit); when given, `compression`,
   * `timestampType`, `transactional` and `control` are ignored. Without records the codec bits are cleared,
   * as Kafka writes empty batches uncompressed.
   */
  attributes?: number;
  compression?: CompressionType;
  timestampType?: TimestampType;
  transactional?: boolean;
  control?: boolean;
  compressionLevel?: number;
  /** Record timestamp deltas are relative to this. Defaults to the first record's timestamp (or -1). */
  baseTimestamp?: bigint;
  /** Defaults to the largest record timestamp (or -1); give the append time for LogAppendTime batches. */
  maxTimestamp?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

/** Options of the decoders. */
export interface DecodeOptions {
  /** Bound on the decompressed records section of one batch (default 256 MiB). */
  maxDecompressedBytes?: number;
}

export interface DecodeBatchesOptions extends DecodeOptions {
  /** Ignore an incomplete batch at the end of the input (as a fetch response may have) instead of failing. */
  allowPartialTail?: boolean;
}

export interface ForEachBatchOptions {
  allowPartialTail?: boolean;
}

/** Called by `forEachBatch` for each complete, CRC-valid batch. */
export type BatchVisitor = (header: BatchHeader, pos: number, size: number) => void;

// ---------------------------------------------------------------------------------------------------------
// encoding

type Bytes = Buffer | Uint8Array | string | null | undefined;

/** Header fields of the batch being encoded, validated. */
interface HeaderFields {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  attributes: number;
  lastOffsetDelta: number | undefined;
  baseTimestamp: bigint | undefined;
  maxTimestamp: bigint | undefined;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  compressionLevel: number | undefined;
}

// Per-record scratch reused across calls (encoding is synchronous and never re-enters).
let bodySizes = new Int32Array(1024);
let keyLens = new Int32Array(1024);
let valueLens = new Int32Array(1024);
let timestamps = new Float64Array(1024);
let offsetDeltas = new Int32Array(1024);

function ensureScratch(n: number): void {
  if (bodySizes.length >= n) return;
  let cap = bodySizes.length;
  while (cap < n) cap *= 2;
  bodySizes = new Int32Array(cap);
  keyLens = new Int32Array(cap);
  valueLens = new Int32Array(cap);
  timestamps = new Float64Array(cap);
  offsetDeltas = new Int32Array(cap);
}

function invalid(message: string): SluiceError {
  return new SluiceError('INVALID_ARGUMENT', message);
}

function checkInt(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function checkInt64(value: bigint, name: string): bigint {
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) throw invalid(`${name} must be an int64 bigint, got ${String(value)}`);
  return value;
}

/** Encoded length of a key, value or header value; -1 for null. `what` names it in errors (no per-call strings). */
function bytesLength(v: Bytes, what: string, index: number): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'string') return v.length === 0 ? 0 : Buffer.byteLength(v, 'utf8');
  if (v instanceof Uint8Array) return v.length;
  throw invalid(`record ${index}: ${what} must be a Buffer, a string or null, got ${typeof v}`);
}

function writeBytes(buf: Buffer, pos: number, v: Buffer | Uint8Array | string, len: number): number {
  if (typeof v === 'string') {
    if (len === v.length && len < 24) {
      // Short ASCII: a plain loop beats the native utf8 write call.
      for (let i = 0; i < len; i++) buf[pos + i] = v.charCodeAt(i);
    } else {
      buf.write(v, pos, len, 'utf8');
    }
  } else if (len > 0) {
    buf.set(v, pos);
  }
  return pos + len;
}

/** Size of the headers section of record `index`, count included. */
function headersSize(headers: RecordInput['headers'], index: number): number {
  if (headers === undefined || headers === null) return 1;
  if (Array.isArray(headers)) {
    let size = sizeOfVarint(headers.length);
    for (let j = 0; j < headers.length; j++) {
      const h = headers[j]!;
      if (typeof h !== 'object' || h === null || typeof h.key !== 'string') throw invalid(`record ${index}: a header needs a string key`);
      const kl = bytesLength(h.key, 'header key', index);
      const vl = bytesLength(h.value, 'header value', index);
      size += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
    }
    return size;
  }
  if (typeof headers !== 'object') throw invalid(`record ${index}: headers must be an array or an object`);
  const keys = Object.keys(headers);
  let size = sizeOfVarint(keys.length);
  for (let j = 0; j < keys.length; j++) {
    const k = keys[j]!;
    const kl = bytesLength(k, 'header key', index);
    const vl = bytesLength(headers[k], 'header value', index);
    size += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
  }
  return size;
}

function writeHeaders(buf: Buffer, pos: number, headers: RecordInput['headers']): number {
  if (headers === undefined || headers === null) {
    buf[pos] = 0;
    return pos + 1;
  }
  if (Array.isArray(headers)) {
    pos = writeVarint(buf, pos, headers.length);
    for (let j = 0; j < headers.length; j++) {
      const h = headers[j]!;
      pos = writeHeader(buf, pos, h.key, h.value);
    }
    return pos;
  }
  const keys = Object.keys(headers);
  pos = writeVarint(buf, pos, keys.length);
  for (let j = 0; j < keys.length; j++) pos = writeHeader(buf, pos, keys[j]!, headers[keys[j]!]);
  return pos;
}

function writeHeader(buf: Buffer, pos: number, key: string, value: Bytes): number {
  const kl = bytesLength(key, 'header key', -1);
  pos = writeBytes(buf, writeVarint(buf, pos, kl), key, kl);
  const vl = bytesLength(value, 'header value', -1);
  pos = writeVarint(buf, pos, vl);
  return vl > 0 ? writeBytes(buf, pos, value as Buffer | string, vl) : pos;
}

/** A timestamp as a number when it is a safe integer, else as an int64 bigint. */
function timestampOf(t: unknown, index: number): number | bigint {
  if (typeof t === 'number') {
    if (!Number.isSafeInteger(t)) throw invalid(`${timestampName(index)} must be an integer, got ${t}`);
    return t;
  }
  if (typeof t === 'bigint') {
    if (t < INT64_MIN || t > INT64_MAX) throw invalid(`${timestampName(index)} must fit int64, got ${t}`);
    return t >= -9007199254740991n && t <= 9007199254740991n ? Number(t) : t;
  }
  throw invalid(`${timestampName(index)} must be a number or a bigint`);
}

function timestampName(index: number): string {
  return index < 0 ? 'now' : `record ${index}: timestamp`;
}

/**
 * Encodes `records` as one batch. `deltas` (when given) holds each record's offsetDelta; otherwise record i
 * has offsetDelta i.
 */
function encodeRecords(records: readonly RecordInput[], h: HeaderFields, deltas: Int32Array | null, now: number | bigint): Buffer {
  const n = records.length;
  ensureScratch(n);
  const bSizes = bodySizes;
  const kLens = keyLens;
  const vLens = valueLens;
  const ts = timestamps;

  // Pass 1: timestamps. Numbers unless some timestamp (or delta) needs 64 bits.
  let wide: (number | bigint)[] | null = null;
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    if (typeof rec !== 'object' || rec === null) throw invalid(`record ${i} is not an object`);
    const t = timestampOf(rec.timestamp ?? now, i);
    if (typeof t === 'bigint' && wide === null) {
      wide = [];
      for (let j = 0; j < i; j++) wide.push(ts[j]!);
    }
    if (wide !== null) wide.push(t);
    else ts[i] = t as number;
  }
  const baseTs: number | bigint = h.baseTimestamp ?? (n > 0 ? (wide ? wide[0]! : ts[0]!) : NO_TIMESTAMP);
  // Doubles stay exact while the base and every delta are within ±2^52; otherwise switch to bigints.
  const baseNum = Number(baseTs);
  if (wide === null && !(baseNum >= -(2 ** 52) && baseNum <= 2 ** 52)) wide = Array.from(ts.subarray(0, n));
  if (wide === null) {
    for (let i = 0; i < n; i++) {
      const d = ts[i]! - baseNum;
      if (d > 2 ** 52 || d < -(2 ** 52)) {
        wide = Array.from(ts.subarray(0, n));
        break;
      }
    }
  }
  const baseTsBig = BigInt(baseTs);
  let wideDeltas: bigint[] | null = null;
  let maxTs: bigint;
  if (wide !== null) {
    wideDeltas = new Array<bigint>(n);
    let max = NO_TIMESTAMP;
    for (let i = 0; i < n; i++) {
      const t = BigInt(wide[i]!);
      if (i === 0 || t > max) max = t;
      wideDeltas[i] = t - baseTsBig;
      if (wideDeltas[i]! < INT64_MIN || wideDeltas[i]! > INT64_MAX) throw invalid(`record ${i}: timestamp delta does not fit int64`);
    }
    maxTs = max;
  } else {
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (ts[i]! > max) max = ts[i]!;
    maxTs = n > 0 ? BigInt(max) : NO_TIMESTAMP;
  }

  // Pass 2: sizes.
  let recordsSize = 0;
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    const kl = bytesLength(rec.key, 'key', i);
    const vl = bytesLength(rec.value, 'value', i);
    kLens[i] = kl;
    vLens[i] = vl;
    const tsSize = wideDeltas !== null ? sizeOfVarlong(wideDeltas[i]!) : sizeOfVarlong(ts[i]! - baseNum);
    const body =
      1 +
      tsSize +
      sizeOfVarint(deltas !== null ? deltas[i]! : i) +
      sizeOfVarint(kl) +
      (kl > 0 ? kl : 0) +
      sizeOfVarint(vl) +
      (vl > 0 ? vl : 0) +
      headersSize(rec.headers, i);
    bSizes[i] = body;
    recordsSize += sizeOfVarint(body) + body;
    if (recordsSize > MAX_BATCH_SIZE) throw new SluiceError('RECORD_TOO_LARGE', `batch of ${n} records exceeds ${MAX_BATCH_SIZE} bytes`);
  }

  // Pass 3: write. Uncompressed records go straight after the header; compressed ones to a scratch buffer.
  const codec = h.attributes & COMPRESSION_MASK;
  const compressed = codec !== CompressionType.None && n > 0;
  let out: Buffer;
  let target: Buffer;
  let pos: number;
  if (compressed) {
    target = Buffer.allocUnsafe(recordsSize);
    pos = 0;
  } else {
    if (RECORDS_OFFSET + recordsSize > MAX_BATCH_SIZE) throw new SluiceError('RECORD_TOO_LARGE', `batch exceeds ${MAX_BATCH_SIZE} bytes`);
    out = target = Buffer.allocUnsafe(RECORDS_OFFSET + recordsSize);
    pos = RECORDS_OFFSET;
  }
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    pos = writeVarint(target, pos, bSizes[i]!);
    target[pos++] = 0; // record attributes: unused by Kafka
    pos = writeVarlong(target, pos, wideDeltas !== null ? wideDeltas[i]! : ts[i]! - baseNum);
    pos = writeVarint(target, pos, deltas !== null ? deltas[i]! : i);
    const kl = kLens[i]!;
    pos = writeVarint(target, pos, kl);
    if (kl > 0) pos = writeBytes(target, pos, rec.key as Buffer | string, kl);
    const vl = vLens[i]!;
    pos = writeVarint(target, pos, vl);
    if (vl > 0) pos = writeBytes(target, pos, rec.value as Buffer | string, vl);
    pos = writeHeaders(target, pos, rec.headers);
  }
  // Sizes and writes come from the same inputs; a mismatch means a record changed mid-encode (getters).
  if (pos !== target.length) throw invalid('records changed while being encoded');

  if (compressed) {
    const body = compress(codec as CompressionType, target, h.compressionLevel);
    if (RECORDS_OFFSET + body.length > MAX_BATCH_SIZE) throw new SluiceError('RECORD_TOO_LARGE', `batch exceeds ${MAX_BATCH_SIZE} bytes`);
    out = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
    out.set(body, RECORDS_OFFSET);
  }
  const lastOffsetDelta = h.lastOffsetDelta ?? (n === 0 ? 0 : deltas !== null ? deltas[n - 1]! : n - 1);
  const attributes = n === 0 ? h.attributes & ~COMPRESSION_MASK : h.attributes;
  const timestampType = attributes & TIMESTAMP_TYPE_MASK;
  writeBatchHeader(out!, h, attributes, lastOffsetDelta, baseTsBig, h.maxTimestamp ?? (timestampType ? BigInt(now) : maxTs), n);
  return out!;
}

function writeBatchHeader(
  out: Buffer,
  h: HeaderFields,
  attributes: number,
  lastOffsetDelta: number,
  baseTimestamp: bigint,
  maxTimestamp: bigint,
  count: number,
): void {
  out.writeBigInt64BE(h.baseOffset, BASE_OFFSET_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(h.partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  out[MAGIC_OFFSET] = 2;
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  out.writeBigInt64BE(checkInt64(baseTimestamp, 'baseTimestamp'), BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(checkInt64(maxTimestamp, 'maxTimestamp'), MAX_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(h.producerId, PRODUCER_ID_OFFSET);
  out.writeInt16BE(h.producerEpoch, PRODUCER_EPOCH_OFFSET);
  out.writeInt32BE(h.baseSequence, BASE_SEQUENCE_OFFSET);
  out.writeInt32BE(count, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
}

function attributesOf(o: {
  compression?: CompressionType | undefined;
  timestampType?: TimestampType | undefined;
  transactional?: boolean | undefined;
  control?: boolean | undefined;
}): number {
  const codec = o.compression ?? CompressionType.None;
  if (!Number.isInteger(codec) || codec < 0 || codec > CompressionType.Zstd) {
    throw new SluiceError('UNSUPPORTED_COMPRESSION', `unsupported compression codec id ${String(codec)}`);
  }
  return (
    codec |
    (o.timestampType === TimestampType.LogAppendTime ? TIMESTAMP_TYPE_MASK : 0) |
    (o.transactional ? TRANSACTIONAL_MASK : 0) |
    (o.control ? CONTROL_MASK : 0)
  );
}

function headerFields(
  o: BatchEncodeOptions | BatchBuildHeader,
  attributes: number,
  lastOffsetDelta: number | undefined,
  baseTimestamp: bigint | undefined,
  maxTimestamp: bigint | undefined,
): HeaderFields {
  const baseOffset = o.baseOffset ?? 0n;
  return {
    baseOffset: checkInt64(baseOffset, 'baseOffset'),
    partitionLeaderEpoch: checkInt(o.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, -0x8000_0000, INT32_MAX, 'partitionLeaderEpoch'),
    attributes,
    lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId: checkInt64(o.producerId ?? NO_PRODUCER_ID, 'producerId'),
    producerEpoch: checkInt(o.producerEpoch ?? NO_PRODUCER_EPOCH, -0x8000, 0x7fff, 'producerEpoch'),
    baseSequence: checkInt(o.baseSequence ?? NO_SEQUENCE, -0x8000_0000, INT32_MAX, 'baseSequence'),
    compressionLevel: o.compressionLevel,
  };
}

/**
 * Encodes `records` as one complete RecordBatch v2 with its CRC set. Record i gets offset
 * `baseOffset + i`; records without a timestamp get `opts.now ?? Date.now()`. For LogAppendTime the batch's
 * maxTimestamp is `opts.now` (the append time).
 */
export function encodeBatch(records: readonly RecordInput[], opts: BatchEncodeOptions = {}): Buffer {
  if (!Array.isArray(records)) throw invalid('records must be an array');
  if (records.length === 0) throw invalid('a batch needs at least one record');
  if (records.length > INT32_MAX) throw invalid('too many records for one batch');
  const now = opts.now !== undefined ? timestampOf(opts.now, -1) : Date.now();
  const h = headerFields(opts, attributesOf(opts), undefined, undefined, undefined);
  return encodeRecords(records, h, null, now);
}

/**
 * Writes a batch of already-offset records (log compaction, replication): offset deltas are relative to
 * `header.baseOffset`, timestamps and headers are kept, and producer fields/attributes are as given.
 * Records must have increasing offsets within `baseOffset..baseOffset + lastOffsetDelta`.
 */
export function buildBatch(header: BatchBuildHeader, records: readonly LogRecord[]): Buffer {
  if (typeof header !== 'object' || header === null) throw invalid('buildBatch needs a header');
  if (!Array.isArray(records)) throw invalid('records must be an array');
  const n = records.length;
  const baseOffset = checkInt64(header.baseOffset, 'baseOffset');
  ensureScratch(n);
  const deltas = offsetDeltas;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    if (typeof rec !== 'object' || rec === null || typeof rec.offset !== 'bigint') throw invalid(`record ${i} needs a bigint offset`);
    const d = rec.offset - baseOffset;
    if (d < 0n || d > BigInt(INT32_MAX)) throw invalid(`record ${i}: offset ${rec.offset} is outside baseOffset ${baseOffset} + int32`);
    const dn = Number(d);
    if (dn <= prev) throw invalid(`record ${i}: offsets must increase (${rec.offset} after delta ${prev})`);
    deltas[i] = prev = dn;
  }
  let lastOffsetDelta = header.lastOffsetDelta;
  if (lastOffsetDelta !== undefined) {
    checkInt(lastOffsetDelta, 0, INT32_MAX, 'lastOffsetDelta');
    if (lastOffsetDelta < prev) throw invalid(`lastOffsetDelta ${lastOffsetDelta} is below the last record's delta ${prev}`);
  }
  let attributes: number;
  if (header.attributes !== undefined) {
    attributes = checkInt(header.attributes, -0x8000, 0x7fff, 'attributes');
    if ((attributes & COMPRESSION_MASK) > CompressionType.Zstd) {
      throw new SluiceError('UNSUPPORTED_COMPRESSION', `unsupported compression codec id ${attributes & COMPRESSION_MASK}`);
    }
  } else {
    attributes = attributesOf(header);
  }
  const baseTimestamp = header.baseTimestamp === undefined ? undefined : checkInt64(header.baseTimestamp, 'baseTimestamp');
  const maxTimestamp = header.maxTimestamp === undefined ? undefined : checkInt64(header.maxTimestamp, 'maxTimestamp');
  const h = headerFields(header, attributes, lastOffsetDelta, baseTimestamp, maxTimestamp);
  // A LogAppendTime batch with no explicit maxTimestamp keeps its largest record timestamp.
  if (h.maxTimestamp === undefined && attributes & TIMESTAMP_TYPE_MASK) {
    let max: bigint | undefined;
    for (const r of records) if (max === undefined || r.timestamp > max) max = r.timestamp;
    h.maxTimestamp = max ?? NO_TIMESTAMP;
  }
  return encodeRecords(records, h, deltas, NO_TIMESTAMP);
}

// ---------------------------------------------------------------------------------------------------------
// decoding

function checkPos(buf: Buffer, pos: number): void {
  if (!Buffer.isBuffer(buf)) throw invalid('expected a Buffer');
  if (!Number.isSafeInteger(pos) || pos < 0) throw invalid(`position must be a non-negative integer, got ${pos}`);
}

/** Absolute offsets below this magnitude are computed with doubles (base + int32 delta stays exact). */
const SAFE_BASE = 2 ** 53 - 2 ** 32;

/**
 * Validates (structure, magic, CRC) and decodes the batch at `buf[pos..]`, decompressing its records.
 * Uncompressed keys/values are views into `buf` (no copy). LogAppendTime records all carry the batch's
 * maxTimestamp, as in Kafka.
 */
export function decodeBatch(buf: Buffer, pos = 0, opts: DecodeOptions = {}): DecodedBatch {
  checkPos(buf, pos);
  const size = validateBatch(buf, pos);
  return decodeValidBatch(buf, pos, size, opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES);
}

function decodeValidBatch(buf: Buffer, pos: number, size: number, maxDecompressed: number): DecodedBatch {
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const compression = attributes & COMPRESSION_MASK;
  if (compression > CompressionType.Zstd) {
    throw new SluiceError('UNSUPPORTED_COMPRESSION', `batch at ${pos} uses unsupported compression codec id ${compression}`);
  }
  const baseOffset = buf.readBigInt64BE(pos + BASE_OFFSET_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  const baseTimestamp = buf.readBigInt64BE(pos + BASE_TIMESTAMP_OFFSET);
  const maxTimestamp = buf.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET);
  const recordCount = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;

  let data = buf;
  let start = pos + RECORDS_OFFSET;
  let end = pos + size;
  if (compression !== CompressionType.None && (end > start || recordCount > 0)) {
    data = decompress(compression, buf.subarray(start, end), maxDecompressed);
    start = 0;
    end = data.length;
  }
  let records: LogRecord[];
  try {
    records = decodeRecords(data, start, end, recordCount, baseOffset, baseTimestamp, logAppendTime ? maxTimestamp : null);
  } catch (e) {
    if (e instanceof CorruptRecordError && data !== buf) {
      throw new CorruptRecordError(`in the decompressed records of the batch: ${e.message}`, pos);
    }
    throw e;
  }
  return {
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    compression: compression as CompressionType,
    timestampType: logAppendTime ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    transactional: (attributes & TRANSACTIONAL_MASK) !== 0,
    control: (attributes & CONTROL_MASK) !== 0,
    baseTimestamp,
    maxTimestamp,
    producerId: buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    attributes,
    records,
    sizeInBytes: size,
  };
}

function decodeRecords(
  data: Buffer,
  start: number,
  end: number,
  count: number,
  baseOffset: bigint,
  baseTimestamp: bigint,
  logAppendTime: bigint | null,
): LogRecord[] {
  // Bound the array by the bytes present before allocating it.
  if (count > (end - start) / MIN_RECORD_SIZE) {
    throw new CorruptRecordError(`record count ${count} cannot fit in ${end - start} bytes of records`, start);
  }
  const records = new Array<LogRecord>(count);
  const r = new ByteReader(data, start, end);
  const offsetBase = baseOffset >= -SAFE_BASE && baseOffset <= SAFE_BASE ? Number(baseOffset) : NaN;
  const tsBase = baseTimestamp >= -(2n ** 52n) && baseTimestamp <= 2n ** 52n ? Number(baseTimestamp) : NaN;
  for (let i = 0; i < count; i++) {
    const len = r.readVarint();
    const recordStart = r.pos;
    if (len < MIN_RECORD_SIZE - 1 || len > end - recordStart) {
      r.fail(`record ${i}: length ${len} does not fit the ${end - recordStart} bytes left`, recordStart);
    }
    const recordEnd = recordStart + len;
    r.end = recordEnd;
    r.pos++; // record attributes: unused by Kafka
    let timestamp: bigint;
    const tsDelta = r.readVarlongNumber();
    if (Number.isNaN(tsDelta)) {
      const big = r.readVarlongBig();
      timestamp = logAppendTime ?? BigInt.asIntN(64, baseTimestamp + big);
    } else if (logAppendTime !== null) {
      timestamp = logAppendTime;
    } else {
      const t = tsBase + tsDelta;
      timestamp = Number.isSafeInteger(t) ? BigInt(t) : BigInt.asIntN(64, baseTimestamp + BigInt(tsDelta));
    }
    const offsetDelta = r.readVarint();
    const offset = !Number.isNaN(offsetBase) ? BigInt(offsetBase + offsetDelta) : BigInt.asIntN(64, baseOffset + BigInt(offsetDelta));
    // Kafka reads any negative length as null.
    const keyLen = r.readVarint();
    const key = keyLen < 0 ? null : data.subarray(r.skip(keyLen, 'key'), r.pos);
    const valueLen = r.readVarint();
    const value = valueLen < 0 ? null : data.subarray(r.skip(valueLen, 'value'), r.pos);
    const headerCount = r.readVarint();
    const headers: RecordHeader[] = [];
    if (headerCount !== 0) {
      if (headerCount < 0 || headerCount > r.remaining / 2) r.fail(`record ${i}: bad header count ${headerCount}`);
      for (let j = 0; j < headerCount; j++) {
        const hkLen = r.readVarint();
        if (hkLen < 0) r.fail(`record ${i}: negative header key length ${hkLen}`);
        const hkStart = r.skip(hkLen, 'header key');
        const hvLen = r.readVarint();
        const hv = hvLen < 0 ? null : data.subarray(r.skip(hvLen, 'header value'), r.pos);
        headers.push({ key: data.toString('utf8', hkStart, hkStart + hkLen), value: hv });
      }
    }
    if (r.pos !== recordEnd) r.fail(`record ${i}: ${recordEnd - r.pos} unread bytes inside its ${len}-byte length`, r.pos);
    r.end = end;
    records[i] = { offset, timestamp, key, value, headers };
  }
  if (r.pos !== end) r.fail(`${end - r.pos} bytes follow the ${count} records the header declares`, r.pos);
  return records;
}

/**
 * Decodes concatenated batches. An incomplete last batch (a fetch response may be cut mid-batch) is ignored
 * with `allowPartialTail`, and a CorruptRecordError otherwise.
 */
export function decodeBatches(buf: Buffer, opts: DecodeBatchesOptions = {}): DecodedBatch[] {
  checkPos(buf, 0);
  const max = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const out: DecodedBatch[] = [];
  scanBatches(buf, opts.allowPartialTail ?? false, (pos, size) => {
    out.push(decodeValidBatch(buf, pos, size, max));
  });
  return out;
}

/**
 * Visits each complete batch of `buf` after validating it (structure and CRC) without decompressing it.
 * Returns the number of bytes covered by complete batches (the start of an ignored partial tail).
 */
export function forEachBatch(buf: Buffer, cb: BatchVisitor, opts: ForEachBatchOptions = {}): number {
  checkPos(buf, 0);
  return scanBatches(buf, opts.allowPartialTail ?? false, (pos, size) => cb(readBatchHeader(buf, pos), pos, size));
}

function scanBatches(buf: Buffer, allowPartialTail: boolean, visit: (pos: number, size: number) => void): number {
  let pos = 0;
  while (pos < buf.length) {
    const left = buf.length - pos;
    if (left < LOG_OVERHEAD) {
      if (allowPartialTail) break;
      throw new CorruptRecordError(`truncated batch: ${left} trailing bytes`, pos);
    }
    const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
      throw new CorruptRecordError(`batch length ${batchLength} is smaller than the header`, pos);
    }
    if (batchLength + LOG_OVERHEAD > left) {
      if (allowPartialTail) break;
      throw new CorruptRecordError(`truncated batch: length says ${batchLength + LOG_OVERHEAD} bytes, ${left} available`, pos);
    }
    const size = validateBatch(buf, pos);
    visit(pos, size);
    pos += size;
  }
  return pos;
}
