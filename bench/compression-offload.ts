/**
 * Does compressing the embedded producer's batches in a piscina pool beat doing it in place?
 *   npm run build && node dist/bench/compression-offload.js
 * Prints records/s for both, per codec, measured in the same run (1000 × 100-byte records per batch).
 */
import { Piscina } from 'piscina';
import { encodeBatch } from '../src/record/batch.js';
import { CompressionType } from '../src/record/batch-header.js';
import '../native-bindings/codecs.js';

const N = 1000;
const BATCHES = 400;
const value = Buffer.alloc(100);
for (let i = 0; i < value.length; i++) value[i] = ((i * 7) % 26) + 97;
const records = Array.from({ length: N }, () => ({ value }));
const values = records.map((r) => r.value);

for (const [name, c] of [['gzip', CompressionType.Gzip], ['snappy', CompressionType.Snappy], ['lz4', CompressionType.Lz4], ['zstd', CompressionType.Zstd]] as const) {
  let t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) encodeBatch(records, { compression: c });
  const inPlace = (N * BATCHES) / ((performance.now() - t0) / 1000);
  const pool = new Piscina({ filename: new URL('./compression-offload-task.js', import.meta.url).href, minThreads: 2, maxThreads: 2 });
  await Promise.all(Array.from({ length: 4 }, () => pool.run({ values, compression: c })));
  t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < BATCHES; i++) {
    inflight.push(pool.run({ values, compression: c }));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  const pooled = (N * BATCHES) / ((performance.now() - t0) / 1000);
  console.log(`${name.padEnd(6)} in place ${(inPlace / 1e6).toFixed(2)} M rec/s | piscina (2 threads) ${(pooled / 1e6).toFixed(2)} M rec/s | ratio ${(pooled / inPlace).toFixed(2)}`);
  await pool.destroy();
}
