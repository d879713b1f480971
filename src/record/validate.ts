/**
 * Produce-time checks of a RecordBatch v2 whose framing and CRC are already valid (`validateBatch`), after
 * Kafka's LogValidator: header consistency (record count, offset range, codec, control/transactional flags,
 * producer fields) and a walk over every record (compressed batches are decompressed, bounded): each varint
 * and length within its record, offset deltas 0..n-1, record count = records present, timestamps within the
 * topic's window, keys on compacted topics.
 *
 * This runs for every produced record, so the walk is a loop over the bytes with a module-level cursor: no
 * allocation per record, and none per batch unless the batch is compressed or refused.
 */
import { CorruptRecordError, InvalidRecordError, type RecordError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CompressionType,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
} from './batch-header.js';
import { compressionName, decompress } from './compression.js';

/** The topic settings the checks depend on (derived once per topic config, see `produceRulesOf`). */
export interface ProduceRules {
  /** message.timestamp.type=LogAppendTime: the broker stamps the time, so record timestamps are not checked. */
  logAppendTime: boolean;
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
  /** CreateTime records must be within [now - before, now + after] ms; Infinity = unbounded (Kafka's default). */
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  /** Bound on the decompressed records of one batch: larger is refused (a decompression bomb). */
  maxDecompressedBytes: number;
}

/** Smallest record: length varint + attributes, timestampDelta, offsetDelta, key/value lengths, header count. */
const MIN_RECORD_SIZE = 7;
/** Record errors listed in one refusal (a batch can hold millions of records). */
const MAX_RECORD_ERRORS = 1000;

// The walk's cursor and per-batch inputs/outputs, at module level so the loop allocates nothing.
const EMPTY = Buffer.alloc(0);
let data: Buffer = EMPTY;
/** Reused output of decompression: the walk only reads it, so one buffer serves every batch. */
let scratch: Buffer = EMPTY;
const MAX_SCRATCH_BYTES = 16 * 1024 * 1024;
let index = -1;
let checkTimestamps = false;
let refuseAppendTime = false;
let compacted = false;
let tsBase = 0;
let tsDeltaScale = 1;
let tsLow = -Infinity;
let tsHigh = Infinity;
let nullKeys = 0;
let badTimestamps = 0;
let collected: RecordError[] | null = null;

function where(topic: string, partition: number): string {
  return `in topic partition ${topic}-${partition}`;
}

/** The int64 at `at` as a double (exact below 2^53), without a bigint. */
function int64At(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

function fail(message: string): never {
  const at = index >= 0 ? `record ${index}: ${message}` : message;
  throw new InvalidRecordError('INVALID_RECORD', at, index >= 0 ? [{ batchIndex: index, message: at }] : []);
}

/** Where the last varintAt / varlongAt stopped (a second return value, without allocating). */
let next = 0;

/** The zig-zag int32 varint (at most 5 bytes) at buf[pos], inside buf[..lim). */
function varintAt(buf: Buffer, pos: number, lim: number): number {
  if (pos < lim) {
    const b = buf[pos]!;
    if (b < 0x80) {
      next = pos + 1;
      return (b >>> 1) ^ -(b & 1);
    }
  }
  let z = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= lim) fail('a varint runs past the end of its record');
    const b = buf[pos++]!;
    if (shift === 28) {
      if (b > 0x0f) fail('a varint is longer than 32 bits');
      z = (z | (b << 28)) >>> 0;
      break;
    }
    z |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  next = pos;
  return (z >>> 1) ^ -(z & 1);
}

/** The zig-zag int64 varlong (at most 10 bytes) at buf[pos], as a double (exact below 2^53: any sane time). */
function varlongAt(buf: Buffer, pos: number, lim: number): number {
  if (pos < lim) {
    const b = buf[pos]!;
    if (b < 0x80) {
      next = pos + 1;
      return (b >>> 1) ^ -(b & 1);
    }
  }
  let z = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= lim) fail('a varlong runs past the end of its record');
    const b = buf[pos++]!;
    z += (b & 0x7f) * mul;
    if (b < 0x80) {
      next = pos;
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    mul *= 128;
  }
  return fail('a varlong is longer than 64 bits');
}

