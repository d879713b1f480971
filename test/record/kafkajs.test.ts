/** Cross-checks against kafkajs's own RecordBatch encoder and decoder (an independent implementation). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { CompressionType, setLogAppendTime, TimestampType } from '../../src/record/batch-header.js';
import { decodeBatch, encodeBatch } from '../../src/record/index.js';
import type { RecordHeader } from '../../src/record/index.js';

const require = createRequire(import.meta.url);

// The parts of kafkajs's internals used here (CommonJS, untyped).
interface KjsEncoder {
  buffer: Buffer;
}
type KjsHeaders = Record<string, Buffer | string | (Buffer | string)[]>;
interface KjsRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: KjsHeaders;
}
interface KjsLong {
  toString(): string;
}
interface KjsBatchInput {
  compression: number;
  firstOffset: KjsLong;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  transactional: boolean;
  producerId: KjsLong;
  producerEpoch: number;
  firstSequence: number;
  records: KjsEncoder[];
}
interface KjsDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
}
interface KjsDecodedBatch {
  firstOffset: string;
  inTransaction: boolean;
  isControlBatch: boolean;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  records: KjsDecodedRecord[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch(o: KjsBatchInput): Promise<KjsEncoder> };
const KjsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: KjsRecordInput) => KjsEncoder;
const decodeKjsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<KjsDecodedBatch>;
const KjsDecoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): KjsLong };
const KJS_GZIP = 1;

/** One test record; header values are never null here because kafkajs's encoder cannot write null headers. */
interface Case {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: { key: string; value: Buffer | string }[];
  timestamp: number;
}

const arbCase: fc.Arbitrary<Case> = fc.record({
  key: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), fc.string({ unit: 'grapheme', maxLength: 16 })),
  value: fc.oneof(
    fc.constant(null),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.integer({ min: 1000, max: 20_000 }).map((n) => Buffer.alloc(n, 7)),
  ),
  // Distinct keys, none an Object.prototype name: kafkajs's decoder folds headers into a plain object.
  headers: fc.uniqueArray(fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 10 }).filter((k) => !(k in {})), value: fc.oneof(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)), fc.string({ maxLength: 10 })) }), {
    selector: (h) => h.key,
    maxLength: 3,
  }),
  timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_700_000_000_000 }),
});

const arbBatch = fc.record({
  records: fc.array(arbCase, { minLength: 1, maxLength: 8 }),
  baseOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
  producerId: fc.bigInt({ min: -1n, max: 2n ** 62n }),
  producerEpoch: fc.integer({ min: 0, max: 32767 }),
  baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  partitionLeaderEpoch: fc.integer({ min: 0, max: 1000 }),
  transactional: fc.boolean(),
});
type Batch = typeof arbBatch extends fc.Arbitrary<infer T> ? T : never;

async function kafkajsEncode(b: Batch, compression: number): Promise<Buffer> {
  const first = b.records[0]!.timestamp;
  const max = Math.max(...b.records.map((r) => r.timestamp));
  const records = b.records.map((r, i) =>
    KjsRecord({
      offsetDelta: i,
      timestampDelta: r.timestamp - first,
      key: r.key,
      value: r.value,
      headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
    }),
  );
  const enc = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(b.baseOffset.toString()),
    firstTimestamp: first,
    maxTimestamp: max,
    partitionLeaderEpoch: b.partitionLeaderEpoch,
    lastOffsetDelta: b.records.length - 1,
    transactional: b.transactional,
    producerId: Long.fromValue(b.producerId.toString()),
    producerEpoch: b.producerEpoch,
    firstSequence: b.baseSequence,
    records,
  });
  return enc.buffer;
}

function sluiceEncode(b: Batch, compression: CompressionType): Buffer {
  return encodeBatch(
    b.records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers.map((h) => ({ key: h.key, value: Buffer.from(h.value) })) })),
    {
      compression,
      baseOffset: b.baseOffset,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      partitionLeaderEpoch: b.partitionLeaderEpoch,
      transactional: b.transactional,
    },
  );
}

const bytesOf = (v: Buffer | string | null): Buffer | null => (v === null ? null : Buffer.from(v));

function headerMap(headers: RecordHeader[]): Record<string, Buffer | null> {
  return Object.fromEntries(headers.map((h) => [h.key, h.value]));
}

