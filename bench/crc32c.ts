/**
 * CRC-32C, the check every batch gets on entering the engine: Sluice's SSE4.2 addon (three CRC32 streams at
 * once) vs the prebuilt @node-rs/crc32 it replaced, measured in the same run.
 * Run: node dist/bench/crc32c.js
 */
import { Bench } from 'tinybench';
import { crc32c, crc32cFallback, crc32cImplementation } from '../native-bindings/crc32c.js';
import { fmtBytesRate, printTable, type Row } from './lib.js';

const sizes = [100, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const rows: Row[] = [];
for (const size of sizes) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 131) & 0xff;
  const bench = new Bench({ time: 400, warmupTime: 100 });
  bench.add('sluice', () => crc32c(buf)).add('@node-rs/crc32', () => crc32cFallback(buf));
  await bench.run();
  // bytes/s from the median time per call
  const rate = (name: string): number => {
    const r = bench.getTask(name)?.result;
    if (!r || !('latency' in r)) throw new Error(`no result for ${name}`);
    return size / (r.latency.p50 / 1000);
  };
  const ours = rate('sluice');
  const base = rate('@node-rs/crc32');
  rows.push({
    scenario: `CRC-32C of ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`,
    sluice: fmtBytesRate(ours),
    baseline: `${fmtBytesRate(base)} @node-rs/crc32`,
    ratio: ours / base,
    target: '',
  });
}
console.log(printTable(rows));
console.log(`implementation in use: ${crc32cImplementation}`);
