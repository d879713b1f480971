/**
 * Consumer fetch throughput over loopback, against plain Node socket-to-socket throughput of the same bytes
 * measured in the same run.
 *
 *   npm run build && node dist/bench/wire-fetch.js [--mib 1024] [--partitions 1] [--partition-max-bytes 1048576]
 *                                                  [--max-bytes 52428800] [--rounds 3]
 *
 * The broker (engine + Kafka server) runs in this process; the topic is filled with 64 KiB batches through
 * `engine.append` (so it is in the page cache). Consumers run in a child process, so their CPU does not share
 * the broker's thread:
 *   - kafka: one connection (src/kafka-client), one Fetch in flight at a time (as a consumer), every partition
 *     in each request, next offsets from the batch headers; records are not decoded.
 *   - plain: a server in this process writes the very same record bytes (the engine's read slices) to a socket
 *     as fast as it drains; the child counts them.
 * Rounds alternate kafka / plain; the median of each is reported with the ratio and the broker's
 * `fetchBytesCopied` (record bytes copied in JS on the fetch path: must stay 0). Not a test: run by hand.
 */
import { fork } from 'node:child_process';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { Sluice } from '../src/sluice.js';
import { startNode } from '../src/node/node.js';
import { Connection } from '../src/kafka-client/connection.js';
import { BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD } from '../src/record/batch-header.js';
import { encodeBatch } from '../src/record/batch.js';
import { fmtBytesRate, printTable, tempDir, type Row } from './lib.js';

const MiB = 1024 * 1024;
const TOPIC = 'wire-fetch';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

interface ClientJob {
  mode: 'kafka' | 'plain';
  port: number;
  partitions: number;
  /** Per partition: the offset to stop at (kafka) / total record bytes expected (plain). */
  ends: string[];
  totalBytes: number;
  partitionMaxBytes: number;
  maxBytes: number;
}

interface ClientResult {
  bytes: number;
  ms: number;
  fetches: number;
  /** CPU time of the client process over the transfer (user + system). */
  cpuMs: number;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

// ------------------------------------------------------------------------------------------ child side

async function runKafkaClient(job: ClientJob): Promise<ClientResult> {
  const conn = await Connection.open({ host: '127.0.0.1', port: job.port, clientId: 'wire-fetch' });
  const next = Array.from({ length: job.partitions }, () => 0n);
  const ends = job.ends.map((e) => BigInt(e));
  let bytes = 0;
  let fetches = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    while (next.some((o, p) => o < ends[p]!)) {
      const resp = await conn.request('Fetch', {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: job.maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: TOPIC,
            partitions: next.map((fetchOffset, partition) => ({
              partition,
              fetchOffset,
              partitionMaxBytes: job.partitionMaxBytes,
              currentLeaderEpoch: -1,
              logStartOffset: -1n,
            })),
          },
        ],
      });
      fetches++;
      if (resp.errorCode !== 0) throw new Error(`Fetch error ${resp.errorCode}`);
      for (const t of resp.responses) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new Error(`Fetch ${TOPIC}-${p.partitionIndex}: error ${p.errorCode}`);
          const buf = p.records;
          if (!buf) continue;
          let pos = 0;
          let n = next[p.partitionIndex]!;
          while (pos + BATCH_HEADER_SIZE <= buf.length) {
            const size = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
            if (pos + size > buf.length) break;
            n = buf.readBigInt64BE(pos) + BigInt(buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)) + 1n;
            bytes += size;
            pos += size;
          }
          next[p.partitionIndex] = n;
        }
      }
    }
    return { bytes, ms: performance.now() - t0, fetches, cpuMs: cpuMsSince(cpu0) };
  } finally {
    conn.close();
  }
}

function runPlainClient(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const s = netConnect({ host: '127.0.0.1', port: job.port });
    s.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    s.on('error', reject);
    s.on('end', () => {
      const ms = performance.now() - t0;
      s.destroy();
      if (bytes !== job.totalBytes) reject(new Error(`plain client got ${bytes} bytes, expected ${job.totalBytes}`));
      else resolve({ bytes, ms, fetches: 0, cpuMs: cpuMsSince(cpu0) });
    });
  });
}

// ------------------------------------------------------------------------------------------ parent side

function runChild(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url), ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: ClientResult | null = null;
    child.on('message', (m: { ok: boolean; result?: ClientResult; error?: string }) => {
      if (m.ok) result = m.result!;
      else reject(new Error(m.error));
    });
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`client exited with code ${code}`))));
    child.send(job);
  });
}

/** A batch of 100-byte records just under `bytes`. */
function batchOfBytes(bytes: number): Buffer {
  const value = Buffer.alloc(100, 0x61);
  let n = Math.floor(bytes / 110);
  let b = encodeBatch(Array.from({ length: n }, () => ({ value })));
  while (b.length > bytes) b = encodeBatch(Array.from({ length: --n }, () => ({ value })));
  return b;
}

async function fill(engine: Sluice, partitions: number, totalBytes: number): Promise<void> {
  const batch = batchOfBytes(64 * 1024);
  const count = Math.ceil(totalBytes / batch.length);
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (next < count && next - done < 32) {
        // engine.append patches base offsets in place: every append gets its own copy
        const p = next++ % partitions;
        engine.append(TOPIC, p, Buffer.from(batch), { acks: 1 }).then(() => (++done === count ? resolve() : pump()), reject);
      }
    };
    pump();
  });
}

