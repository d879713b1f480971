/** Decoding hostile bytes: always a value or a SluiceError, quickly, and never a large allocation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CorruptRecordError } from '../../src/errors.js';
import { ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, RECORD_COUNT_OFFSET, RECORDS_OFFSET } from '../../src/record/batch-header.js';
import { decodeBatch, decodeBatches, encodeBatch, forEachBatch } from '../../src/record/index.js';
import { arbRecord, CODECS, fixCrc, valueOrSluiceError } from './helpers.js';

const LIMIT = { maxDecompressedBytes: 4 << 20 };

/** Every decoder entry point on `buf`; each may return or throw a SluiceError only. */
function decodeAll(buf: Buffer): void {
  const t0 = performance.now();
  valueOrSluiceError(() => decodeBatch(buf, 0, LIMIT));
  valueOrSluiceError(() => decodeBatches(buf, LIMIT));
  valueOrSluiceError(() => decodeBatches(buf, { ...LIMIT, allowPartialTail: true }));
  valueOrSluiceError(() => forEachBatch(buf, () => {}, { allowPartialTail: true }));
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `decoding ${buf.length} bytes took ${ms} ms`);
}

/** A few valid batches to mutate, one per codec, with nulls, headers and larger values. */
const samples: Buffer[] = fc.sample(fc.array(arbRecord, { minLength: 1, maxLength: 6 }), { numRuns: 10, seed: 42 }).map((records, i) =>
  encodeBatch(records, { compression: CODECS[i % CODECS.length]!, baseOffset: BigInt(i * 1000), now: 1_700_000_000_000, producerId: 5n }),
);

test('fuzz: random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (a) => decodeAll(Buffer.from(a))),
    { numRuns: 300 },
  );
});

test('fuzz: random records sections inside a CRC-valid header, any codec id', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: -1, max: 40 }), fc.uint8Array({ maxLength: 300 }), (codec, count, body) => {
      const buf = Buffer.concat([samples[0]!.subarray(0, RECORDS_OFFSET), Buffer.from(body)]);
      buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
      buf.writeInt16BE(codec, ATTRIBUTES_OFFSET);
      buf.writeInt32BE(count, RECORD_COUNT_OFFSET);
      decodeAll(fixCrc(buf));
    }),
    { numRuns: 400 },
  );
});

test('fuzz: a flipped byte inside the CRC range is always CorruptRecordError', () => {
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.nat(), fc.integer({ min: 1, max: 255 }), (sample, at, x) => {
      const buf = Buffer.from(sample);
      buf[ATTRIBUTES_OFFSET + (at % (buf.length - ATTRIBUTES_OFFSET))] ^= x;
      assert.throws(() => decodeBatch(buf), CorruptRecordError);
      assert.throws(() => decodeBatches(buf, { allowPartialTail: true }), CorruptRecordError);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: flipped bytes anywhere, with and without the CRC fixed up', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 5 }),
      fc.boolean(),
      (sample, flips, fix) => {
        const buf = Buffer.from(sample);
        for (const [at, x] of flips) buf[at % buf.length] ^= x;
        if (fix && buf.readInt32BE(BATCH_LENGTH_OFFSET) + 12 === buf.length) fixCrc(buf);
        decodeAll(buf);
      },
    ),
    { numRuns: 400 },
  );
});

test('fuzz: truncated batches', () => {
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.nat(), (sample, cut) => {
      const buf = sample.subarray(0, cut % sample.length);
      assert.throws(() => decodeBatch(buf), CorruptRecordError);
      assert.deepEqual(decodeBatches(buf, { allowPartialTail: true }), []);
      decodeAll(buf);
    }),
    { numRuns: 200 },
  );
});

test('fuzz: huge length varints spliced into uncompressed records', () => {
  const plain = samples.filter((s) => s.readInt16BE(ATTRIBUTES_OFFSET) === 0);
  const huge = ['feffffff0f', 'ffffffff0f', 'fcffffff07', '80808080', 'ffffffffffffffffff01'].map((h) => Buffer.from(h, 'hex'));
  fc.assert(
    fc.property(fc.constantFrom(...plain), fc.nat(), fc.integer({ min: 0, max: 5 }), fc.constantFrom(...huge), (sample, at, drop, varint) => {
      const p = RECORDS_OFFSET + (at % (sample.length - RECORDS_OFFSET));
      const buf = Buffer.concat([sample.subarray(0, p), varint, sample.subarray(Math.min(sample.length, p + drop))]);
      buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
      decodeAll(fixCrc(buf));
    }),
    { numRuns: 300 },
  );
});

test('fuzz: batches glued together with garbage between them', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...samples), { maxLength: 4 }), fc.uint8Array({ maxLength: 30 }), fc.nat(), (parts, junk, at) => {
      const all = Buffer.concat(parts);
      const p = all.length === 0 ? 0 : at % all.length;
      decodeAll(Buffer.concat([all.subarray(0, p), Buffer.from(junk), all.subarray(p)]));
    }),
    { numRuns: 150 },
  );
});
