/**
 * Wire throughput with a real librdkafka client (@confluentinc/kafka-javascript, installed by
 * scripts/install-test-deps.sh), against (a) Sluice started with `sluice start` as a child process and (b) in
 * the same run, librdkafka's built-in in-memory mock cluster (`test.mock.num.brokers=1`) as the reference.
 *
 *   npm run build && node dist/bench/wire-librdkafka.js [records=200000] [recordBytes=100] [rounds=3]
 *
 * Produce: N records of `recordBytes` to a one-partition topic, acks=1 and acks=all; records/s and MB/s from the
 * first produce() to the last delivery report, and the p50/p99 of each record's produce()->delivery latency.
 * Consume: a group consumer reads the acks=all topic from the beginning; records/s and MB/s.
 * Latency: acks=all at a fixed 20k records/s (below saturation), p50/p99 of produce()->delivery.
 * Scenarios alternate between the two targets for `rounds` rounds; the median round is reported.
 * Ratio = Sluice / mock (>= 1.0 is the target). Not a test: run by hand.
 */
import { summarize } from '../src/cli/commands/perf.js';
import { performance } from 'node:perf_hooks';
import { startSluice, type SluiceProcess } from '../test/brokers.js';
import { connect, disconnect, loadBinding, metadata, type RdConfig, type RdConsumer, type RdDeliveryReport, type RdMessage, type RdModule, type RdProducer } from '../test/clients/rdkafka.js';
import { fmtRate } from './lib.js';

const N = Number(process.argv[2] ?? 200_000);
const SIZE = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 3);
const QUEUE_FULL = -184;

