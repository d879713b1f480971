import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '../../native-bindings/crc32c.js';
import { CorruptRecordError, SluiceError } from '../../src/errors.js';
import {
  BATCH_HEADER_SIZE,
  CompressionType,
  DELETE_HORIZON_MASK,
  readBatchHeader,
  RECORDS_OFFSET,
  setBaseOffset,
  setLogAppendTime,
  TimestampType,
  validateBatch,
} from '../../src/record/batch-header.js';
import { buildBatch, decodeBatch, decodeBatches, encodeBatch, forEachBatch } from '../../src/record/index.js';
import type { BatchHeader, RecordInput } from '../../src/record/index.js';
import { arbRecord, assertRecordsMatch, CODECS, fixCrc } from './helpers.js';

const NOW = 1_700_000_000_000;

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof SluiceError && e.code === code;
}

test('encodeBatch: exact bytes of a small uncompressed batch', () => {
  const buf = encodeBatch(
    [
      { key: 'k', value: Buffer.from([1, 2]), timestamp: NOW, headers: [{ key: 'h', value: null }] },
      { key: null, value: null, timestamp: NOW + 300 },
    ],
    { baseOffset: 7n, producerId: 42n, producerEpoch: 3, baseSequence: 9, partitionLeaderEpoch: 5 },
  );
  // Record 0 body: attrs 00 | tsDelta 00 | offDelta 00 | key len 1 -> 02, 'k' | value len 2 -> 04, 01 02 |
  // 1 header -> 02: key len 02 'h', value len -1 -> 01.  = 12 bytes -> length varint 0x18.
  const r0 = '18' + '00' + '00' + '00' + '02' + '6b' + '04' + '0102' + '02' + '02' + '68' + '01';
  // Record 1 body: attrs 00 | tsDelta 300 -> d804 | offDelta 1 -> 02 | key -1 -> 01 | value -1 -> 01 | 0 headers.
  const r1 = '0e' + '00' + 'd804' + '02' + '01' + '01' + '00';
  const records = Buffer.from(r0 + r1, 'hex');
  const afterCrc = Buffer.alloc(BATCH_HEADER_SIZE - 21 + records.length);
  afterCrc.writeInt16BE(0, 0); // attributes
  afterCrc.writeInt32BE(1, 2); // lastOffsetDelta
  afterCrc.writeBigInt64BE(BigInt(NOW), 6);
  afterCrc.writeBigInt64BE(BigInt(NOW + 300), 14);
  afterCrc.writeBigInt64BE(42n, 22);
  afterCrc.writeInt16BE(3, 30);
  afterCrc.writeInt32BE(9, 32);
  afterCrc.writeInt32BE(2, 36);
  records.copy(afterCrc, 40);
  const head = Buffer.alloc(21);
  head.writeBigInt64BE(7n, 0);
  head.writeInt32BE(afterCrc.length + 9, 8);
  head.writeInt32BE(5, 12);
  head.writeInt8(2, 16);
  head.writeUInt32BE(crc32c(afterCrc), 17);
  assert.equal(buf.toString('hex'), Buffer.concat([head, afterCrc]).toString('hex'));
});

