/** The produce-time record checks (Kafka's LogValidator rules), field by field, and against random damage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidRecordError, SluiceError } from '../../src/errors.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CompressionType,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  validateBatch,
} from '../../src/record/batch-header.js';
import { decodeBatch, encodeBatch } from '../../src/record/batch.js';
import { encodeVarint } from '../../src/record/varint.js';
import { validateProducedBatch, type ProduceRules } from '../../src/record/validate.js';
import { arbRecord, CODECS, fixCrc } from './helpers.js';
import { goodBatch, hostileBatches } from './hostile.js';

const RULES: ProduceRules = {
  logAppendTime: false,
  compacted: false,
  timestampBeforeMaxMs: Infinity,
  timestampAfterMaxMs: Infinity,
  maxDecompressedBytes: 16 << 20,
};
const NOW = 1_700_000_000_000;

function check(batch: Buffer, rules: Partial<ProduceRules> = {}, now = NOW): void {
  const size = validateBatch(batch, 0);
  validateProducedBatch(batch, 0, size, { ...RULES, ...rules }, now, 't', 0);
}

/** Asserts that `fn` throws an InvalidRecordError with `code`, a message matching `re`, and returns it. */
function refused(fn: () => void, code: string, re: RegExp): InvalidRecordError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof InvalidRecordError, `expected an InvalidRecordError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, re);
  return err;
}

/** The record i starts here in an uncompressed batch (each record's length varint fits one byte here). */
function recordStart(batch: Buffer, i: number): number {
  let pos = RECORDS_OFFSET;
  for (let j = 0; j < i; j++) pos += 1 + (batch[pos]! >> 1);
  return pos;
}

test('valid batches of every codec pass', () => {
  fc.assert(
    fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 8 }), fc.constantFrom(...CODECS), (records, compression) => {
      check(encodeBatch(records, { compression, now: NOW }));
      check(encodeBatch(records, { compression, now: NOW, producerId: 4n, producerEpoch: 0, baseSequence: 7 }));
    }),
    { numRuns: 150 },
  );
});

test('the five hostile batches of the issue are refused with INVALID_RECORD', () => {
  const expected = [/Inconsistent batch offset range \[0, 2\] and count of records 1000000/, /record 0: /, /Inconsistent batch offset range \[0, 2000000000\]/, /unknown compression type id 7/, /gzip records cannot be decompressed/];
  hostileBatches().forEach((h, i) => refused(() => check(h.batch), 'INVALID_RECORD', expected[i]!));
});

test('record count and offset range: count > 0, lastOffsetDelta = count - 1, records present = count', () => {
  const b = () => Buffer.from(goodBatch());
  const zero = b();
  zero.writeInt32BE(0, RECORD_COUNT_OFFSET);
  refused(() => check(fixCrc(zero)), 'INVALID_RECORD', /Invalid reported count for record batch: 0/);
  const negDelta = b();
  negDelta.writeInt32BE(-1, LAST_OFFSET_DELTA_OFFSET);
  // Negative fields are already framing errors (CORRUPT_MESSAGE on the wire).
  assert.throws(() => check(fixCrc(negDelta)), (e: unknown) => e instanceof SluiceError && e.code === 'CORRUPT_RECORD');
  const fewer = b();
  fewer.writeInt32BE(2, RECORD_COUNT_OFFSET);
  fewer.writeInt32BE(1, LAST_OFFSET_DELTA_OFFSET);
  refused(() => check(fixCrc(fewer)), 'INVALID_RECORD', /bytes follow the 2 records/);
  // Consistent header claiming more records than the bytes hold.
  const more = b();
  more.writeInt32BE(4, RECORD_COUNT_OFFSET);
  more.writeInt32BE(3, LAST_OFFSET_DELTA_OFFSET);
  refused(() => check(fixCrc(more)), 'INVALID_RECORD', /declares 4 records but holds 3/);
  const million = b();
  million.writeInt32BE(1_000_000, RECORD_COUNT_OFFSET);
  million.writeInt32BE(999_999, LAST_OFFSET_DELTA_OFFSET);
  refused(() => check(fixCrc(million)), 'INVALID_RECORD', /declares 1000000 records, more than/);
});

test('offset deltas must run 0..n-1 in order', () => {
  const batch = Buffer.from(goodBatch());
  const r1 = recordStart(batch, 1);
  assert.equal(batch[r1 + 3], encodeVarint(1)[0]); // length, attributes, timestamp delta 0, offset delta 1
  batch[r1 + 3] = encodeVarint(2)[0]!;
  const err = refused(() => check(fixCrc(batch)), 'INVALID_RECORD', /record 1: offset delta 2, expected 1/);
  assert.deepEqual(err.recordErrors.map((e) => e.batchIndex), [1]);
});

test('every varint and length stays inside its record', () => {
  const cases: [string, (b: Buffer, r: number) => void, RegExp][] = [
    ['record length past the end', (b, r) => (b[r] = encodeVarint(62)[0]!), /record 0: length 62 does not fit/],
    ['record length too short', (b, r) => (b[r] = encodeVarint(2)[0]!), /record 0: length 2 does not fit/],
    ['key length past the record', (b, r) => (b[r + 4] = encodeVarint(60)[0]!), /record 0: key length 60 exceeds/],
    ['varint longer than 32 bits', (b, r) => b.fill(0xff, r + 4, r + 9), /record 0: a varint (is longer than 32 bits|runs past)/],
    ['negative header count', (b, r) => (b[r + (b[r]! >> 1)] = encodeVarint(-2)[0]!), /record 0: invalid number of record headers -2/],
  ];
  for (const [name, damage, re] of cases) {
    const batch = Buffer.from(goodBatch());
    damage(batch, recordStart(batch, 0));
    refused(() => check(fixCrc(batch)), 'INVALID_RECORD', re);
    void name;
  }
  // A header with a negative key length, and bytes left inside a record's length.
  const withHeader = Buffer.from(encodeBatch([{ value: 'v', headers: [{ key: 'h', value: Buffer.from('x') }] }]));
  const hk = withHeader.indexOf(Buffer.from('h'), RECORDS_OFFSET) - 1;
  withHeader[hk] = encodeVarint(-3)[0]!;
  refused(() => check(fixCrc(withHeader)), 'INVALID_RECORD', /invalid negative header key size -3/);
  const slack = Buffer.from(goodBatch());
  const r0 = recordStart(slack, 0);
  slack[r0 + 4] = encodeVarint(slack[r0 + 4]! >> 1 === 0 ? 0 : (slack[r0 + 4]! >> 1) - 1)[0]!; // key one byte shorter
  refused(() => check(fixCrc(slack)), 'INVALID_RECORD', /record 0: /);
});

test('control batches, transactional batches and producer ids without a sequence are refused', () => {
  refused(() => check(encodeBatch([{ value: 'x' }], { control: true })), 'INVALID_RECORD', /Clients are not allowed to write control records in topic partition t-0/);
  refused(() => check(encodeBatch([{ value: 'x' }], { transactional: true, producerId: 3n, producerEpoch: 0, baseSequence: 0 })), 'INVALID_TXN_STATE', /not part of an ongoing transaction/);
  refused(() => check(encodeBatch([{ value: 'x' }], { producerId: 3n, producerEpoch: 0, baseSequence: -1 })), 'INVALID_RECORD', /Invalid sequence number -1 in record batch with producerId 3/);
});

test('compression: codecs 5..7 and undecodable or oversized records are refused; a bomb is refused without inflating', () => {
  for (const codec of [5, 6, 7]) {
    const b = Buffer.from(goodBatch());
    b.writeInt16BE(codec, ATTRIBUTES_OFFSET);
    refused(() => check(fixCrc(b)), 'INVALID_RECORD', new RegExp(`unknown compression type id ${codec}`));
  }
  for (const compression of CODECS.filter((c) => c !== CompressionType.None)) {
    const b = Buffer.from(encodeBatch([{ value: 'x'.repeat(500) }, { value: 'y'.repeat(500) }], { compression }));
    b.fill(0x5a, RECORDS_OFFSET + 2, RECORDS_OFFSET + 20);
    const err = refused(() => check(fixCrc(b)), 'INVALID_RECORD', /records cannot be decompressed|record \d|declares|bytes follow/);
    assert.ok(err instanceof SluiceError);
  }
  // 16 MiB of zeros in one value: zstd shrinks it to a few KiB; the bound is 1 MiB here.
  const bomb = encodeBatch([{ value: Buffer.alloc(16 << 20) }], { compression: CompressionType.Zstd });
  assert.ok(bomb.length < 64 * 1024);
  refused(() => check(bomb, { maxDecompressedBytes: 1 << 20 }), 'INVALID_RECORD', /more than the 1048576-byte limit/);
  // Records corrupted inside the compressed stream are found after decompression.
  const inner = encodeBatch([{ value: 'a' }, { value: 'b' }], { compression: CompressionType.None });
  inner.writeInt32BE(5, RECORD_COUNT_OFFSET);
  inner.writeInt32BE(4, LAST_OFFSET_DELTA_OFFSET);
  const recompressed = Buffer.from(encodeBatch([{ value: 'a' }, { value: 'b' }], { compression: CompressionType.Lz4 }));
  recompressed.writeInt32BE(5, RECORD_COUNT_OFFSET);
  recompressed.writeInt32BE(4, LAST_OFFSET_DELTA_OFFSET);
  refused(() => check(fixCrc(recompressed)), 'INVALID_RECORD', /declares 5 records/);
});

test('timestamps: CreateTime within message.timestamp.before/after.max.ms, -1 exempt, producers may not claim LogAppendTime', () => {
  const at = (ts: number[]) => encodeBatch(ts.map((t, i) => ({ value: `v${i}`, timestamp: t })), { now: NOW });
  check(at([NOW - 1000, NOW + 1000]), { timestampBeforeMaxMs: 1000, timestampAfterMaxMs: 1000 });
  const err = refused(() => check(at([NOW, NOW - 1001, NOW + 5, NOW + 1001]), { timestampBeforeMaxMs: 1000, timestampAfterMaxMs: 1000 }), 'INVALID_TIMESTAMP', /rejected due to invalid timestamp/);
  assert.deepEqual(err.recordErrors.map((e) => e.batchIndex), [1, 3]);
  assert.match(err.recordErrors[0]!.message, new RegExp(`Timestamp ${NOW - 1001} of message with offset 1 is out of range. The timestamp should be within \\[${NOW - 1000}, ${NOW + 1000}\\]`));
  // Unbounded by default, and a LogAppendTime topic ignores producer timestamps.
  check(at([0, NOW * 2]));
  check(at([0, NOW * 2]), { logAppendTime: true, timestampBeforeMaxMs: 10, timestampAfterMaxMs: 10 });
  // -1 (no timestamp) is never out of range.
  check(at([-1, NOW]), { timestampBeforeMaxMs: 10, timestampAfterMaxMs: 10 });
  // A LogAppendTime claim: refused in a LogAppendTime topic, and in a CreateTime topic when it carries no time.
  const claim = (maxTs: bigint): Buffer => {
    const b = Buffer.from(at([NOW, NOW]));
    b.writeInt16BE(b.readInt16BE(ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
    b.writeBigInt64BE(maxTs, MAX_TIMESTAMP_OFFSET);
    return fixCrc(b);
  };
  const lat = refused(() => check(claim(BigInt(NOW)), { logAppendTime: true }), 'INVALID_TIMESTAMP', /invalid timestamp/);
  assert.deepEqual(lat.recordErrors.map((e) => [e.batchIndex, /should not set timestamp type to LogAppendTime/.test(e.message)]), [[0, true], [1, true]]);
  refused(() => check(claim(-1n)), 'INVALID_TIMESTAMP', /invalid timestamp/);
  check(claim(BigInt(NOW)));
  refused(() => check(claim(BigInt(NOW + 5000)), { timestampAfterMaxMs: 1000 }), 'INVALID_TIMESTAMP', /invalid timestamp/);
  // Timestamps far outside doubles' exact range are still compared sensibly.
  const far = Buffer.from(at([NOW]));
  far.writeBigInt64BE(2n ** 62n, BASE_TIMESTAMP_OFFSET);
  refused(() => check(fixCrc(far), { timestampAfterMaxMs: 1000 }), 'INVALID_TIMESTAMP', /invalid timestamp/);
});

test('compacted topics refuse records without a key, naming each', () => {
  const batch = encodeBatch([{ key: 'a', value: '1' }, { key: null, value: '2' }, { key: 'c', value: '3' }, { value: '4' }]);
  check(batch);
  const err = refused(() => check(batch, { compacted: true }), 'INVALID_RECORD', /rejected due to 2 record errors/);
  assert.deepEqual(err.recordErrors.map((e) => e.batchIndex), [1, 3]);
  assert.match(err.recordErrors[0]!.message, /Compacted topic cannot accept message without key in topic partition t-0/);
  // Tombstones have a key: accepted.
  check(encodeBatch([{ key: 'a', value: null }]), { compacted: true });
});

test('fuzz: whatever passes the checks decodes to exactly recordCount records at consecutive offsets', () => {
  const samples = fc.sample(fc.array(arbRecord, { minLength: 1, maxLength: 5 }), { numRuns: 10, seed: 7 }).map((records, i) =>
    encodeBatch(records, { compression: CODECS[i % CODECS.length]!, now: NOW }),
  );
  let refusedCount = 0;
  fc.assert(
    fc.property(fc.nat(samples.length - 1), fc.nat(), fc.nat(255), fc.nat(3), (which, at, value, field) => {
      const b = Buffer.from(samples[which]!);
      if (field === 0) b[RECORDS_OFFSET + (at % (b.length - RECORDS_OFFSET))] = value;
      else if (field === 1) b.writeInt32BE(value % 8, RECORD_COUNT_OFFSET);
      else if (field === 2) b.writeInt32BE((value % 8) - 1, LAST_OFFSET_DELTA_OFFSET);
      else b.writeInt16BE(value & 0x7f, ATTRIBUTES_OFFSET);
      fixCrc(b);
      try {
        check(b);
      } catch (e) {
        assert.ok(e instanceof SluiceError, String(e));
        refusedCount++;
        return;
      }
      const d = decodeBatch(b, 0, { maxDecompressedBytes: 16 << 20 });
      assert.equal(d.records.length, b.readInt32BE(RECORD_COUNT_OFFSET));
      assert.equal(d.lastOffset, BigInt(d.records.length - 1));
      d.records.forEach((r, i) => assert.equal(r.offset, BigInt(i)));
    }),
    { numRuns: 1500, seed: 11 },
  );
  assert.ok(refusedCount > 0);
});

test('lz4 batches of growing and shrinking sizes validate through the reused buffer', () => {
  const sizes = [3, 5000, 2, 20000, 10, 40000, 1];
  for (const n of sizes) {
    const batch = encodeBatch(Array.from({ length: n }, (_, i) => ({ value: `v${i}-${'z'.repeat(i % 50)}` })), { compression: CompressionType.Lz4 });
    check(batch);
    const bad = Buffer.from(batch);
    bad.writeInt32BE(n + 1, RECORD_COUNT_OFFSET);
    bad.writeInt32BE(n, LAST_OFFSET_DELTA_OFFSET);
    refused(() => check(fixCrc(bad)), 'INVALID_RECORD', new RegExp(`declares ${n + 1} records`));
  }
});