/** The record bytes of every partition as the engine's own read slices (zero-copy views of the segments). */
function slicesOf(engine: Sluice, partitions: number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < partitions; p++) {
    for (let offset = 0n; ; ) {
      const r = engine.read(TOPIC, p, offset, { maxBytes: 8 * MiB });
      if (r.records.length === 0) break;
      out.push(r.records);
      offset = r.nextOffset;
    }
  }
  return out;
}

/** A server that writes `slices` to each connection as fast as the socket drains, then ends it. */
function plainServer(slices: Buffer[]): Promise<Server> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let i = 0;
    const pump = (): void => {
      while (i < slices.length) {
        if (!socket.write(slices[i++]!)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.on('error', () => socket.destroy());
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const mib = arg('mib', 1024);
  const partitions = arg('partitions', 1);
  const partitionMaxBytes = arg('partition-max-bytes', 1 * MiB);
  const maxBytes = arg('max-bytes', 50 * MiB);
  const rounds = arg('rounds', 3);
  const dir = tempDir('wire-fetch');
  const engine = await Sluice.open({ dataDir: dir.path });
  const node = await startNode({ engine, kafka: { host: '127.0.0.1', port: 0, autoCreateTopics: false } });
  const server = node.kafka!;
  let plain: Server | null = null;
  try {
    await engine.createTopic(TOPIC, { partitions });
    const t0 = performance.now();
    await fill(engine, partitions, mib * MiB);
    const fillMs = performance.now() - t0;
    const ends = Array.from({ length: partitions }, (_, p) => engine.offsets(TOPIC, p).highWatermark.toString());
    const slices = slicesOf(engine, partitions);
    const totalBytes = slices.reduce((n, b) => n + b.length, 0);
    plain = await plainServer(slices);
    const plainPort = (plain.address() as { port: number }).port;
    const job = { partitions, ends, totalBytes, partitionMaxBytes, maxBytes };
    const kafka: number[] = [];
    const base: number[] = [];
    // CPU ms per GiB moved (server process / client process): far less noisy than rates on a shared machine
    const cpu = { kafkaServer: [] as number[], kafkaClient: [] as number[], plainServer: [] as number[], plainClient: [] as number[] };
    const perGiB = (ms: number): number => (ms * 1024 * MiB) / totalBytes;
    let fetches = 0;
    for (let r = 0; r < rounds; r++) {
      let c0 = process.cpuUsage();
      const k = await runChild({ ...job, mode: 'kafka', port: server.address.port });
      cpu.kafkaServer.push(perGiB(cpuMsSince(c0)));
      cpu.kafkaClient.push(perGiB(k.cpuMs));
      if (k.bytes !== totalBytes) throw new Error(`kafka client got ${k.bytes} record bytes, expected ${totalBytes}`);
      kafka.push(k.bytes / (k.ms / 1000));
      fetches = k.fetches;
      c0 = process.cpuUsage();
      const b = await runChild({ ...job, mode: 'plain', port: plainPort });
      cpu.plainServer.push(perGiB(cpuMsSince(c0)));
      cpu.plainClient.push(perGiB(b.cpuMs));
      base.push(b.bytes / (b.ms / 1000));
    }
    const rate = median(kafka);
    const baseRate = median(base);
    const rows: Row[] = [
      {
        scenario: `Kafka Fetch over loopback, ${(totalBytes / MiB).toFixed(0)} MiB cached, ${partitions} partition(s), partition max ${(partitionMaxBytes / MiB).toFixed(2)} MiB`,
        sluice: fmtBytesRate(rate),
        baseline: `${fmtBytesRate(baseRate)} Node socket-to-socket`,
        ratio: rate / baseRate,
        target: '≥ 1 GB/s, copied 0',
        notes: `fetchBytesCopied ${server.metrics.fetchBytesCopied}, ${fetches} fetches/round`,
      },
    ];
    console.log(printTable(rows));
    console.log(`kafka rounds: ${kafka.map(fmtBytesRate).join(', ')}; plain rounds: ${base.map(fmtBytesRate).join(', ')}`);
    const ms = (xs: number[]): string => `${median(xs).toFixed(0)} ms`;
    console.log(
      `CPU per GiB (median): broker ${ms(cpu.kafkaServer)} vs plain server ${ms(cpu.plainServer)}; ` +
        `kafka client ${ms(cpu.kafkaClient)} vs plain client ${ms(cpu.plainClient)} (the broker figure includes the process's idle owner threads)`,
    );
    console.log(`fill: ${fmtBytesRate((totalBytes / fillMs) * 1000)} via engine.append; node ${process.version}`);
  } finally {
    await new Promise<void>((resolve) => (plain ? plain.close(() => resolve()) : resolve()));
    await node.close();
    await engine.close();
    dir.cleanup();
  }
}

if (process.argv.includes('--client')) {
  process.once('message', (job: ClientJob) => {
    (job.mode === 'kafka' ? runKafkaClient(job) : runPlainClient(job)).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      (e: unknown) => process.send!({ ok: false, error: String((e as Error).stack ?? e) }, () => process.exit(1)),
    );
  });
} else {
  await main();
}