/** Fails unless a field of `len` bytes (negative = null, as Kafka reads it) fits before `lim`. */
function checkFits(len: number, pos: number, lim: number, what: string): void {
  if (len > lim - pos) fail(`${what} length ${len} exceeds the ${lim - pos} bytes left in the record`);
}

/**
 * Walks `count` records in data[start..end): throws InvalidRecordError at the first structural fault; counts
 * null keys and refused timestamps, and lists the records at fault in `collected` when it is set.
 */
function walk(start: number, end: number, count: number, topic: string, partition: number): void {
  const buf = data;
  let pos = start;
  let nulls = 0;
  let badTs = 0;
  for (let i = 0; i < count; i++) {
    index = i;
    if (pos >= end) {
      index = -1;
      fail(`the batch declares ${count} records but holds ${i}`);
    }
    const len = varintAt(buf, pos, end);
    pos = next;
    if (len < MIN_RECORD_SIZE - 1 || len > end - pos) fail(`length ${len} does not fit the ${end - pos} bytes left`);
    const lim = pos + len;
    pos++; // attributes: unused in v2
    const tsDelta = varlongAt(buf, pos, lim);
    const offsetDelta = varintAt(buf, next, lim);
    if (offsetDelta !== i) fail(`offset delta ${offsetDelta}, expected ${i} (offsets must be consecutive from the batch's base)`);
    const keyLen = varintAt(buf, next, lim);
    pos = next;
    if (keyLen < 0) nulls++;
    else {
      checkFits(keyLen, pos, lim, 'key');
      pos += keyLen;
    }
    const valueLen = varintAt(buf, pos, lim);
    pos = next;
    if (valueLen > 0) {
      checkFits(valueLen, pos, lim, 'value');
      pos += valueLen;
    }
    const headers = varintAt(buf, pos, lim);
    pos = next;
    if (headers < 0) fail(`invalid number of record headers ${headers}`);
    for (let h = 0; h < headers; h++) {
      const hk = varintAt(buf, pos, lim);
      pos = next;
      if (hk < 0) fail(`invalid negative header key size ${hk}`);
      checkFits(hk, pos, lim, 'header key');
      pos += hk;
      const hv = varintAt(buf, pos, lim);
      pos = next;
      if (hv > 0) {
        checkFits(hv, pos, lim, 'header value');
        pos += hv;
      }
    }
    if (pos !== lim) fail(`${lim - pos} unread bytes inside its ${len}-byte length`);
    if (checkTimestamps) {
      const ts = tsBase + tsDelta * tsDeltaScale;
      if (refuseAppendTime || (ts !== -1 && (ts < tsLow || ts > tsHigh))) {
        badTs++;
        // Kafka reports one error per record, the key's before the timestamp's.
        if (collected !== null && !(compacted && keyLen < 0) && collected.length < MAX_RECORD_ERRORS) {
          collected.push({
            batchIndex: i,
            message: refuseAppendTime
              ? 'Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.'
              : `Timestamp ${ts} of message with offset ${i} is out of range. The timestamp should be within [${tsLow}, ${tsHigh}]`,
          });
        }
      }
    }
    if (keyLen < 0 && compacted && collected !== null && collected.length < MAX_RECORD_ERRORS) {
      collected.push({ batchIndex: i, message: `Compacted topic cannot accept message without key in topic partition ${topic}-${partition}.` });
    }
  }
  index = -1;
  nullKeys = nulls;
  badTimestamps = badTs;
  if (pos !== end) fail(`${end - pos} bytes follow the ${count} records the batch declares`);
}

/**
 * Checks the produced batch at buf[pos..pos+size) (framing and CRC already checked) against Kafka's rules.
 * Throws InvalidRecordError (INVALID_RECORD, INVALID_TIMESTAMP with the records at fault, INVALID_TXN_STATE);
 * returns normally if the batch may be appended. `now` is the broker's time in ms.
 */
