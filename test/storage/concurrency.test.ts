import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setImmediate as tick } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { decodeBatches } from '../../src/record/batch.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { PARTITION_STATE_BYTES, PartitionSharedState } from '../../src/storage/shared-state.js';
import type { IoMode } from '../../src/storage/segment.js';
import { config, makeBatch, rmDir, tempDir } from './helpers.js';

// Under tsx the fixtures are .ts and the worker has to register tsx itself; compiled, they are .js.
const isTs = import.meta.url.endsWith('.ts');
const fixture = (name: string): URL => new URL(`./fixtures/${name}${isTs ? '.ts' : '.js'}`, import.meta.url);

function startWorker(data: object): Worker {
  const target = fixture('reader-worker').href;
  if (!isTs) return new Worker(new URL(target), { workerData: data });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const src = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(target)}); })`;
  return new Worker(src, { eval: true, workerData: data });
}

for (const ioMode of ['pwrite', 'mmap'] as IoMode[]) {
  test(`a PartitionReader in a worker thread tails what the owner writes (${ioMode}; rolls + retention meanwhile)`, async () => {
    const dir = tempDir();
    try {
      const sab = new SharedArrayBuffer(PARTITION_STATE_BYTES * 4);
      const state = new PartitionSharedState(sab, 2);
      const log = PartitionLog.open({ dir, config: config({ segmentBytes: 8192, indexIntervalBytes: 512, retentionBytes: 64 * 1024 }), state, ioMode });
      const total = 1500;
      let expectedRecords = 0;
      const batches: Buffer[] = [];
      for (let i = 0; i < total; i++) {
        const n = 1 + (i % 4);
        batches.push(makeBatch(n, { tag: `w${i}`, valueSize: 20 + (i % 50) }));
        expectedRecords += n;
      }
      const until = BigInt(expectedRecords);
      const worker = startWorker({ dir, sab, slot: 2, untilOffset: until.toString() });
      const done = new Promise<{ ok: boolean; error?: string; records: number; skipped: string; end: string; reads: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker exited (${code}) without a result`)));
      });
      for (let i = 0; i < total; i++) {
        log.append(batches[i] as Buffer, { assignOffsets: true });
        if (i % 50 === 49) {
          log.deleteOldSegments();
          await tick();
        }
      }
      const res = await done;
      await worker.terminate();
      assert.equal(res.ok, true, res.error);
      assert.equal(res.end, until.toString());
      assert.ok(log.segments.length > 2 && log.logStartOffset > 0n, 'rolled and deleted segments meanwhile');
      // every record was either read or deleted by retention before the worker got to it
      assert.equal(BigInt(res.records) + BigInt(res.skipped) >= until, true);
      log.close();
    } finally {
      rmDir(dir);
    }
  });
}

test('kill -9 of an appending process: every acknowledged (flushed) offset survives', async () => {
  const dir = tempDir();
  try {
    const child = spawn(process.execPath, [...process.execArgv, fixture('crash-child').pathname, dir, 'pwrite'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1n;
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) acked = BigInt(l);
        if (acked >= 3000n) child.kill('SIGKILL');
      });
      child.once('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without being killed (${signal})`))));
      child.once('error', reject);
    });
    const log = PartitionLog.open({ dir, config: config({ segmentBytes: 64 * 1024, indexIntervalBytes: 512, retentionMs: -1 }) });
    const rep = log.recoveryReport;
    assert.equal(rep.clean, false);
    assert.ok(log.logEndOffset > acked, `log end ${log.logEndOffset} covers the last acknowledged offset ${acked}`);
    assert.deepEqual(rep.corruptions.filter((c) => !c.inTail), []);
    // every offset is readable, batches are CRC-valid (decode checks) and contiguous
    let expect = 0n;
    for (let o = 0n; o < log.logEndOffset; ) {
      const r = log.read(o, { maxBytes: 1 << 20 });
      for (const b of decodeBatches(r.records)) {
        assert.equal(b.baseOffset, expect);
        expect = b.lastOffset + 1n;
      }
      o = r.nextOffset;
    }
    assert.equal(expect, log.logEndOffset);
    log.close();
  } finally {
    rmDir(dir);
  }
});