test('encode/decode round trip for arbitrary records under every codec and header setting', () => {
  fc.assert(
    fc.property(
      fc.array(arbRecord, { minLength: 1, maxLength: 12 }),
      fc.record({
        compression: fc.constantFrom(...CODECS),
        baseOffset: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 63n - 100n }), fc.bigInt({ min: 0n, max: 2n ** 40n })),
        producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })),
        producerEpoch: fc.integer({ min: -1, max: 32767 }),
        baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        transactional: fc.boolean(),
        control: fc.boolean(),
        logAppendTime: fc.boolean(),
      }),
      (records, o) => {
        const opts = {
          compression: o.compression,
          baseOffset: o.baseOffset,
          producerId: o.producerId,
          producerEpoch: o.producerEpoch,
          baseSequence: o.baseSequence,
          partitionLeaderEpoch: o.partitionLeaderEpoch,
          transactional: o.transactional,
          control: o.control,
          timestampType: o.logAppendTime ? TimestampType.LogAppendTime : TimestampType.CreateTime,
          now: NOW,
        };
        const buf = encodeBatch(records, opts);
        assert.equal(validateBatch(buf), buf.length);
        const b = decodeBatch(buf);
        const stamps = records.map((r) => BigInt(r.timestamp ?? NOW));
        const maxTs = o.logAppendTime ? BigInt(NOW) : stamps.reduce((a, c) => (c > a ? c : a));
        assert.equal(b.baseOffset, o.baseOffset);
        assert.equal(b.lastOffset, o.baseOffset + BigInt(records.length - 1));
        assert.equal(b.compression, o.compression);
        assert.equal(b.timestampType, opts.timestampType);
        assert.equal(b.transactional, o.transactional);
        assert.equal(b.control, o.control);
        assert.equal(b.producerId, o.producerId);
        assert.equal(b.producerEpoch, o.producerEpoch);
        assert.equal(b.baseSequence, o.baseSequence);
        assert.equal(b.partitionLeaderEpoch, o.partitionLeaderEpoch);
        assert.equal(b.baseTimestamp, stamps[0]);
        assert.equal(b.maxTimestamp, maxTs);
        assert.equal(b.sizeInBytes, buf.length);
        assert.equal(b.attributes, readBatchHeader(buf).attributes);
        assertRecordsMatch(
          b.records,
          records.map((input, i) => ({ input, offset: o.baseOffset + BigInt(i), timestamp: o.logAppendTime ? BigInt(NOW) : stamps[i]! })),
        );
      },
    ),
    { numRuns: 150 },
  );
});

test('decodeBatch: uncompressed keys and values are views into the input', () => {
  const buf = encodeBatch([{ key: 'key', value: 'value', headers: { h: 'v' } }], { now: NOW });
  const rec = decodeBatch(buf).records[0]!;
  for (const b of [rec.key!, rec.value!, rec.headers[0]!.value!]) assert.equal(b.buffer, buf.buffer);
  assert.equal(rec.key!.toString(), 'key');
  // At a position inside a larger buffer.
  const big = Buffer.concat([Buffer.alloc(13), buf]);
  assert.equal(decodeBatch(big, 13).records[0]!.value!.toString(), 'value');
});

test('encodeBatch: defaults, timestamps and input forms', () => {
  const before = Date.now();
  const b = decodeBatch(encodeBatch([{ value: 'a' }, { value: 'b', timestamp: 5n }, { value: Uint8Array.of(1, 2) as Buffer }]));
  const after = Date.now();
  assert.equal(b.baseOffset, 0n);
  assert.equal(b.producerId, -1n);
  assert.equal(b.producerEpoch, -1);
  assert.equal(b.baseSequence, -1);
  assert.equal(b.partitionLeaderEpoch, -1);
  assert.equal(b.compression, CompressionType.None);
  assert.equal(b.timestampType, TimestampType.CreateTime);
  const t0 = b.records[0]!.timestamp;
  assert.ok(t0 >= BigInt(before) && t0 <= BigInt(after));
  assert.equal(b.records[1]!.timestamp, 5n);
  assert.equal(b.records[2]!.timestamp, b.records[0]!.timestamp);
  assert.deepEqual(b.records[2]!.value, Buffer.from([1, 2]));
  assert.equal(b.maxTimestamp, t0);
  // Kafka's base timestamp is the first record's, so deltas may be negative.
  assert.equal(b.baseTimestamp, t0);
  // Extreme int64 timestamps.
  const ext = decodeBatch(encodeBatch([{ value: null, timestamp: -(2n ** 62n) }, { value: null, timestamp: 2n ** 62n - 1n }]));
  assert.deepEqual(
    ext.records.map((r) => r.timestamp),
    [-(2n ** 62n), 2n ** 62n - 1n],
  );
});

