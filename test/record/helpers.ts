/** Shared helpers of the record-layer tests: arbitraries, expected decodings, byte surgery. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SluiceError } from '../../src/errors.js';
import { computeBatchCrc, CRC_OFFSET, CompressionType } from '../../src/record/batch-header.js';
import type { LogRecord, RecordHeader, RecordInput } from '../../src/record/types.js';

export const CODECS: readonly CompressionType[] = [
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
];

/** Recomputes the CRC of the batch at `pos` in place (for building deliberately odd but CRC-valid batches). */
export function fixCrc(buf: Buffer, pos = 0): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, pos, buf.length - pos), pos + CRC_OFFSET);
  return buf;
}

/** Runs `fn`; it may return anything or throw a SluiceError, nothing else. Returns the error if any. */
export function valueOrSluiceError(fn: () => unknown): SluiceError | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof SluiceError)) {
      assert.fail(`expected a SluiceError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    return e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// arbitraries

const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const unicode = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength });

/** A key or value: null, a Buffer (often empty or small, sometimes large), or a unicode string. */
export const arbBytes: fc.Arbitrary<Buffer | string | null> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: bytes(64) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 2, arbitrary: unicode(20) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((n) => Buffer.alloc(n, n & 0xff)) },
);

export const arbHeaders: fc.Arbitrary<RecordInput['headers']> = fc.oneof(
  fc.constant(undefined),
  fc.array(fc.record({ key: unicode(12), value: fc.option(bytes(24), { nil: null }) }), { maxLength: 4 }),
  fc.dictionary(unicode(8), fc.oneof(bytes(16), unicode(8)), { maxKeys: 3 }),
);

/** Timestamps: mostly realistic, sometimes anywhere in ±2^61 (deltas then need the varlong bigint path). */
export const arbTimestamp: fc.Arbitrary<number | bigint | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
  fc.bigInt({ min: -(2n ** 61n), max: 2n ** 61n }),
  fc.integer({ min: -1000, max: 1000 }),
);

export const arbRecord: fc.Arbitrary<RecordInput> = fc.record({
  key: arbBytes,
  value: arbBytes,
  headers: arbHeaders,
  timestamp: arbTimestamp,
});

// ---------------------------------------------------------------------------------------------------------
// expectations

export function toBuf(v: Buffer | Uint8Array | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
}

export function expectedHeaders(h: RecordInput['headers']): RecordHeader[] {
  if (h === undefined) return [];
  if (Array.isArray(h)) return h.map((x) => ({ key: x.key, value: toBuf(x.value) }));
  return Object.keys(h).map((k) => ({ key: k, value: toBuf(h[k]) }));
}

/** Compares decoded records with what was encoded, field by field (Buffers by content). */
export function assertRecordsMatch(actual: LogRecord[], expected: { offset: bigint; timestamp: bigint; input: RecordInput }[]): void {
  assert.equal(actual.length, expected.length, 'record count');
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.equal(a.offset, e.offset, `record ${i} offset`);
    assert.equal(a.timestamp, e.timestamp, `record ${i} timestamp`);
    assert.deepEqual(a.key, toBuf(e.input.key), `record ${i} key`);
    assert.deepEqual(a.value, toBuf(e.input.value), `record ${i} value`);
    assert.deepEqual(a.headers, expectedHeaders(e.input.headers), `record ${i} headers`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// xxHash32 (the LZ4 frame header checksum), for crafting LZ4 frames the native encoder does not write

const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;
const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul = (a: number, b: number): number => Math.imul(a, b) >>> 0;

export function xxh32(data: Uint8Array, seed = 0): number {
  let i = 0;
  const len = data.length;
  let h: number;
  const u32 = (p: number): number => (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24)) >>> 0;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    while (i <= len - 16) {
      v1 = mul(rotl((v1 + mul(u32(i), P2)) >>> 0, 13), P1);
      v2 = mul(rotl((v2 + mul(u32(i + 4), P2)) >>> 0, 13), P1);
      v3 = mul(rotl((v3 + mul(u32(i + 8), P2)) >>> 0, 13), P1);
      v4 = mul(rotl((v4 + mul(u32(i + 12), P2)) >>> 0, 13), P1);
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  while (i <= len - 4) {
    h = mul(rotl((h + mul(u32(i), P3)) >>> 0, 17), P4);
    i += 4;
  }
  while (i < len) {
    h = mul(rotl((h + mul(data[i]!, P5)) >>> 0, 11), P1);
    i++;
  }
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Rewrites the descriptor of a single LZ4 frame: sets/clears FLG bits and optionally adds the content-size
 * field, then recomputes the header checksum. Blocks are kept as they are.
 */
export function rewriteLz4Frame(frame: Buffer, opts: { contentSize?: bigint; setFlg?: number; clearFlg?: number }): Buffer {
  const flg0 = frame[4]!;
  const bd = frame[5]!;
  let rest = 6;
  if (flg0 & 0x08) rest += 8;
  if (flg0 & 0x01) rest += 4;
  const blocks = frame.subarray(rest + 1);
  let flg = (flg0 | (opts.setFlg ?? 0)) & ~(opts.clearFlg ?? 0);
  const desc = [flg, bd];
  if (opts.contentSize !== undefined) {
    flg |= 0x08;
    desc[0] = flg;
    const cs = Buffer.alloc(8);
    cs.writeBigUInt64LE(opts.contentSize);
    desc.push(...cs);
  }
  const d = Buffer.from(desc);
  const hc = (xxh32(d) >>> 8) & 0xff;
  return Buffer.concat([frame.subarray(0, 4), d, Buffer.from([hc]), blocks]);
}
