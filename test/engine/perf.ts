/**
 * Quick engine throughput/latency check (not part of the test run):
 *   node dist/test/engine/perf.js [seconds=3]
 * Appends pre-built batches of 1000 × 100-byte records through Sluice.append with acks=1 over 1, 100 and
 * 1000 partitions, then measures sequential append latency with and without an fsync per batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Sluice } from '../../src/index.js';
import { encodeBatch } from '../../src/record/batch.js';

const seconds = Number(process.argv[2] ?? 3);
const RECORDS = 1000;
const batch = encodeBatch(Array.from({ length: RECORDS }, (_, i) => ({ value: Buffer.alloc(100, i & 0xff) })));

async function throughput(partitions: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-perf-'));
  const s = await Sluice.open({ dataDir: dir });
  try {
    await s.createTopic('perf', { partitions, configs: { 'segment.bytes': String(Number(process.env.SEGMENT_MB ?? 256) * 1024 * 1024) } });
    // warm-up: the first append to a partition creates its index pages and leader-epoch file
    await Promise.all(Array.from({ length: partitions }, (_, i) => s.append('perf', i, batch, { acks: 1 })));
    const inFlight = 64;
    let appends = 0;
    let p = 0;
    const end = performance.now() + seconds * 1000;
    const t0 = performance.now();
    const lane = async (): Promise<void> => {
      while (performance.now() < end) {
        p = (p + 1) % partitions;
        await s.append('perf', p, batch, { acks: 1 });
        appends++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    const secs = (performance.now() - t0) / 1000;
    const recs = (appends * RECORDS) / secs;
    const mb = (appends * batch.length) / secs / 1e6;
    console.log(`partitions=${partitions}: ${(recs / 1e6).toFixed(2)} M records/s, ${mb.toFixed(0)} MB/s, ${((secs * 1e6) / appends).toFixed(1)} µs/append`);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function latency(fsync: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-perf-'));
  const s = await Sluice.open({ dataDir: dir });
  try {
    await s.createTopic('lat', { configs: fsync ? { 'flush.messages': '1' } : {} });
    const small = encodeBatch(Array.from({ length: 10 }, () => ({ value: Buffer.alloc(100) })));
    const samples: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end && samples.length < 20000) {
      const t = performance.now();
      await s.append('lat', 0, small, { acks: fsync ? 'all' : 1 });
      samples.push(performance.now() - t);
    }
    samples.sort((a, b) => a - b);
    const q = (x: number): string => (samples[Math.floor(samples.length * x)] * 1000).toFixed(0);
    console.log(`latency ${fsync ? 'acks=all, fsync per batch' : 'acks=1, no fsync'}: p50 ${q(0.5)} µs, p99 ${q(0.99)} µs (${samples.length} appends)`);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const n of (process.env.PARTITIONS ?? '1,100,1000').split(',').map(Number)) await throughput(n);
await latency(false);
await latency(true);
