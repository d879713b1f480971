/**
 * Storage layer throughput against plain file I/O on the same machine:
 *   append: pre-built 64 KiB batches through PartitionLog.append (mmap and pwrite backends) vs a sequential
 *           fs.writeSync of the same bytes to a file;
 *   read:   PartitionReader.read of the cached log (1 MiB fetches) vs fs.readSync of the same file.
 * Run: node --import tsx bench/storage-append.ts [totalMiB=256] [rounds=5]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeBatch } from '../src/record/batch.js';
import { DEFAULT_LOG_CONFIG } from '../src/storage/config.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import type { IoMode } from '../src/storage/segment.js';
import { median } from './lib.js';

const totalMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 5);
const BATCH = 64 * 1024;
const count = Math.floor((totalMiB * 1024 * 1024) / BATCH);

function buildBatches(): Buffer[] {
  // 16 distinct 64 KiB batches (one record each), reused round-robin
  const out: Buffer[] = [];
  for (let i = 0; i < 16; i++) {
    // varint lengths grow with the value: converge on an exact 64 KiB batch
    let valueSize = BATCH - 100;
    let b = encodeBatch([{ key: 'k', value: Buffer.alloc(valueSize, i) }]);
    for (let tries = 0; b.length !== BATCH && tries < 5; tries++) {
      valueSize += BATCH - b.length;
      b = encodeBatch([{ key: 'k', value: Buffer.alloc(valueSize, i) }]);
    }
    if (b.length !== BATCH) throw new Error(`batch is ${b.length} bytes`);
    out.push(b);
  }
  return out;
}

function mibps(bytes: number, ns: bigint): number {
  return bytes / (1024 * 1024) / (Number(ns) / 1e9);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
const batches = buildBatches();
const bytes = count * BATCH;

function baselineWrite(round: number): { mibs: number; file: string } {
  const file = path.join(root, `plain-${round}.bin`);
  fs.rmSync(file, { force: true });
  const fd = fs.openSync(file, 'w');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fs.writeSync(fd, batches[i & 15] as Buffer);
  const t1 = process.hrtime.bigint();
  fs.closeSync(fd);
  return { mibs: mibps(bytes, t1 - t0), file };
}

function logAppend(ioMode: IoMode, round: number): { mibs: number; log: PartitionLog; dir: string } {
  const dir = path.join(root, `log-${ioMode}-${round}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const log = PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, retentionMs: -1 }, ioMode });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) log.append(batches[i & 15] as Buffer, { assignOffsets: true });
  const t1 = process.hrtime.bigint();
  return { mibs: mibps(bytes, t1 - t0), log, dir };
}

function baselineRead(file: string): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let pos = 0; ; ) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    sum += buf[n - 1] as number;
    pos += n;
  }
  const t1 = process.hrtime.bigint();
  fs.closeSync(fd);
  if (sum < 0) console.log(sum);
  return mibps(bytes, t1 - t0);
}

/** Reads the whole log; `copy` also copies each fetch into a Buffer (what a consumer touching bytes pays). */
function logRead(log: PartitionLog, copy: boolean): number {
  const reader = log.reader;
  const scratch = Buffer.allocUnsafe(2 << 20);
  let total = 0;
  const t0 = process.hrtime.bigint();
  for (let o = 0n; o < log.highWatermark; ) {
    const r = reader.read(o, { maxBytes: 1 << 20 });
    if (copy) r.records.copy(scratch, 0);
    total += r.records.length;
    o = r.nextOffset;
  }
  const t1 = process.hrtime.bigint();
  if (total !== bytes) throw new Error(`read ${total} bytes of ${bytes}`);
  return mibps(bytes, t1 - t0);
}

const res: Record<string, number[]> = {};
const add = (k: string, v: number): void => {
  (res[k] ??= []).push(v);
};
try {
  // files stay until the end (deleting on a discard-mounted disk stalls later writes); the order rotates
  for (let r = 0; r < rounds; r++) {
    const runs: Array<() => void> = [
      () => {
        const base = baselineWrite(r);
        add('write: fs.writeSync', base.mibs);
        add('read: fs.readSync', baselineRead(base.file));
      },
      ...(['mmap', 'pwrite'] as IoMode[]).map((mode) => () => {
        const { mibs, log } = logAppend(mode, r);
        add(`append: ${mode}`, mibs);
        add(`read zero-copy (${mode} log)`, logRead(log, false));
        add(`read + copy (${mode} log)`, logRead(log, true));
        log.close();
      }),
    ];
    for (let i = 0; i < runs.length; i++) {
      execFileSync('sync'); // start every timed run without a writeback backlog
      (runs[(i + r) % runs.length] as () => void)();
    }
  }
  const w = median(res['write: fs.writeSync'] as number[]);
  const rd = median(res['read: fs.readSync'] as number[]);
  console.log(`${count} x 64 KiB batches (${totalMiB} MiB), median of ${rounds} rounds, ${os.cpus().length} cpus`);
  for (const [k, v] of Object.entries(res)) {
    const m = median(v);
    if (k.endsWith(' ms')) {
      console.log(`${k.padEnd(34)} ${m.toFixed(1)} ms`);
      continue;
    }
    const ref = k.startsWith('read') ? rd : w;
    console.log(`${k.padEnd(34)} ${m.toFixed(0).padStart(7)} MiB/s   ratio ${(m / ref).toFixed(2)}`);
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
