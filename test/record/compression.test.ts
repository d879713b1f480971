import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import zstd from 'zstd-napi/binding.js';
import { CorruptRecordError, SluiceError } from '../../src/errors.js';
import { CompressionType } from '../../src/record/batch-header.js';
import { compress, compressionName, compressionTypeFromName, decompress } from '../../src/record/compression.js';
import { lz4CompressFrame, lz4DecompressFrame, snappyCompressBlock } from '../../native-bindings/codecs.js';
import { CODECS, rewriteLz4Frame, valueOrSluiceError } from './helpers.js';

const require = createRequire(import.meta.url);

/** Compressible test data of `n` bytes. */
function text(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 97 + ((i * 7 + (i >> 5)) % 19);
  return b;
}

const XERIAL_HEADER_HEX = '82534e415050590000000001' + '00000001';

test('compression: every codec round-trips arbitrary data', () => {
  fc.assert(
    fc.property(fc.constantFrom(...CODECS), fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 300_000 }).map(text)), (type, a) => {
      const data = Buffer.from(a);
      if (data.length === 0 && type !== CompressionType.None) return; // Kafka never compresses an empty records section
      assert.deepEqual(decompress(type, compress(type, data)), data);
    }),
    { numRuns: 60 },
  );
});

test('compression: names and unsupported codec ids', () => {
  assert.equal(compressionName(CompressionType.Zstd), 'zstd');
  assert.equal(compressionTypeFromName('LZ4'), CompressionType.Lz4);
  assert.throws(() => compressionTypeFromName('brotli'), (e: unknown) => e instanceof SluiceError && e.code === 'UNSUPPORTED_COMPRESSION');
  for (const id of [5, 6, 7]) {
    assert.throws(
      () => decompress(id as CompressionType, Buffer.from('x')),
      (e: unknown) => e instanceof SluiceError && e.code === 'UNSUPPORTED_COMPRESSION',
    );
    assert.throws(() => compress(id as CompressionType, Buffer.from('x')), (e: unknown) => e instanceof SluiceError && e.code === 'UNSUPPORTED_COMPRESSION');
  }
  assert.throws(() => compress(CompressionType.Gzip, Buffer.from('x'), 12), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => compress(CompressionType.Zstd, Buffer.from('x'), 40), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => decompress(CompressionType.Gzip, Buffer.from('x'), -1), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
});

test('gzip: levels, multi-member streams, truncation', () => {
  const a = text(5000);
  const b = text(7000).reverse();
  for (const level of [1, 6, 9]) assert.deepEqual(decompress(CompressionType.Gzip, compress(CompressionType.Gzip, a, level)), a);
  assert.equal(compress(CompressionType.Gzip, a).subarray(0, 2).toString('hex'), '1f8b');
  // Two members back to back, as some producers write (Java's GZIPInputStream reads them all).
  assert.deepEqual(decompress(CompressionType.Gzip, Buffer.concat([gzipSync(a), gzipSync(b)])), Buffer.concat([a, b]));
  const gz = gzipSync(a);
  assert.throws(() => decompress(CompressionType.Gzip, gz.subarray(0, gz.length - 5)), CorruptRecordError);
  assert.throws(() => decompress(CompressionType.Gzip, Buffer.from('not gzip at all')), CorruptRecordError);
});

test('snappy: writes xerial framing with 32 KiB blocks, reads xerial and raw', () => {
  const data = text(100_000);
  const framed = compress(CompressionType.Snappy, data);
  assert.equal(framed.subarray(0, 16).toString('hex'), XERIAL_HEADER_HEX);
  // Walk the blocks: [int32 BE length][raw snappy block], each decoding to at most 32 KiB.
  let pos = 16;
  let blocks = 0;
  while (pos < framed.length) {
    const len = framed.readInt32BE(pos);
    pos += 4 + len;
    blocks++;
  }
  assert.equal(pos, framed.length);
  assert.equal(blocks, Math.ceil(data.length / 32768));
  assert.deepEqual(decompress(CompressionType.Snappy, framed), data);
  // Raw snappy (librdkafka and kafkajs-snappy can send it).
  assert.deepEqual(decompress(CompressionType.Snappy, snappyCompressBlock(data)), data);
  // Concatenated xerial streams, each with its own header.
  const b = text(1000);
  assert.deepEqual(decompress(CompressionType.Snappy, Buffer.concat([framed, compress(CompressionType.Snappy, b)])), Buffer.concat([data, b]));
  // Header only: empty content.
  assert.equal(decompress(CompressionType.Snappy, Buffer.from(XERIAL_HEADER_HEX, 'hex')).length, 0);
  // Truncations and a block length past the end.
  assert.throws(() => decompress(CompressionType.Snappy, framed.subarray(0, framed.length - 3)), CorruptRecordError);
  assert.throws(() => decompress(CompressionType.Snappy, framed.subarray(0, 18)), CorruptRecordError);
  const badLen = Buffer.from(framed);
  badLen.writeInt32BE(0x7fffffff, 16);
  assert.throws(() => decompress(CompressionType.Snappy, badLen), CorruptRecordError);
  assert.throws(() => decompress(CompressionType.Snappy, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])), CorruptRecordError);
});