test('encodeBatch: bad input is a SluiceError', () => {
  assert.throws(() => encodeBatch([]), isCode('INVALID_ARGUMENT'));
  const bad: unknown[] = [
    [{ value: 5 }],
    [{ value: 'x', key: {} }],
    [{ value: 'x', timestamp: 1.5 }],
    [{ value: 'x', timestamp: 2n ** 64n }],
    [{ value: 'x', headers: [{ key: 1, value: null }] }],
    [{ value: 'x', headers: 'nope' }],
    [null],
  ];
  for (const records of bad) assert.throws(() => encodeBatch(records as RecordInput[]), isCode('INVALID_ARGUMENT'), JSON.stringify(records, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  assert.throws(() => encodeBatch([{ value: 'x' }], { producerEpoch: 70000 }), isCode('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatch([{ value: 'x' }], { baseOffset: 2n ** 63n }), isCode('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatch([{ value: 'x' }], { compression: 6 as CompressionType }), isCode('UNSUPPORTED_COMPRESSION'));
  assert.throws(() => encodeBatch([{ value: 'x', timestamp: -(2n ** 63n) }, { value: 'y', timestamp: 2n ** 63n - 1n }]), isCode('INVALID_ARGUMENT'));
});

test('LogAppendTime: every record reads the batch maxTimestamp, as Kafka', () => {
  const buf = encodeBatch([{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 20 }], { now: NOW });
  setLogAppendTime(buf, 0, 999n);
  const b = decodeBatch(buf);
  assert.equal(b.timestampType, TimestampType.LogAppendTime);
  assert.deepEqual(
    b.records.map((r) => r.timestamp),
    [999n, 999n],
  );
  const direct = decodeBatch(encodeBatch([{ value: 'a', timestamp: 10 }], { now: 777, timestampType: TimestampType.LogAppendTime }));
  assert.equal(direct.maxTimestamp, 777n);
  assert.equal(direct.records[0]!.timestamp, 777n);
});

test('buildBatch: keeps offsets, timestamps, headers, producer fields and attributes (compaction)', () => {
  for (const compression of CODECS) {
    const original = encodeBatch(
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: i === 4 ? null : `v${i}`, timestamp: NOW + i * 10, headers: [{ key: 'i', value: Buffer.from([i]) }] })),
      { baseOffset: 100n, compression, producerId: 7n, producerEpoch: 2, baseSequence: 50, transactional: true, partitionLeaderEpoch: 4 },
    );
    const orig = decodeBatch(original);
    const kept = orig.records.filter((_, i) => i === 2 || i === 4 || i === 7);
    const rebuilt = buildBatch({ ...orig, lastOffsetDelta: Number(orig.lastOffset - orig.baseOffset) }, kept);
    const b = decodeBatch(rebuilt);
    assert.deepEqual(
      b.records.map((r) => [r.offset, r.timestamp, r.key?.toString(), r.value?.toString() ?? null, r.headers[0]!.value![0]]),
      [
        [102n, BigInt(NOW + 20), 'k2', 'v2', 2],
        [104n, BigInt(NOW + 40), 'k1', null, 4],
        [107n, BigInt(NOW + 70), 'k1', 'v7', 7],
      ],
    );
    assert.equal(b.baseOffset, 100n);
    assert.equal(b.lastOffset, 109n, 'keeps the original offset range');
    assert.equal(b.baseTimestamp, BigInt(NOW), 'keeps the original base timestamp');
    assert.equal(b.maxTimestamp, BigInt(NOW + 90));
    for (const k of ['producerId', 'producerEpoch', 'baseSequence', 'transactional', 'control', 'compression', 'partitionLeaderEpoch', 'attributes'] as const) {
      assert.equal(b[k], orig[k], k);
    }
  }
});

