/**
 * What the produce-time record checks (src/record/validate.ts) cost the broker: kcat (librdkafka) produces N
 * records of `recordBytes` to `sluice start`, once with the checks and once with only the framing and CRC
 * checks (the developer switch SLUICEDEV_SKIP_RECORD_VALIDATION=1), uncompressed and lz4; the broker's CPU time
 * (user + system of its process, all threads, from /proc/<pid>/stat) per record, side by side.
 *
 *   npm run build && node dist/bench/produce-validation.js [records=1000000] [recordBytes=100] [rounds=3]
 *
 * Each round starts a fresh broker per mode and alternates the modes; the median round is reported. First, the
 * checks alone in this process (validateProducedBatch on one batch of 10,000 such records per codec, CPU time
 * per record beside the CRC check's), the part of the broker figure they explain. Not a test: run by hand.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateBatch } from '../src/record/batch-header.js';
import { encodeBatch } from '../src/record/batch.js';
import { CompressionType } from '../src/record/batch-header.js';
import { validateProducedBatch, type ProduceRules } from '../src/record/validate.js';
import { startSluice } from '../test/brokers.js';
import { fmtRate, median, now, tempDir } from './lib.js';

const N = Number(process.argv[2] ?? 1_000_000);
const SIZE = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 3);
const SWITCH = 'SLUICEDEV_SKIP_RECORD_VALIDATION';
/** USER_HZ: the unit of utime/stime in /proc (100 on every Linux this runs on). */
const TICKS_PER_SEC = 100;

/** User + system CPU seconds of process `pid` so far, every thread included. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SEC;
}

function kcatProduce(bootstrap: string, topic: string, inputFile: string, codec: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(inputFile, 'r');
    const child = spawn('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', '0', '-X', `compression.codec=${codec}`, '-X', 'acks=1', '-X', 'linger.ms=5'], {
      stdio: [fd, 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      closeSync(fd);
      if (code === 0) resolve();
      else reject(new Error(`kcat exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

interface Run {
  cpuNsPerRecord: number;
  recordsPerSec: number;
}

async function measure(validate: boolean, codec: string, inputFile: string): Promise<Run> {
  if (validate) delete process.env[SWITCH];
  else process.env[SWITCH] = '1';
  const broker = await startSluice({ config: { 'auto.create.topics.enable': 'true', 'num.partitions': '1' } });
  delete process.env[SWITCH];
  try {
    const pid = broker.child.pid!;
    const topic = `v-${codec}`;
    const cpu0 = cpuSeconds(pid);
    const t0 = now();
    await kcatProduce(broker.bootstrap, topic, inputFile, codec);
    const seconds = (now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    return { cpuNsPerRecord: (cpu * 1e9) / N, recordsPerSec: N / seconds };
  } finally {
    await broker.cleanup();
  }
}

/** CPU ns per record of `fn` run over a batch of `records` records, best of 5 timings of `reps` runs. */
function cpuPerRecord(fn: () => void, records: number, reps: number): number {
  for (let i = 0; i < reps; i++) fn();
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) fn();
    const u = process.cpuUsage(t0);
    best = Math.min(best, ((u.user + u.system) * 1000) / reps / records);
  }
  return best;
}

function inProcess(): void {
  const rules: ProduceRules = { logAppendTime: false, compacted: false, timestampBeforeMaxMs: Infinity, timestampAfterMaxMs: Infinity, maxDecompressedBytes: 64 << 20 };
  const n = 10_000;
  const records = Array.from({ length: n }, (_, i) => ({ value: `${String(i).padStart(10, '0')}${'x'.repeat(Math.max(0, SIZE - 10))}` }));
  console.log(`validateProducedBatch alone, one batch of ${n} records of ${SIZE} B, CPU per record (best of 5)`);
  console.log(`${'codec'.padEnd(8)} ${'records check'.padStart(14)} ${'CRC check'.padStart(14)}`);
  for (const [name, codec] of [['none', CompressionType.None], ['lz4', CompressionType.Lz4], ['zstd', CompressionType.Zstd], ['gzip', CompressionType.Gzip], ['snappy', CompressionType.Snappy]] as const) {
    const batch = encodeBatch(records, { compression: codec });
    const size = batch.length;
    const check = cpuPerRecord(() => validateProducedBatch(batch, 0, size, rules, Date.now(), 'bench', 0), n, 20);
    const crc = cpuPerRecord(() => validateBatch(batch, 0), n, 20);
    console.log(`${name.padEnd(8)} ${`${check.toFixed(0)} ns`.padStart(14)} ${`${crc.toFixed(0)} ns`.padStart(14)}`);
  }
  console.log('');
}

async function main(): Promise<void> {
  inProcess();
  const tmp = tempDir('validation');
  try {
    // N lines of SIZE - 1 printable bytes (kcat sends each line, without its newline, as one record value).
    const inputFile = join(tmp.path, 'records.txt');
    const line = 'x'.repeat(Math.max(0, SIZE - 11));
    const chunks: string[] = [];
    for (let i = 0; i < N; i++) chunks.push(`${String(i).padStart(10, '0')}${line}\n`);
    writeFileSync(inputFile, chunks.join(''));
    chunks.length = 0;

    console.log(`kcat -P of ${N} records of ${SIZE} B to \`sluice start\`, ${ROUNDS} rounds, median; broker CPU (user+sys) per record`);
    console.log(`${'codec'.padEnd(8)} ${'validated'.padStart(14)} ${'CRC only'.padStart(14)} ${'ratio'.padStart(7)}   ${'records/s validated'.padStart(20)} ${'CRC only'.padStart(14)}`);
    for (const codec of ['none', 'lz4']) {
      const on: Run[] = [];
      const off: Run[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which mode goes first, so neither always gets the cooler machine.
        if (r % 2 === 0) {
          on.push(await measure(true, codec, inputFile));
          off.push(await measure(false, codec, inputFile));
        } else {
          off.push(await measure(false, codec, inputFile));
          on.push(await measure(true, codec, inputFile));
        }
      }
      const cpuOn = median(on.map((x) => x.cpuNsPerRecord));
      const cpuOff = median(off.map((x) => x.cpuNsPerRecord));
      console.log(
        `${codec.padEnd(8)} ${`${cpuOn.toFixed(0)} ns`.padStart(14)} ${`${cpuOff.toFixed(0)} ns`.padStart(14)} ${(cpuOn / cpuOff).toFixed(2).padStart(7)}   ` +
          `${fmtRate(median(on.map((x) => x.recordsPerSec)), 'records').padStart(20)} ${fmtRate(median(off.map((x) => x.recordsPerSec)), 'records').padStart(14)}`,
      );
      console.log(`         rounds validated: ${on.map((x) => x.cpuNsPerRecord.toFixed(0)).join(', ')} ns; CRC only: ${off.map((x) => x.cpuNsPerRecord.toFixed(0)).join(', ')} ns`);
    }
  } finally {
    tmp.cleanup();
  }
}

await main();
