import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CorruptRecordError } from '../../src/errors.js';
import {
  ByteReader,
  encodeUnsignedVarint,
  encodeVarint,
  encodeVarlong,
  readUnsignedVarint,
  readVarint,
  readVarlong,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
} from '../../src/record/varint.js';

/** Reference encoder straight from the protobuf definition, all in bigint. */
function refVarlong(v: bigint): Buffer {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

test('varint: known encodings (as in Kafka ByteUtilsTest)', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [63, '7e'],
    [64, '8001'],
    [-65, '8101'],
    [300, 'd804'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [v, hex] of cases) {
    assert.equal(encodeVarint(v).toString('hex'), hex, `encode ${v}`);
    assert.equal(sizeOfVarint(v), hex.length / 2);
    assert.deepEqual(readVarint(Buffer.from(hex, 'hex')), { value: v, size: hex.length / 2 });
  }
  assert.equal(encodeVarlong(-(2n ** 63n)).toString('hex'), 'ffffffffffffffffff01');
  assert.equal(encodeVarlong(2n ** 63n - 1n).toString('hex'), 'feffffffffffffffff01');
  assert.equal(encodeUnsignedVarint(0xffffffff).toString('hex'), 'ffffffff0f');
  assert.equal(encodeUnsignedVarint(127).toString('hex'), '7f');
});

test('varint: int32 round trip matches the reference encoder', () => {
  fc.assert(
    fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (v) => {
      const enc = encodeVarint(v);
      assert.deepEqual(enc, refVarlong(BigInt(v)));
      assert.equal(sizeOfVarint(v), enc.length);
      assert.deepEqual(readVarint(enc), { value: v, size: enc.length });
    }),
    { numRuns: 500 },
  );
});

test('varint: unsigned round trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const enc = encodeUnsignedVarint(v);
      assert.equal(sizeOfUnsignedVarint(v), enc.length);
      assert.deepEqual(readUnsignedVarint(enc), { value: v, size: enc.length });
    }),
    { numRuns: 300 },
  );
});

test('varlong: number and bigint inputs agree with the reference, every reader agrees', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.integer().map(BigInt),
        fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n }),
      ),
      (v) => {
        const ref = refVarlong(v);
        assert.deepEqual(encodeVarlong(v), ref);
        assert.equal(sizeOfVarlong(v), ref.length);
        if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
          assert.deepEqual(encodeVarlong(Number(v)), ref);
          assert.equal(sizeOfVarlong(Number(v)), ref.length);
        }
        assert.deepEqual(readVarlong(ref), { value: v, size: ref.length });
        const r = new ByteReader(ref);
        const n = r.readVarlong();
        assert.equal(BigInt(n), v);
        assert.equal(r.pos, ref.length);
        if (typeof n === 'number') assert.ok(Number.isSafeInteger(n));
      },
    ),
    { numRuns: 500 },
  );
});

test('varint: truncated and over-long encodings are CorruptRecordError', () => {
  const bad = ['', '80', 'ffff', 'ffffffffff', 'ffffffff7f', 'ffffffff1f'];
  for (const hex of bad) {
    assert.throws(() => readVarint(Buffer.from(hex, 'hex')), CorruptRecordError, hex);
    assert.throws(() => readUnsignedVarint(Buffer.from(hex, 'hex')), CorruptRecordError, hex);
  }
  assert.throws(() => readVarlong(Buffer.from('ffffffffffffffffffff01', 'hex')), CorruptRecordError);
  assert.throws(() => readVarlong(Buffer.from('ffffffffff', 'hex')), CorruptRecordError);
  // The reader's own end bounds it, not the buffer's.
  const r = new ByteReader(Buffer.from('8001', 'hex'), 0, 1);
  assert.throws(() => r.readVarint(), CorruptRecordError);
  assert.throws(() => new ByteReader(Buffer.alloc(4), 0, 2).skip(3, 'key'), CorruptRecordError);
  assert.throws(() => new ByteReader(Buffer.alloc(4)).skip(-1, 'key'), CorruptRecordError);
});

test('varint: readers on arbitrary bytes return or throw CorruptRecordError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (a) => {
      const b = Buffer.from(a);
      for (const read of [() => readVarint(b), () => readUnsignedVarint(b), () => readVarlong(b), () => new ByteReader(b).readVarlong()]) {
        try {
          read();
        } catch (e) {
          assert.ok(e instanceof CorruptRecordError);
        }
      }
    }),
    { numRuns: 300 },
  );
});