test('buildBatch: empty batches, delete horizon, defaults and validation', () => {
  // An empty batch keeps producer state and the offset range; Kafka writes it uncompressed.
  const empty = buildBatch({ baseOffset: 50n, lastOffsetDelta: 9, attributes: CompressionType.Zstd | 0x10, producerId: 3n, producerEpoch: 1, baseSequence: 0 }, []);
  assert.equal(empty.length, RECORDS_OFFSET);
  const e = decodeBatch(empty);
  assert.equal(e.records.length, 0);
  assert.equal(e.lastOffset, 59n);
  assert.equal(e.compression, CompressionType.None);
  assert.equal(e.transactional, true);
  assert.equal(e.baseTimestamp, -1n);
  // The delete-horizon bit: baseTimestamp is the horizon and deltas are relative to it.
  const horizon = BigInt(NOW + 86_400_000);
  const recs = [{ offset: 3n, timestamp: BigInt(NOW), key: Buffer.from('k'), value: null, headers: [] }];
  const dh = decodeBatch(buildBatch({ baseOffset: 0n, attributes: DELETE_HORIZON_MASK, baseTimestamp: horizon }, recs));
  assert.equal(dh.attributes & DELETE_HORIZON_MASK, DELETE_HORIZON_MASK);
  assert.equal(dh.baseTimestamp, horizon);
  assert.equal(dh.records[0]!.timestamp, BigInt(NOW));
  assert.equal(dh.lastOffset, 3n);
  // Separate flag fields instead of raw attributes.
  const flags = decodeBatch(buildBatch({ baseOffset: 0n, control: true, compression: CompressionType.Lz4, timestampType: TimestampType.LogAppendTime, maxTimestamp: 5n }, recs));
  assert.equal(flags.control, true);
  assert.equal(flags.compression, CompressionType.Lz4);
  assert.equal(flags.records[0]!.timestamp, 5n);
  assert.throws(() => buildBatch({ baseOffset: 5n }, recs), isCode('INVALID_ARGUMENT'));
  assert.throws(() => buildBatch({ baseOffset: 0n, lastOffsetDelta: 2 }, recs), isCode('INVALID_ARGUMENT'));
  assert.throws(() => buildBatch({ baseOffset: 0n }, [recs[0]!, recs[0]!]), isCode('INVALID_ARGUMENT'));
  assert.throws(() => buildBatch({ baseOffset: 0n, attributes: 7 }, recs), isCode('UNSUPPORTED_COMPRESSION'));
});

test('decodeBatches / forEachBatch: concatenated batches and a partial tail', () => {
  const a = encodeBatch([{ value: 'a' }, { value: 'b' }], { baseOffset: 0n, now: NOW });
  const b = encodeBatch([{ value: 'c' }], { baseOffset: 2n, now: NOW, compression: CompressionType.Gzip });
  const c = encodeBatch([{ value: 'd' }], { baseOffset: 3n, now: NOW });
  const all = Buffer.concat([a, b, c]);
  assert.deepEqual(
    decodeBatches(all).flatMap((x) => x.records.map((r) => [r.offset, r.value!.toString()])),
    [
      [0n, 'a'],
      [1n, 'b'],
      [2n, 'c'],
      [3n, 'd'],
    ],
  );
  assert.deepEqual(decodeBatches(Buffer.alloc(0)), []);
  const seen: [bigint, number, number][] = [];
  const end = forEachBatch(all, (h: BatchHeader, pos, size) => seen.push([h.baseOffset, pos, size]));
  assert.equal(end, all.length);
  assert.deepEqual(seen, [
    [0n, 0, a.length],
    [2n, a.length, b.length],
    [3n, a.length + b.length, c.length],
  ]);
  for (const cut of [1, 11, 12, 30, c.length - 1]) {
    const partial = all.subarray(0, a.length + b.length + cut);
    assert.throws(() => decodeBatches(partial), CorruptRecordError);
    assert.equal(decodeBatches(partial, { allowPartialTail: true }).length, 2);
    assert.equal(forEachBatch(partial, () => {}, { allowPartialTail: true }), a.length + b.length);
    assert.throws(() => forEachBatch(partial, () => {}), CorruptRecordError);
  }
  // A corrupt batch in the middle is never skipped, tail or not.
  const bad = Buffer.from(all);
  bad[a.length + 40] ^= 1;
  assert.throws(() => decodeBatches(bad, { allowPartialTail: true }), CorruptRecordError);
  // A bogus length in the middle is corruption, not a partial tail.
  const badLen = Buffer.from(all);
  badLen.writeInt32BE(3, a.length + 8);
  assert.throws(() => decodeBatches(badLen, { allowPartialTail: true }), CorruptRecordError);
});

test('decodeBatch: base offset and partition leader epoch are outside the CRC', () => {
  const buf = encodeBatch([{ value: 'x' }, { value: 'y' }], { now: NOW });
  setBaseOffset(buf, 0, 2n ** 62n);
  const b = decodeBatch(buf);
  assert.deepEqual(
    b.records.map((r) => r.offset),
    [2n ** 62n, 2n ** 62n + 1n],
  );
});