test('lz4: standard frames with and without checksums / content size, concatenated and skippable frames', () => {
  const data = text(300_000);
  const plain = lz4CompressFrame(data);
  // Magic, then FLG: version 01, independent blocks, no checksums, no content size (as Kafka's Java client).
  assert.equal(plain.readUInt32LE(0), 0x184d2204);
  assert.equal(plain[4]! & 0xfc, 0x60);
  const variants: [string, Buffer][] = [
    ['plain', plain],
    ['content checksum', lz4CompressFrame(data, { contentChecksum: true })],
    ['block checksums', lz4CompressFrame(data, { blockChecksums: true })],
    ['both checksums', lz4CompressFrame(data, { contentChecksum: true, blockChecksums: true })],
    ['content size', rewriteLz4Frame(plain, { contentSize: BigInt(data.length) })],
    ['content size + checksums', rewriteLz4Frame(lz4CompressFrame(data, { contentChecksum: true, blockChecksums: true }), { contentSize: BigInt(data.length) })],
    ['linked blocks flag', rewriteLz4Frame(plain, { clearFlg: 0x20 })],
  ];
  for (const [name, frame] of variants) {
    assert.deepEqual(lz4DecompressFrame(frame), data, `native frame decoder: ${name}`);
    assert.deepEqual(decompress(CompressionType.Lz4, frame), data, `decompress: ${name}`);
  }
  const skippable = Buffer.alloc(12);
  skippable.writeUInt32LE(0x184d2a53, 0);
  skippable.writeUInt32LE(4, 4);
  const small = text(100);
  assert.deepEqual(decompress(CompressionType.Lz4, Buffer.concat([plain, skippable, lz4CompressFrame(small)])), Buffer.concat([data, small]));
  // A frame of stored (uncompressed) blocks, as encoders emit for incompressible data.
  const raw = Buffer.from('incompressible?');
  const stored = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]), u32le(0x80000000 | raw.length), raw, u32le(0)]);
  assert.deepEqual(decompress(CompressionType.Lz4, stored), raw);
  assert.deepEqual(lz4DecompressFrame(stored), raw);
});