export function validateProducedBatch(buf: Buffer, pos: number, size: number, rules: ProduceRules, now: number, topic: string, partition: number): void {
  index = -1;
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  const count = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  if (lastOffsetDelta < 0) fail(`Batch has an invalid offset range: [0, ${lastOffsetDelta}] ${where(topic, partition)}`);
  if (count <= 0) fail(`Invalid reported count for record batch: ${count} ${where(topic, partition)}`);
  if (lastOffsetDelta + 1 !== count) fail(`Inconsistent batch offset range [0, ${lastOffsetDelta}] and count of records ${count} ${where(topic, partition)}`);
  if (attributes & CONTROL_MASK) fail(`Clients are not allowed to write control records ${where(topic, partition)}`);
  // High word of the producer id: >= 0 iff the id is.
  if (buf.readInt32BE(pos + PRODUCER_ID_OFFSET) >= 0 && buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET) < 0) {
    fail(`Invalid sequence number ${buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET)} in record batch with producerId ${buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET)} ${where(topic, partition)}`);
  }
  if (attributes & TRANSACTIONAL_MASK) {
    // No transaction coordinator serves AddPartitionsToTxn, so no partition is ever part of a transaction:
    // Kafka's answer (with transaction verification) to a transactional write outside one.
    throw new InvalidRecordError('INVALID_TXN_STATE', `transactional batch for ${topic}-${partition}, which is not part of an ongoing transaction (transactions are not supported)`);
  }
  const codec = attributes & COMPRESSION_MASK;
  if (codec > CompressionType.Zstd) fail(`unknown compression type id ${codec}`);

  // Kafka's timestamp rules: a CreateTime topic bounds record timestamps (-1 = none is exempt); a producer may
  // not claim LogAppendTime, except that in a CreateTime topic a claimed time (maxTimestamp, which every
  // record then carries) other than -1 is only bounded.
  const claimsAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const maxTimestamp = claimsAppendTime ? int64At(buf, pos + MAX_TIMESTAMP_OFFSET) : 0;
  refuseAppendTime = claimsAppendTime && (rules.logAppendTime || maxTimestamp === -1);
  checkTimestamps = refuseAppendTime || (!rules.logAppendTime && (rules.timestampBeforeMaxMs !== Infinity || rules.timestampAfterMaxMs !== Infinity));
  if (checkTimestamps) {
    tsBase = claimsAppendTime ? maxTimestamp : int64At(buf, pos + BASE_TIMESTAMP_OFFSET);
    tsDeltaScale = claimsAppendTime ? 0 : 1;
    tsLow = now - rules.timestampBeforeMaxMs;
    tsHigh = now + rules.timestampAfterMaxMs;
  }
  compacted = rules.compacted;

  let records = buf;
  let start = pos + RECORDS_OFFSET;
  let end = pos + size;
  if (codec !== CompressionType.None) {
    try {
      records = decompress(codec, buf.subarray(start, end), rules.maxDecompressedBytes, scratch);
      // Keep a buffer the size of the largest batch seen (up to a bound) for the next ones; only lz4 decodes into it.
      if (codec === CompressionType.Lz4 && records.buffer !== scratch.buffer && records.length > scratch.length && records.length <= MAX_SCRATCH_BYTES) {
        scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH_BYTES, Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(records.length * 1.25)))));
      }
    } catch (e) {
      fail(`${compressionName(codec)} records cannot be decompressed: ${e instanceof CorruptRecordError ? e.message : String(e)}`);
    }
    start = 0;
    end = records.length;
  }
  if (count > (end - start) / MIN_RECORD_SIZE) fail(`the batch declares ${count} records, more than its ${end - start} bytes of records can hold`);
  data = records;
  try {
    walk(start, end, count, topic, partition);
    if (badTimestamps === 0 && !(compacted && nullKeys > 0)) return;
    // Refused: walk again to name the records at fault (only this path allocates).
    const errors: RecordError[] = [];
    collected = errors;
    walk(start, end, count, topic, partition);
    if (badTimestamps > 0) throw new InvalidRecordError('INVALID_TIMESTAMP', 'One or more records have been rejected due to invalid timestamp', errors);
    throw new InvalidRecordError(
      'INVALID_RECORD',
      `One or more records have been rejected due to ${nullKeys} record errors in total, and only showing the first three errors at most: ${errors
        .slice(0, 3)
        .map((e) => `record ${e.batchIndex}: ${e.message}`)
        .join('; ')}`,
      errors,
    );
  } finally {
    collected = null;
    data = EMPTY; // drop the reference so a decompressed buffer can be collected
  }
}
