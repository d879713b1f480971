/**
 * Micro-benchmark of the record layer's hot path: encode and decode of 1000 × 100-byte records per batch.
 * Run: node --import tsx bench/record-encode.ts   (or node dist/bench/record-encode.js after a build)
 */
import { Bench } from 'tinybench';
import { CompressionType } from '../src/record/batch-header.js';
import { decodeBatch, encodeBatch } from '../src/record/batch.js';
import type { RecordInput } from '../src/record/types.js';

const RECORDS = 1000;
const now = Date.now();
const payload = (i: number): Buffer => Buffer.alloc(100, i & 0xff);
const bufferRecords: RecordInput[] = Array.from({ length: RECORDS }, (_, i) => ({ key: null, value: payload(i), timestamp: now + i }));
const keyedRecords: RecordInput[] = Array.from({ length: RECORDS }, (_, i) => ({
  key: `key-${i % 97}`,
  value: payload(i),
  headers: [{ key: 'trace', value: Buffer.from('abc') }],
}));
const stringRecords: RecordInput[] = Array.from({ length: RECORDS }, (_, i) => ({ value: 'x'.repeat(96) + String(1000 + i) }));

const plain = encodeBatch(bufferRecords, { now });
const codecs: [string, CompressionType][] = [
  ['gzip', CompressionType.Gzip],
  ['snappy', CompressionType.Snappy],
  ['lz4', CompressionType.Lz4],
  ['zstd', CompressionType.Zstd],
];
// Compressible but not trivially so: 100 bytes of a small alphabet each.
const textRecords: RecordInput[] = Array.from({ length: RECORDS }, (_, i) => ({
  value: Buffer.from(Array.from({ length: 100 }, (_, j) => 97 + ((i * 31 + j * 7) % 13))),
}));

const bench = new Bench({ time: 1000, warmupTime: 300 });
bench
  .add('encode 1000 × 100 B (Buffer values)', () => {
    encodeBatch(bufferRecords, { now });
  })
  .add('encode 1000 × 100 B (string key + header)', () => {
    encodeBatch(keyedRecords, { now });
  })
  .add('encode 1000 × 100 B (string values)', () => {
    encodeBatch(stringRecords, { now });
  })
  .add('decode 1000 × 100 B', () => {
    decodeBatch(plain);
  });
for (const [name, type] of codecs) {
  const compressed = encodeBatch(textRecords, { now, compression: type });
  bench
    .add(`encode 1000 × 100 B ${name}`, () => {
      encodeBatch(textRecords, { now, compression: type });
    })
    .add(`decode 1000 × 100 B ${name}`, () => {
      decodeBatch(compressed);
    });
}

await bench.run();
for (const task of bench.tasks) {
  const r = task.result;
  if (r === undefined || !('throughput' in r)) continue;
  const batchesPerSec = r.throughput.mean;
  console.log(`${task.name.padEnd(46)} ${((batchesPerSec * RECORDS) / 1e6).toFixed(2).padStart(6)} M records/s`);
}