test('lz4: malformed frames are CorruptRecordError', () => {
  const data = text(50_000);
  const frame = lz4CompressFrame(data);
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['bad magic', Buffer.from('garbage garbage')],
    ['truncated (no end mark)', frame.subarray(0, frame.length - 2)],
    ['truncated block', frame.subarray(0, 20)],
    ['trailing garbage', Buffer.concat([frame, Buffer.from('xyz')])],
    ['content size too large', rewriteLz4Frame(frame, { contentSize: 2n ** 60n })],
    ['content size wrong', rewriteLz4Frame(frame, { contentSize: 5n })],
    ['reserved bit', rewriteLz4Frame(frame, { setFlg: 0x02 })],
  ];
  for (const [name, bytes] of cases) assert.throws(() => decompress(CompressionType.Lz4, bytes), CorruptRecordError, name);
  const corrupted = Buffer.from(frame);
  for (let i = 11; i < corrupted.length - 4; i += 7) corrupted[i] ^= 0x5a;
  const err = valueOrSluiceError(() => decompress(CompressionType.Lz4, corrupted));
  assert.ok(err === null || err instanceof CorruptRecordError);
});

test('zstd: one-shot frames, streaming frames without content size, concatenated frames', () => {
  const data = text(200_000);
  const oneShot = compress(CompressionType.Zstd, data);
  assert.equal(zstd.getFrameContentSize(oneShot), data.length);
  assert.deepEqual(decompress(CompressionType.Zstd, oneShot), data);
  // What Java's zstd-jni ZstdOutputStream and librdkafka may write: no content size in the header.
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.contentSizeFlag, 0);
  cctx.setParameter(zstd.CParameter.compressionLevel, 3);
  const out = Buffer.alloc(zstd.compressBound(data.length) + 64);
  let outPos = 0;
  for (let i = 0; i < data.length; i += 10_000) {
    const [, produced] = cctx.compressStream2(out.subarray(outPos), data.subarray(i, i + 10_000), zstd.EndDirective.continue);
    outPos += produced;
  }
  for (;;) {
    const [left, produced] = cctx.compressStream2(out.subarray(outPos), Buffer.alloc(0), zstd.EndDirective.end);
    outPos += produced;
    if (left === 0) break;
  }
  const streamed = out.subarray(0, outPos);
  assert.equal(zstd.getFrameContentSize(streamed), null);
  assert.deepEqual(decompress(CompressionType.Zstd, streamed), data);
  assert.deepEqual(decompress(CompressionType.Zstd, Buffer.concat([streamed, oneShot])), Buffer.concat([data, data]));
  for (const level of [-5, 1, 19]) assert.deepEqual(decompress(CompressionType.Zstd, compress(CompressionType.Zstd, data, level)), data);
  assert.throws(() => decompress(CompressionType.Zstd, streamed.subarray(0, streamed.length - 10)), CorruptRecordError);
  assert.throws(() => decompress(CompressionType.Zstd, Buffer.from('not zstd at all')), CorruptRecordError);
  assert.throws(() => decompress(CompressionType.Zstd, Buffer.alloc(0)), CorruptRecordError);
});

test('zstd: frames from zstd-napi CompressStream decode', async () => {
  const { CompressStream } = require('zstd-napi') as typeof import('zstd-napi');
  const data = text(150_000);
  const stream = new CompressStream();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let i = 0; i < data.length; i += 16_384) stream.write(data.subarray(i, i + 16_384));
  stream.end();
  await done;
  const frame = Buffer.concat(chunks);
  assert.deepEqual(decompress(CompressionType.Zstd, frame), data);
});

test('decompression is bounded: bombs stop at maxOutputBytes with CorruptRecordError', () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  const limit = 1024 * 1024;
  for (const type of [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd]) {
    const bomb = compress(type, zeros);
    assert.ok(bomb.length < zeros.length / 10);
    const t0 = performance.now();
    assert.throws(() => decompress(type, bomb, limit), CorruptRecordError, compressionName(type));
    assert.ok(performance.now() - t0 < 2000);
    // Exactly at the limit is fine.
    assert.equal(decompress(type, compress(type, zeros.subarray(0, limit)), limit).length, limit);
  }
  // Raw snappy whose preamble claims 4 GiB: rejected before anything is allocated.
  assert.throws(() => decompress(CompressionType.Snappy, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0])), CorruptRecordError);
  // LZ4 linked-block frames cannot be bounded block by block: refused when their capacity exceeds the limit.
  const linked = rewriteLz4Frame(lz4CompressFrame(zeros), { clearFlg: 0x20 });
  assert.throws(() => decompress(CompressionType.Lz4, linked, limit), CorruptRecordError);
  assert.equal(decompress(CompressionType.Lz4, linked).length, zeros.length);
  // Uncompressed data is bounded too.
  assert.throws(() => decompress(CompressionType.None, Buffer.alloc(10), 5), CorruptRecordError);
});