test('decodeBatch: structural corruption with a valid CRC is CorruptRecordError', () => {
  const good = encodeBatch([{ key: 'k', value: 'value', headers: [{ key: 'h', value: Buffer.from('v') }] }], { now: NOW });
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return fixCrc(b);
  };
  const cases: [string, Buffer][] = [
    ['record count too high', mutate((b) => b.writeInt32BE(2, 57))],
    ['record count huge', mutate((b) => b.writeInt32BE(0x7fffffff, 57))],
    ['record count zero with records', mutate((b) => b.writeInt32BE(0, 57))],
    ['record length larger than the batch', mutate((b) => (b[61] = 0x7e))],
    ['record length smaller than its fields', mutate((b) => (b[61] -= 2))],
    ['key length 2^31-ish', fixCrc(Buffer.concat([good.subarray(0, 65), Buffer.from('feffffff0f', 'hex'), good.subarray(66)]))],
    // The record ends: headerCount 02 | keyLength 02 'h' | valueLength 02 'v'.
    ['negative header count', mutate((b) => (b[b.length - 5] = 0x01))],
    ['header count huge', mutate((b) => (b[b.length - 5] = 0x7e))],
    ['negative header key length', mutate((b) => (b[b.length - 4] = 0x01))],
    ['header value past the record', mutate((b) => (b[b.length - 2] = 0x04))],
  ];
  for (const [name, bytes] of cases) {
    if (name.startsWith('key length')) bytes.writeInt32BE(bytes.length - 12, 8);
    assert.throws(() => decodeBatch(bytes), CorruptRecordError, name);
  }
  const wrongMagic = Buffer.from(good);
  wrongMagic[16] = 1;
  assert.throws(() => decodeBatch(wrongMagic), CorruptRecordError);
  assert.throws(() => decodeBatch(good, -1), isCode('INVALID_ARGUMENT'));
  assert.throws(() => decodeBatch(good, 1), CorruptRecordError);
  const codec7 = Buffer.from(good);
  codec7.writeInt16BE(7, 21);
  assert.throws(() => decodeBatch(fixCrc(codec7)), isCode('UNSUPPORTED_COMPRESSION'));
});

test('decodeBatch: a compressed batch whose records inflate past the limit is CorruptRecordError', () => {
  const big = encodeBatch(
    Array.from({ length: 50 }, () => ({ value: Buffer.alloc(100_000) })),
    { compression: CompressionType.Zstd, now: NOW },
  );
  assert.ok(big.length < 10_000);
  assert.throws(() => decodeBatch(big, 0, { maxDecompressedBytes: 1_000_000 }), CorruptRecordError);
  assert.throws(() => decodeBatches(big, { maxDecompressedBytes: 1_000_000 }), CorruptRecordError);
  assert.equal(decodeBatch(big).records.length, 50);
});

test('encodeBatch: large batches grow the scratch space, later small batches are unaffected', () => {
  const many = Array.from({ length: 5000 }, (_, i) => ({ key: i % 2 ? null : `k${i}`, value: Buffer.alloc(i % 50, i & 0xff), timestamp: NOW + i }));
  const b = decodeBatch(encodeBatch(many, { baseOffset: 10n }));
  assert.equal(b.records.length, 5000);
  assert.equal(b.lastOffset, 5009n);
  assert.equal(b.records[4999]!.timestamp, BigInt(NOW + 4999));
  assert.deepEqual(b.records[4998]!.key, Buffer.from('k4998'));
  assert.deepEqual(b.records[4999]!.value, Buffer.alloc(4999 % 50, 4999 & 0xff));
  const small = decodeBatch(encodeBatch([{ value: 'x', timestamp: 1 }]));
  assert.equal(small.records.length, 1);
  assert.equal(small.records[0]!.value!.toString(), 'x');
  const kept = decodeBatch(buildBatch({ baseOffset: 10n }, b.records.filter((_, i) => i % 1000 === 0)));
  assert.deepEqual(
    kept.records.map((r) => r.offset),
    [10n, 1010n, 2010n, 3010n, 4010n],
  );
});