interface ProduceResult {
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  p50: number;
  p99: number;
}
interface ConsumeResult {
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function producerConfig(target: Target, acks: string): RdConfig {
  return {
    ...target.config,
    'client.id': `bench-${target.name}`,
    'acks': acks,
    'dr_cb': true,
    'linger.ms': 5,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 500_000,
    'compression.codec': 'none',
  };
}

async function produce(rd: RdModule, target: Target, topic: string, acks: string): Promise<ProduceResult> {
  const p = await connect(new rd.Producer(producerConfig(target, acks)));
  try {
    p.setPollInterval(1);
    // Warm up: topic creation (auto-create) and connections, outside the measurement.
    await new Promise<void>((res, rej) => {
      p.once('delivery-report', (err: Error | null) => (err ? rej(err) : res()));
      p.produce(topic, 0, Buffer.alloc(SIZE, 1), null, null, -1);
    });
    const payload = Buffer.alloc(SIZE, 0x61);
    const sentAt = new Float64Array(N);
    const latency = new Array<number>(N);
    let delivered = 0;
    let failed: Error | null = null;
    let endAt = 0;
    const done = new Promise<void>((res) => {
      p.on('delivery-report', (err: Error | null, r: RdDeliveryReport) => {
        const i = r.opaque as number;
        if (i < 0) return;
        if (err && !failed) failed = err;
        latency[i] = performance.now() - sentAt[i]!;
        if (++delivered === N) {
          endAt = performance.now();
          res();
        }
      });
    });
    const start = performance.now();
    for (let i = 0; i < N; ) {
      try {
        sentAt[i] = performance.now();
        p.produce(topic, 0, payload, null, null, i);
        i++;
      } catch (e) {
        if ((e as { code?: number }).code !== QUEUE_FULL) throw e;
        await sleep(1);
      }
      if ((i & 0x3ff) === 0) await new Promise((r) => setImmediate(r));
    }
    await done;
    if (failed) throw failed;
    const seconds = (endAt - start) / 1000;
    const lat = summarize(latency);
    return { seconds, recordsPerSec: N / seconds, mbPerSec: (N * SIZE) / seconds / 1e6, p50: lat.p50, p99: lat.p99 };
  } finally {
    await disconnect(p);
  }
}

/** acks=all at a fixed, unsaturated rate: 100 records every 5 ms (20k records/s) for 2 s; delivery latency. */
async function pacedLatency(rd: RdModule, target: Target, topic: string): Promise<{ p50: number; p99: number }> {
  const p = await connect(new rd.Producer({ ...producerConfig(target, 'all'), 'linger.ms': 1 }));
  try {
    p.setPollInterval(1);
    await new Promise<void>((res, rej) => {
      p.once('delivery-report', (err: Error | null) => (err ? rej(err) : res()));
      p.produce(topic, 0, Buffer.alloc(SIZE, 1), null, null, -1);
    });
    const total = 40_000;
    const sentAt = new Float64Array(total);
    const latency: number[] = [];
    const done = new Promise<void>((res, rej) => {
      p.on('delivery-report', (err: Error | null, r: RdDeliveryReport) => {
        if (err) return rej(err);
        const i = r.opaque as number;
        if (i < 0) return;
        latency.push(performance.now() - sentAt[i]!);
        if (latency.length === total) res();
      });
    });
    const payload = Buffer.alloc(SIZE, 0x62);
    const start = performance.now();
    for (let i = 0; i < total; ) {
      const due = start + (i / 100) * 5;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      for (let k = 0; k < 100 && i < total; k++, i++) {
        sentAt[i] = performance.now();
        p.produce(topic, 0, payload, null, null, i);
      }
    }
    await done;
    const l = summarize(latency);
    return { p50: l.p50, p99: l.p99 };
  } finally {
    await disconnect(p);
  }
}

async function consume(rd: RdModule, target: Target, topic: string): Promise<ConsumeResult & { records: number }> {
  const c = new rd.KafkaConsumer(
    { ...target.config, 'group.id': `bench-${target.name}-${Date.now()}`, 'enable.auto.commit': false, 'fetch.max.bytes': 52_428_800, 'fetch.wait.max.ms': 10 },
    { 'auto.offset.reset': 'earliest' },
  ) as RdConsumer;
  await connect(c);
  try {
    // What the log holds (the mock cluster drops its oldest segments past a size limit).
    const wm = await new Promise<{ lowOffset: number; highOffset: number }>((res, rej) =>
      c.queryWatermarkOffsets(topic, 0, 10_000, (err, o) => (err ? rej(err) : res(o))),
    );
    const expected = wm.highOffset - wm.lowOffset;
    c.subscribe([topic]);
    let got = 0;
    let start = 0;
    const t0 = performance.now();
    while (got < expected) {
      const batch = await new Promise<RdMessage[]>((res, rej) => c.consume(10_000, (err, msgs) => (err ? rej(err) : res(msgs))));
      if (batch.length > 0 && start === 0) start = performance.now();
      got += batch.length;
      if (performance.now() - t0 > 120_000) throw new Error(`consumed ${got} of ${expected} in 120 s`);
    }
    const seconds = (performance.now() - start) / 1000;
    return { seconds, records: got, recordsPerSec: got / seconds, mbPerSec: (got * SIZE) / seconds / 1e6 };
  } finally {
    await disconnect(c);
  }
}

interface Target {
  name: 'sluice' | 'mock';
  /** Connection config for producers and consumers. */
  config: RdConfig;
  close(): Promise<void>;
}

async function sluiceTarget(): Promise<Target & { proc: SluiceProcess }> {
  const proc = await startSluice({ config: { 'auto.create.topics.enable': 'true', 'num.partitions': '1' } });
  return { name: 'sluice', proc, config: { 'bootstrap.servers': proc.bootstrap }, close: () => proc.cleanup() };
}

/**
 * librdkafka's mock cluster lives inside the client that creates it: a holder producer creates it and stays
 * open; its Metadata gives the mock broker's loopback address, which the measured clients then bootstrap from.
 */
async function mockTarget(rd: RdModule): Promise<Target> {
  const holder = await connect(new rd.Producer({ 'bootstrap.servers': '127.0.0.1:1', 'test.mock.num.brokers': 1, 'client.id': 'mock-holder' }) as RdProducer);
  const md = await metadata(holder);
  const broker = md.brokers[0];
  if (!broker) throw new Error('the mock cluster reported no broker');
  return { name: 'mock', config: { 'bootstrap.servers': `${broker.host}:${broker.port}` }, close: () => disconnect(holder) };
}

function row(label: string, s: number, m: number, unit: string): string {
  return `${label.padEnd(34)} ${fmtRate(s, unit).padStart(14)} ${fmtRate(m, unit).padStart(14)} ${(s / m).toFixed(2).padStart(7)}`;
}

async function main(): Promise<void> {
  const loaded = loadBinding();
  if (!loaded.ok) {
    console.error(`wire-librdkafka: ${loaded.reason}`);
    process.exit(2);
  }
  const rd = loaded.rd;
  console.log(`librdkafka ${rd.librdkafkaVersion} via ${'@confluentinc/kafka-javascript'} ${loaded.version}; ${N} records of ${SIZE} B`);
  const targets = [await sluiceTarget(), await mockTarget(rd)];
  type Round = { acks1: ProduceResult; acksAll: ProduceResult; consume: ConsumeResult; paced: { p50: number; p99: number } };
  const rounds: Record<'sluice' | 'mock', Round[]> = { sluice: [], mock: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const partial: Record<string, Partial<Round>> = { sluice: {}, mock: {} };
      for (const t of targets) partial[t.name]!.acks1 = await produce(rd, t, `bench-acks1-${r}`, '1');
      for (const t of targets) partial[t.name]!.acksAll = await produce(rd, t, `bench-acksall-${r}`, 'all');
      for (const t of targets) partial[t.name]!.consume = await consume(rd, t, `bench-acksall-${r}`);
      for (const t of targets) partial[t.name]!.paced = await pacedLatency(rd, t, `bench-paced-${r}`);
      for (const t of targets) rounds[t.name].push(partial[t.name] as Round);
      console.log(`round ${r + 1}/${ROUNDS}: sluice ${fmtRate(partial['sluice']!.acksAll!.recordsPerSec, 'rec')} acks=all, mock ${fmtRate(partial['mock']!.acksAll!.recordsPerSec, 'rec')}`);
    }
  } finally {
    for (const t of targets) await t.close();
  }
  const median = <T extends { recordsPerSec: number }>(xs: T[]): T => [...xs].sort((a, b) => a.recordsPerSec - b.recordsPerSec)[Math.floor(xs.length / 2)]!;
  const results = Object.fromEntries((['sluice', 'mock'] as const).map((k) => [k, {
    acks1: median(rounds[k].map((x) => x.acks1)),
    acksAll: median(rounds[k].map((x) => x.acksAll)),
    consume: median(rounds[k].map((x) => x.consume)),
    paced: [...rounds[k].map((x) => x.paced)].sort((a, b) => a.p99 - b.p99)[Math.floor(rounds[k].length / 2)]!,
  }]));
  const s = results['sluice']!;
  const m = results['mock']!;
  console.log(`\n${'scenario'.padEnd(34)} ${'sluice'.padStart(14)} ${'mock'.padStart(14)} ${'ratio'.padStart(7)}`);
  for (const [label, a, b] of [['produce acks=1', s.acks1, m.acks1], ['produce acks=all', s.acksAll, m.acksAll]] as const) {
    console.log(row(`${label} records`, a.recordsPerSec, b.recordsPerSec, 'rec'));
    console.log(row(`${label} bytes`, a.mbPerSec * 1e6, b.mbPerSec * 1e6, 'B'));
    console.log(`${`${label} latency p50 / p99`.padEnd(34)} ${`${a.p50.toFixed(1)} / ${a.p99.toFixed(1)} ms`.padStart(14)} ${`${b.p50.toFixed(1)} / ${b.p99.toFixed(1)} ms`.padStart(14)}`);
  }
  console.log(row('consume records', s.consume.recordsPerSec, m.consume.recordsPerSec, 'rec'));
  console.log(row('consume bytes', s.consume.mbPerSec * 1e6, m.consume.mbPerSec * 1e6, 'B'));
  console.log(`${'acks=all @20k rec/s p50 / p99'.padEnd(34)} ${`${s.paced.p50.toFixed(2)} / ${s.paced.p99.toFixed(2)} ms`.padStart(14)} ${`${m.paced.p50.toFixed(2)} / ${m.paced.p99.toFixed(2)} ms`.padStart(14)}`);
  console.log('(produce latencies above are under saturation: all records are queued at once, so they are mostly client queueing)');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
