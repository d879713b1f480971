/** Recovery of a real `sluice start` broker's data dir, end to end: real processes, real files, real clients. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/kafka-client/index.js';
import { decodeBatches } from '../../src/record/batch.js';
import { startTestBroker } from '../brokers.js';

const value = (n: number): string => `${String(n).padStart(6, '0')}:`.padEnd(200, 'x');

/** Last offset + 1 of the last batch that lies entirely within the first `bytes` bytes of a .log file. */
function endOfWholeBatches(file: string, bytes: number, base: bigint): { end: bigint; batches: number } {
  const buf = fs.readFileSync(file);
  let pos = 0;
  let end = base;
  let batches = 0;
  while (pos + 61 <= bytes) {
    const size = buf.readInt32BE(pos + 8) + 12;
    if (pos + size > bytes) break;
    end = buf.readBigInt64BE(pos) + BigInt(buf.readInt32BE(pos + 23)) + 1n;
    pos += size;
    batches++;
  }
  return { end, batches };
}

test('SIGTERM, a cut tail of the active segment (marker kept), restart: every acknowledged offset that survives is fetchable, the log ends at the last whole batch, the cut is reported', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'log.segment.bytes': '200000', 'sluice.owner.threads': '1' });
  const kafka = new Kafka({ clientId: 'recovery-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  try {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tail', numPartitions: 1 }] });
    await admin.disconnect();
    // 5000 records of 200 B with acks=all, five per request, twenty requests in flight
    const producer = kafka.producer();
    await producer.connect();
    const acked = new Map<bigint, string>();
    for (let n = 0; n < 5000; n += 100) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const first = n + j * 5;
          const msgs = Array.from({ length: 5 }, (_, k) => ({ value: value(first + k) }));
          const [r] = await producer.send({ topic: 'tail', acks: -1, messages: msgs });
          msgs.forEach((m, k) => acked.set(BigInt(r!.baseOffset!) + BigInt(k), m.value));
        }),
      );
    }
    await producer.disconnect();
    assert.equal(acked.size, 5000);

    const pdir = path.join(broker.dataDir, 'tail-0');
    let activeName = '';
    let expectedEnd = -1n;
    await broker.restart({
      signal: 'SIGTERM',
      between: () => {
        assert.ok(fs.existsSync(path.join(pdir, 'clean-shutdown')), 'SIGTERM shut down cleanly');
        const logs = fs.readdirSync(pdir).filter((f) => f.endsWith('.log')).sort();
        assert.ok(logs.length >= 5, `segments rolled at 200000 bytes: ${logs.join(' ')}`);
        activeName = logs.at(-1)!;
        const file = path.join(pdir, activeName);
        const size = fs.statSync(file).size;
        const whole = endOfWholeBatches(file, size - 1000, BigInt(activeName.slice(0, 20)));
        assert.ok(whole.batches > 0 && whole.end < 5000n, 'the cut leaves whole batches and tears the tail');
        expectedEnd = whole.end;
        fs.truncateSync(file, size - 1000); // `truncate -s -1000`; the clean-shutdown marker stays
      },
    });

    const client = await KafkaClient.connect({ bootstrap: broker.bootstrap, clientId: 'recovery-test' });
    try {
      const [latest] = await client.listOffsets([{ topic: 'tail', partition: 0, timestamp: -1n }]);
      assert.equal(latest!.offset, expectedEnd, 'the log ends at the end of the last whole batch');

      // a new acks=all produce lands right after it, and is fetchable
      const p2 = kafka.producer();
      await p2.connect();
      const [r] = await p2.send({ topic: 'tail', acks: -1, messages: [{ value: 'after-restart' }] });
      await p2.disconnect();
      assert.equal(BigInt(r!.baseOffset!), expectedEnd);

      // every acknowledged offset below the cut, and the new one, read back through Fetch
      const seen = new Map<bigint, string>();
      let offset = 0n;
      let hw = -1n;
      while (hw < 0n || offset < hw) {
        const [f] = await client.fetch([{ topic: 'tail', partition: 0, offset, maxBytes: 64 * 1024 }], { maxWaitMs: 0 });
        assert.equal(f!.error, null);
        hw = f!.highWatermark;
        assert.ok(f!.records, `Fetch at ${offset} returned no bytes below the high watermark ${hw}`);
        for (const b of decodeBatches(f!.records, { allowPartialTail: true })) {
          for (const rec of b.records) if (rec.offset >= offset) seen.set(rec.offset, rec.value!.toString());
        }
        const next = [...seen.keys()].reduce((m, o) => (o > m ? o : m), -1n) + 1n;
        assert.ok(next > offset, `no progress at ${offset}`);
        offset = next;
      }
      assert.equal(hw, expectedEnd + 1n);
      for (const [o, v] of acked) {
        if (o < expectedEnd) assert.equal(seen.get(o), v, `acknowledged offset ${o}`);
      }
      assert.equal(seen.get(expectedEnd), 'after-restart');
      assert.equal(seen.size, Number(expectedEnd) + 1);
    } finally {
      client.close();
    }
    // the cut is reported: which file, at which byte, which offsets
    const log = broker.stderr();
    assert.match(log, new RegExp(`truncated[^\\n]*${activeName.replace('.', '\\.')}|${activeName.replace('.', '\\.')}[^\\n]*truncated`));
    assert.match(log, new RegExp(`"from":"${expectedEnd}"`));
  } finally {
    await broker.stop();
  }
});