test('kafkajs: uncompressed batches are byte-identical to kafkajs output', async () => {
  await fc.assert(
    fc.asyncProperty(arbBatch, async (b) => {
      assert.equal(sluiceEncode(b, CompressionType.None).toString('hex'), (await kafkajsEncode(b, 0)).toString('hex'));
    }),
    { numRuns: 60 },
  );
});

test('kafkajs: its batches (plain and gzip) decode with decodeBatch', async () => {
  await fc.assert(
    fc.asyncProperty(arbBatch, fc.boolean(), async (b, gzip) => {
      const buf = await kafkajsEncode(b, gzip ? KJS_GZIP : 0);
      const d = decodeBatch(buf);
      assert.equal(d.compression, gzip ? CompressionType.Gzip : CompressionType.None);
      assert.equal(d.baseOffset, b.baseOffset);
      assert.equal(d.producerId, b.producerId);
      assert.equal(d.producerEpoch, b.producerEpoch);
      assert.equal(d.baseSequence, b.baseSequence);
      assert.equal(d.transactional, b.transactional);
      assert.equal(d.records.length, b.records.length);
      d.records.forEach((r, i) => {
        const e = b.records[i]!;
        assert.equal(r.offset, b.baseOffset + BigInt(i));
        assert.equal(r.timestamp, BigInt(e.timestamp));
        assert.deepEqual(r.key, bytesOf(e.key));
        assert.deepEqual(r.value, bytesOf(e.value));
        assert.deepEqual(
          r.headers,
          e.headers.map((h) => ({ key: h.key, value: Buffer.from(h.value) })),
        );
      });
    }),
    { numRuns: 60 },
  );
});

test('kafkajs: our batches (plain and gzip) decode with its decoder', async () => {
  await fc.assert(
    fc.asyncProperty(arbBatch, fc.boolean(), async (b, gzip) => {
      const buf = sluiceEncode(b, gzip ? CompressionType.Gzip : CompressionType.None);
      const d = await decodeKjsBatch(new KjsDecoder(buf));
      assert.equal(d.firstOffset, b.baseOffset.toString());
      assert.equal(d.producerId, b.producerId.toString());
      assert.equal(d.producerEpoch, b.producerEpoch);
      assert.equal(d.firstSequence, b.baseSequence);
      assert.equal(d.inTransaction, b.transactional);
      assert.equal(d.records.length, b.records.length);
      d.records.forEach((r, i) => {
        const e = b.records[i]!;
        assert.equal(r.offset, (b.baseOffset + BigInt(i)).toString());
        assert.equal(r.timestamp, String(e.timestamp));
        assert.deepEqual(r.key, bytesOf(e.key));
        assert.deepEqual(r.value, bytesOf(e.value));
        assert.deepEqual(r.headers, Object.fromEntries(e.headers.map((h) => [h.key, Buffer.from(h.value)])));
      });
    }),
    { numRuns: 60 },
  );
});

test('kafkajs: null header values, control and LogAppendTime batches read the same on both sides', async () => {
  const headers: RecordHeader[] = [
    { key: 'a', value: null },
    { key: 'ключ', value: Buffer.from('v') },
    { key: '', value: Buffer.alloc(0) },
  ];
  const buf = encodeBatch(
    [
      { key: null, value: null, headers, timestamp: 1000 },
      { key: '', value: '', timestamp: 2000 },
    ],
    { control: true, transactional: true, producerId: 9n, producerEpoch: 1, baseSequence: 0 },
  );
  setLogAppendTime(buf, 0, 5555n);
  const ours = decodeBatch(buf);
  const theirs = await decodeKjsBatch(new KjsDecoder(buf));
  assert.equal(theirs.isControlBatch, true);
  assert.equal(ours.control, true);
  assert.equal(ours.timestampType, TimestampType.LogAppendTime);
  assert.equal(theirs.records.length, 2);
  theirs.records.forEach((r, i) => {
    const o = ours.records[i]!;
    assert.equal(r.isControlRecord, true);
    assert.equal(r.timestamp, '5555');
    assert.equal(o.timestamp, 5555n);
    assert.equal(r.offset, o.offset.toString());
    assert.deepEqual(r.key, o.key);
    assert.deepEqual(r.value, o.value);
    assert.deepEqual(r.headers, headerMap(o.headers));
  });
  assert.deepEqual(ours.records[0]!.headers, headers);
});