test('decompress: arbitrary bytes under every codec give a value or a SluiceError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 300 }), fc.boolean(), (type, a, withHeader) => {
      let data = Buffer.from(a);
      // Give the decoders a chance to get past their magic checks.
      if (withHeader && type === CompressionType.Snappy) data = Buffer.concat([Buffer.from(XERIAL_HEADER_HEX, 'hex'), data]);
      if (withHeader && type === CompressionType.Lz4) data = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]), data]);
      if (withHeader && type === CompressionType.Zstd) data = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), data]);
      if (withHeader && type === CompressionType.Gzip) data = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0]), data]);
      valueOrSluiceError(() => decompress(type as CompressionType, data, 1 << 20));
    }),
    { numRuns: 400 },
  );
});

test('decompress: mutated valid streams give a value or a SluiceError', () => {
  const sources = [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd].map((t) => [t, compress(t, text(20_000))] as const);
  fc.assert(
    fc.property(fc.constantFrom(...sources), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), ([type, src], flips, cut) => {
      const b = Buffer.from(src);
      for (const [at, x] of flips) b[at % b.length] ^= x;
      valueOrSluiceError(() => decompress(type, b, 1 << 20));
      valueOrSluiceError(() => decompress(type, b.subarray(0, cut % b.length), 1 << 20));
    }),
    { numRuns: 300 },
  );
});

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

test('lz4: the block decoder matches the native frame decoder on repetitive data and on damaged frames', () => {
  // Runs of short patterns give overlapping matches (offset < length) of every size, literals of every length.
  const arbData = fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 30 })
    .map((parts) => Buffer.concat(parts.map(([p, n]) => Buffer.concat(Array.from({ length: n }, () => Buffer.from(p))))));
  fc.assert(
    fc.property(arbData, fc.nat(), fc.nat(255), (data, at, value) => {
      const frame = lz4CompressFrame(data);
      assert.deepEqual(decompress(CompressionType.Lz4, frame), data);
      const damaged = Buffer.from(frame);
      damaged[7 + (at % (damaged.length - 7))] = value;
      let ours: Buffer | null = null;
      let native: Buffer | null = null;
      const err = valueOrSluiceError(() => (ours = decompress(CompressionType.Lz4, damaged, 1 << 24)));
      assert.ok(err === null || err instanceof CorruptRecordError);
      try {
        native = lz4DecompressFrame(damaged);
      } catch {
        native = null;
      }
      if (ours !== null && native !== null) assert.deepEqual(ours, native);
    }),
    { numRuns: 300, seed: 5 },
  );
});

test('lz4: a scratch buffer receives the output when it fits, and a too-small one is outgrown without harm', () => {
  const data = text(300_000);
  const frame = lz4CompressFrame(data);
  const small = Buffer.alloc(1000);
  const outgrown = decompress(CompressionType.Lz4, frame, 1 << 20, small);
  assert.deepEqual(outgrown, data);
  assert.notEqual(outgrown.buffer, small.buffer);
  const big = Buffer.alloc(8 << 20);
  const inPlace = decompress(CompressionType.Lz4, frame, 1 << 20, big);
  assert.deepEqual(inPlace, data);
  assert.equal(inPlace.buffer, big.buffer);
  // The caller's bound still applies whatever the scratch size.
  assert.throws(() => decompress(CompressionType.Lz4, frame, 1000, small), /more than the 1000-byte limit/);
  assert.throws(() => decompress(CompressionType.Lz4, frame, 1000, big), /more than the 1000-byte limit/);
});
