/** Corruption found on open, end to end: `sluice start` refuses or truncates on request, `sluice verify` reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/kafka-client/index.js';
import { decodeBatches, encodeBatch } from '../../src/record/batch.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { REPO_ROOT, runSluice } from './cli-helpers.js';
import { startTestBroker } from '../brokers.js';

const value = (n: number): string => `${String(n).padStart(6, '0')}:`.padEnd(200, 'x');

/** Size and mtime of every file under `dir`, and the bytes of its .log files (to show a command wrote nothing). */
function fingerprint(dir: string): string {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const f = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const st = fs.statSync(f);
    const hash = f.endsWith('.log') ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : '';
    out.push(`${f} ${st.size} ${st.mtimeMs} ${hash}`);
  }
  return out.sort().join('\n');
}

test('corruption before the last segment: `sluice start` refuses naming file and byte, `sluice verify` reports it read-only, `--on-corruption truncate` starts with the data before it', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'log.segment.bytes': '20000', 'sluice.owner.threads': '1' });
  const kafka = new Kafka({ clientId: 'corruption-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  try {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'bad', numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let n = 0; n < 400; n += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => producer.send({ topic: 'bad', acks: -1, messages: [{ value: value(n + j) }] })));
    }
    await producer.disconnect();

    // while the broker runs: a clean directory, and nothing is written
    const live = await runSluice(['verify', broker.dataDir]);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, /no problems found/);

    const pdir = path.join(broker.dataDir, 'bad-0');
    let victim = '';
    let victimPos = -1;
    let victimBase = -1n;
    const failed = await broker
      .restart({
        between: () => {
          const logs = fs.readdirSync(pdir).filter((f) => f.endsWith('.log')).sort();
          assert.ok(logs.length >= 4, logs.join(' '));
          victim = logs[1]!;
          // the last batch of the second segment (past its last index entry: an open checks that far)
          const buf = fs.readFileSync(path.join(pdir, victim));
          for (let p = 0; p < buf.length; p += buf.readInt32BE(p + 8) + 12) victimPos = p;
          victimBase = buf.readBigInt64BE(victimPos);
          const fd = fs.openSync(path.join(pdir, victim), 'r+');
          fs.writeSync(fd, Buffer.from([buf[victimPos + 100]! ^ 0xff]), 0, 1, victimPos + 100);
          fs.closeSync(fd);
        },
      })
      .then(() => null, (e: Error) => e);
    assert.ok(failed, 'the broker refuses to start');
    assert.match(failed.message, /broker exited with 1/);
    const line = failed.message.split('\n').find((l) => l.startsWith('sluice start: '));
    assert.ok(line, failed.message);
    assert.ok(line.includes(path.join(pdir, victim)) && line.includes(`at byte ${victimPos}`), line);
    assert.match(line, /--on-corruption truncate/);

    // offline: one line naming file and byte, exit 1, and the files are untouched
    const before = fingerprint(broker.dataDir);
    const v = await runSluice(['verify', broker.dataDir]);
    assert.equal(v.code, 1, v.stdout + v.stderr);
    const problems = v.stdout.split('\n').filter((l) => l && !l.startsWith('note:') && !l.startsWith('checked'));
    assert.deepEqual(problems.map((l) => l.replace(/: CRC mismatch.*/, '')), [`bad-0/${victim}: byte ${victimPos}`]);
    assert.match(v.stderr, /1 problem\(s\)/);
    const one = await runSluice(['verify', pdir]);
    assert.equal(one.code, 1);
    assert.match(one.stdout, new RegExp(`^${victim.replace('.', '\\.')}: byte ${victimPos}: CRC mismatch`, 'm'));
    assert.equal(fingerprint(broker.dataDir), before, 'verify wrote nothing');

    // the operator chooses to keep the data before the bad batch
    await broker.restart({ args: ['--on-corruption', 'truncate'] });
    assert.match(broker.stderr(), new RegExp(`${victim.replace('.', '\\.')}[^\\n]*"position":${victimPos}`));
    const client = await KafkaClient.connect({ bootstrap: broker.bootstrap, clientId: 'corruption-test' });
    try {
      const [latest] = await client.listOffsets([{ topic: 'bad', partition: 0, timestamp: -1n }]);
      assert.equal(latest!.offset, victimBase, 'the log ends before the corrupt batch');
      const values: string[] = [];
      for (let offset = 0n; offset < victimBase; ) {
        const [f] = await client.fetch([{ topic: 'bad', partition: 0, offset }], { maxWaitMs: 0 });
        assert.ok(f!.records, `Fetch at ${offset}`);
        for (const b of decodeBatches(f!.records, { allowPartialTail: true })) {
          for (const r of b.records) if (r.offset >= offset && r.offset < victimBase) values.push(r.value!.toString());
          offset = b.lastOffset + 1n;
        }
      }
      assert.equal(values.length, Number(victimBase));
      assert.equal(new Set(values).size, values.length);
    } finally {
      client.close();
    }
    const after = await runSluice(['verify', broker.dataDir]);
    assert.equal(after.code, 0, after.stdout + after.stderr);
  } finally {
    await broker.stop();
  }
});

