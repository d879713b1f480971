import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Sluice } from '../../src/index.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { RECOVERY_POINT_FILE, observeDurability, type DurabilityEvent } from '../../src/storage/index.js';
import { config } from '../storage/helpers.js';
import { decodeBatches } from '../../src/record/batch.js';
import { batchHash, idemBatch } from './fixtures/crash-writer.js';
import { tempDir } from './helpers.js';

const isTs = import.meta.url.endsWith('.ts');
const fixture = new URL(isTs ? './fixtures/crash-writer.ts' : './fixtures/crash-writer.js', import.meta.url).pathname;

function startChild(dataDir: string, mode: string, onLine: (l: string) => void): ChildProcess {
  const args = [...(isTs ? ['--import', 'tsx'] : []), fixture, dataDir, mode];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout! }).on('line', onLine);
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('exit', () => res());
  });
}

/** Reads a whole partition in small pieces, decoding everything (throws on any corrupt or partial batch). */
function readAll(s: Sluice, topic: string, partition: number): Map<bigint, Buffer> {
  const out = new Map<bigint, Buffer>();
  const hw = s.offsets(topic, partition).highWatermark;
  let off = s.offsets(topic, partition).logStartOffset;
  while (off < hw) {
    const r = s.read(topic, partition, off, { maxBytes: 16384 });
    assert.ok(r.records.length > 0, `empty read at ${off} below HW ${hw}`);
    let pos = 0;
    for (const b of decodeBatches(r.records)) {
      out.set(b.baseOffset, Buffer.from(r.records.subarray(pos, pos + b.sizeInBytes)));
      pos += b.sizeInBytes;
    }
    assert.equal(pos, r.records.length, 'read returned a partial batch');
    off = r.nextOffset;
  }
  return out;
}

test('kill -9: every acks=all append survives, reads never see a torn batch', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('sluice-crash-');
  try {
    const acked: { p: number; base: bigint; last: bigint; hash: string }[] = [];
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      const child = startChild(dir, 'acks', (l) => {
        if (l === 'ready') ready();
        const m = /^ack (\d+) (\d+) (\d+) ([0-9a-f]+)$/.exec(l);
        if (m) acked.push({ p: Number(m[1]), base: BigInt(m[2]), last: BigInt(m[3]), hash: m[4] });
      });
      await Promise.race([isReady, killed(child)]);
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
      child.kill('SIGKILL');
      await killed(child);

      const s = await Sluice.open({ dataDir: dir, owners: 1 });
      const parts = [0, 1, 2].map((p) => readAll(s, 'crash', p));
      for (const a of acked) {
        const b = parts[a.p].get(a.base);
        assert.ok(b, `round ${round}: acknowledged batch at ${a.p}/${a.base} is missing`);
        assert.equal(batchHash(b), a.hash, `round ${round}: batch at ${a.p}/${a.base} differs`);
      }
      await s.close();
    }
    assert.ok(acked.length > 100, `only ${acked.length} acknowledged appends over ${rounds} rounds`);
  } finally {
    cleanup();
  }
});

test('kill -9, then open: every segment recovery validates is synced before the recovery point moves past it', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir('sluice-rp-crash-');
  try {
    const pdir = path.join(dir, 'crash-0');
    const logs = (): string[] => (fs.existsSync(pdir) ? fs.readdirSync(pdir).filter((n) => n.endsWith('.log')).sort() : []);
    const child = startChild(dir, 'acks', () => undefined);
    const t0 = Date.now();
    while (logs().length < 4 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await killed(child);
    assert.ok(logs().length >= 4, `only ${logs().length} segments before the kill`);
    // What a kill leaves when no rolled segment's background sync had finished: no recovery point yet, so
    // the open validates every segment, sealed ones included, from the page cache.
    fs.rmSync(path.join(pdir, RECOVERY_POINT_FILE), { force: true });

    const events: DurabilityEvent[] = [];
    const stop = observeDurability((e) => events.push(e));
    let log: PartitionLog;
    try {
      log = PartitionLog.open({ dir: pdir, config: config({ segmentBytes: 65536 }) });
    } finally {
      stop();
    }
    try {
      const files = log.segments.map((s) => s.logFile);
      assert.equal(log.recoveryReport.scannedSegments, files.length, 'every segment was validated');
      const cp = events.findIndex((e) => e.op === 'checkpoint' && path.basename(e.file) === RECOVERY_POINT_FILE);
      assert.ok(cp >= 0, 'the recovery point was written');
      assert.equal((events[cp] as { offset: bigint }).offset, log.activeSegment.baseOffset);
      for (const f of files) {
        const synced = events.findIndex((e) => e.op === 'sync' && e.file === f);
        assert.ok(synced >= 0 && synced < cp, `${path.basename(f)} synced before the recovery point moved past it (sync #${synced}, checkpoint #${cp})`);
      }
    } finally {
      log.close();
    }
  } finally {
    cleanup();
  }
});

test('kill -9: idempotent dedup survives a crash (snapshot + replay)', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = tempDir('sluice-idem-crash-');
  try {
    let pid = -1n;
    let epoch = 0;
    const acks: { seq: number; base: bigint; last: bigint }[] = [];
    const child = startChild(dir, 'idem', (l) => {
      const p = /^pid (\d+) (\d+)$/.exec(l);
      if (p) {
        pid = BigInt(p[1]);
        epoch = Number(p[2]);
      }
      const m = /^ack (\d+) (\d+) (\d+)$/.exec(l);
      if (m) acks.push({ seq: Number(m[1]), base: BigInt(m[2]), last: BigInt(m[3]) });
    });
    const t0 = Date.now();
    while (acks.length < 60 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await killed(child);
    assert.ok(acks.length >= 60, `child acknowledged only ${acks.length} appends`);

    const s = await Sluice.open({ dataDir: dir, owners: 1 });
    const last = acks[acks.length - 1];
    // the retry of the last acknowledged batch is a duplicate: original offsets, nothing written
    const leo = s.offsets('idem', 0).logEndOffset;
    const r = await s.append('idem', 0, idemBatch(pid, epoch, last.seq), { acks: 1 });
    assert.equal(r.baseOffset, last.base);
    assert.equal(r.lastOffset, last.last);
    assert.equal(s.offsets('idem', 0).logEndOffset, leo);
    // the next sequence (maybe written before the kill, unacknowledged) is either a duplicate or appended once
    await s.append('idem', 0, idemBatch(pid, epoch, last.seq + 1), { acks: 1 });
    await s.append('idem', 0, idemBatch(pid, epoch, last.seq + 2), { acks: 1 });
    const seqs = [...readAll(s, 'idem', 0).values()].flatMap((b) => decodeBatches(b).map((d) => d.baseSequence / 4));
    assert.deepEqual(seqs, Array.from({ length: last.seq + 3 }, (_, i) => i), 'each sequence exactly once');
    await s.close();
  } finally {
    cleanup();
  }
});

test('an engine that is not closed does not keep the process alive once idle', { timeout: 20_000 }, async () => {
  const { dir, cleanup } = tempDir('sluice-noclose-');
  try {
    const lines: string[] = [];
    const child = startChild(dir, 'noclose', (l) => lines.push(l));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    assert.equal(code, 0);
    assert.deepEqual(lines, ['done 0 false']);
  } finally {
    cleanup();
  }
});