test('`sluice start --on-corruption` takes refuse or truncate; `sluice verify` needs a directory', async () => {
  const bad = await runSluice(['start', '--on-corruption', 'maybe']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^sluice start: --on-corruption expects refuse or truncate, got "maybe"/);
  const none = await runSluice(['verify', path.join(REPO_ROOT, 'no-such-dir')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^sluice verify: cannot read .*no-such-dir: no such directory\n$/);
  const usage = await runSluice(['verify']);
  assert.equal(usage.code, 2);
});

test('`sluice verify` without a broker: a write in progress at the end of a live log is a note; a flipped byte mid-segment (which a clean open does not read) and a wrong index entry are one line each', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-verify-'));
  try {
    const dir = path.join(root, 't-0');
    const cfg = { ...DEFAULT_LOG_CONFIG, segmentBytes: 3000, indexIntervalBytes: 200, retentionMs: -1 };
    const log = PartitionLog.open({ dir, config: cfg });
    for (let i = 0; i < 60; i++) log.append(encodeBatch([{ value: value(i) }]), { assignOffsets: true });
    assert.ok(log.segments.length >= 3);
    // as a running broker leaves it: no marker, the active segment preallocated, half a batch being written
    const active = log.activeSegment.logFile;
    const partial = encodeBatch([{ value: value(60) }]).subarray(0, 120);
    const fd = fs.openSync(active, 'r+');
    fs.writeSync(fd, partial, 0, partial.length, log.activeSegment.size);
    fs.closeSync(fd);
    const live = await runSluice(['verify', root]);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, new RegExp(`^note: t-0/${path.basename(active).replace('.', '\\.')}: byte ${log.activeSegment.size}: .*torn tail the next start cuts`, 'm'));
    log.close();

    const seg0 = path.join(dir, '00000000000000000000.log');
    const bytes = fs.readFileSync(seg0);
    const second = bytes.readInt32BE(8) + 12;
    const flipAt = second + 100; // inside the second batch, long before the last index entry
    bytes[flipAt] = bytes[flipAt]! ^ 0x01;
    fs.writeFileSync(seg0, bytes);
    const clean = PartitionLog.open({ dir, config: cfg });
    assert.equal(clean.recoveryReport.scannedSegments, 0, 'a clean open reads only segment tails');
    clean.close();
    const idx1 = path.join(dir, fs.readdirSync(dir).filter((f) => f.endsWith('.index')).sort()[1]!);
    const ib = fs.readFileSync(idx1);
    ib.writeInt32BE(ib.readInt32BE(4) + 3, 4); // entry 0 now points between batches
    fs.writeFileSync(idx1, ib);

    const v = await runSluice(['verify', root]);
    assert.equal(v.code, 1, v.stdout + v.stderr);
    const lines = v.stdout.split('\n').filter((l) => l && !l.startsWith('checked'));
    assert.equal(lines.length, 2, v.stdout);
    assert.match(lines[0]!, new RegExp(`^t-0/00000000000000000000\\.log: byte ${second}: CRC mismatch`));
    assert.match(lines[1]!, new RegExp(`^t-0/${path.basename(idx1).replace('.', '\\.')}: byte 0: entry 0: position \\d+ is not at a batch boundary`));
    assert.match(v.stderr, /^sluice verify: 2 problem\(s\) in checked 1 partition\(s\)/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
