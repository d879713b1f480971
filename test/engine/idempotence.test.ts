import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../src/errors.js';
import { createManualClock, Sluice } from '../../src/index.js';
import { decodeBatches } from '../../src/record/batch.js';
import { listSnapshots } from '../../src/storage/producer-state.js';
import { batchOf, tempDir } from './helpers.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SluiceError, String(e));
    return e.code;
  }
  return 'ok';
}

test('idempotence: retries dedup, gaps and old epochs are rejected, state survives close + reopen', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await Sluice.open({ dataDir: dir, owners: 2 });
    await s.createTopic('i', { partitions: 2, configs: { 'segment.bytes': '2048' } });
    const { producerId, producerEpoch } = await s.initProducerId();
    assert.equal(producerEpoch, 0);
    const mk = (seq: number, n = 3, epoch = producerEpoch) => batchOf(`s${seq}`, n, { producerId, producerEpoch: epoch, baseSequence: seq });

    const a = await s.append('i', 0, mk(0), { acks: 1 });
    const b = await s.append('i', 0, mk(3), { acks: 'all' });
    assert.deepEqual([a.baseOffset, a.lastOffset, b.baseOffset, b.lastOffset], [0n, 2n, 3n, 5n]);
    const dup = await s.append('i', 0, mk(0), { acks: 1 });
    assert.deepEqual([dup.baseOffset, dup.lastOffset], [0n, 2n]);
    assert.equal(s.offsets('i', 0).logEndOffset, 6n, 'a duplicate writes nothing');
    assert.equal(await code(s.append('i', 0, mk(9))), 'OUT_OF_ORDER_SEQUENCE');
    assert.equal(await code(s.append('i', 1, mk(5))), 'UNKNOWN_PRODUCER_ID');
    // a new epoch starts at 0 and fences the old one
    assert.equal(await code(s.append('i', 0, mk(6, 3, 1))), 'OUT_OF_ORDER_SEQUENCE');
    await s.append('i', 0, mk(6), { acks: 1 });
    for (let seq = 9; seq < 60; seq += 3) await s.append('i', 0, mk(seq), { acks: 1 }); // rolls segments
    await s.close();

    s = await Sluice.open({ dataDir: dir, owners: 3 });
    const again = await s.append('i', 0, mk(57), { acks: 1 });
    assert.equal(again.lastOffset, s.offsets('i', 0).logEndOffset - 1n);
    const leo = s.offsets('i', 0).logEndOffset;
    assert.equal((await s.append('i', 0, mk(57))).lastOffset, leo - 1n);
    assert.equal(s.offsets('i', 0).logEndOffset, leo);
    assert.equal(await code(s.append('i', 0, mk(61))), 'OUT_OF_ORDER_SEQUENCE');
    await s.append('i', 0, mk(0, 1, 1), { acks: 1 });
    assert.equal(await code(s.append('i', 0, mk(60))), 'INVALID_PRODUCER_EPOCH');

    // producer ids never repeat; transactional ids keep their id and bump the epoch, across restarts
    const t1 = await s.initProducerId('tx-a');
    const t2 = await s.initProducerId('tx-a');
    assert.equal(t2.producerId, t1.producerId);
    assert.equal(t2.producerEpoch, t1.producerEpoch + 1);
    const other = await s.initProducerId();
    assert.notEqual(other.producerId, producerId);
    await s.close();
    s = await Sluice.open({ dataDir: dir, owners: 1 });
    const t3 = await s.initProducerId('tx-a');
    assert.deepEqual(t3, { producerId: t1.producerId, producerEpoch: t1.producerEpoch + 2 });
    const fresh = await s.initProducerId();
    assert.ok(fresh.producerId > other.producerId && fresh.producerId > t1.producerId);
    await s.close();
  } finally {
    cleanup();
  }
});

test('many appends in flight to one partition: plain and idempotent entries interleaved keep submission order; retries dedup', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await Sluice.open({ dataDir: dir, owners: 1 });
    await s.createTopic('g', { partitions: 2, configs: { 'segment.bytes': '8192' } });
    const { producerId, producerEpoch } = await s.initProducerId();
    const ps: Promise<{ baseOffset: bigint; lastOffset: bigint }>[] = [];
    const tags: string[] = [];
    let seq = 0;
    for (let i = 0; i < 600; i++) {
      const tag = `m${i}`;
      let batch: Buffer;
      if (i % 10 === 3) {
        batch = batchOf(tag, 2, { producerId, producerEpoch, baseSequence: seq });
        seq += 2;
      } else batch = batchOf(tag, 1 + (i % 3));
      tags.push(tag);
      ps.push(s.append('g', i % 5 === 4 ? 1 : 0, batch, { acks: i % 4 === 0 ? 'all' : 1 }));
    }
    const rs = await Promise.all(ps);
    const last = [-1n, -1n];
    for (let i = 0; i < rs.length; i++) {
      const p = i % 5 === 4 ? 1 : 0;
      assert.ok(rs[i]!.baseOffset > last[p]!, `entry ${i}: offsets increase in submission order`);
      last[p] = rs[i]!.lastOffset;
    }
    // a retry of the last idempotent batch: its original offsets, nothing written
    const leo = s.offsets('g', 0).logEndOffset;
    const dup = await s.append('g', 0, batchOf('m593', 2, { producerId, producerEpoch, baseSequence: seq - 2 }), { acks: 1 });
    assert.deepEqual([dup.baseOffset, dup.lastOffset], [rs[593]!.baseOffset, rs[593]!.lastOffset]);
    assert.equal(s.offsets('g', 0).logEndOffset, leo);
    await s.close();
    // after a restart the records read back in submission order
    s = await Sluice.open({ dataDir: dir, owners: 1 });
    const seen: string[] = [];
    for (let off = 0n; ; ) {
      const r = s.read('g', 0, off, { maxBytes: 1 << 20 });
      if (r.records.length === 0) break;
      for (const b of decodeBatches(r.records)) for (const rec of b.records) if (rec.offset >= off) seen.push(rec.value!.toString());
      off = r.nextOffset;
    }
    const want = tags.flatMap((t, i) => (i % 5 === 4 ? [] : Array.from({ length: i % 10 === 3 ? 2 : 1 + (i % 3) }, (_, j) => `${t}-${j}`)));
    assert.deepEqual(seen, want);
    await s.close();
  } finally {
    cleanup();
  }
});

test('producer ids expire after producer.id.expiration.ms without a write (engine clock, at maintenance); a reopen does not bring them back', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const clock = createManualClock(5_000_000);
    const opts = { dataDir: dir, owners: 1, clock, producerIdExpirationMs: 60_000 };
    let s = await Sluice.open(opts);
    await s.createTopic('x');
    const [a, b, c] = [await s.initProducerId(), await s.initProducerId(), await s.initProducerId()];
    // record timestamps far in the past: expiry counts from when the partition saw the batch, not from them
    const mk = (p: typeof a, seq: number) => batchOf(`p${p.producerId}-${seq}`, 2, { producerId: p.producerId, producerEpoch: p.producerEpoch, baseSequence: seq, now: 1_000 });
    const first = await s.append('x', 0, mk(a, 0));
    await s.append('x', 0, mk(b, 0));
    clock.advance(40_000);
    const bLast = await s.append('x', 0, mk(b, 2)); // b keeps writing
    clock.advance(20_000); // a has been silent for 60 s, b for 20 s
    assert.equal((await s.append('x', 0, mk(a, 0))).baseOffset, first.baseOffset, 'expiry waits for maintenance');
    await s.runMaintenance();
    assert.equal(await code(s.append('x', 0, mk(a, 2))), 'UNKNOWN_PRODUCER_ID', 'a is forgotten');
    assert.equal((await s.append('x', 0, mk(b, 2))).baseOffset, bLast.baseOffset, 'b is remembered');
    await s.append('x', 0, mk(c, 0));
    clock.advance(60_000); // c and b expire, but no maintenance runs before the close
    await s.close();

    await assert.rejects(Sluice.open({ ...opts, producerIdExpirationMs: 0 }), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_ARGUMENT');
    s = await Sluice.open(opts);
    assert.equal(await code(s.append('x', 0, mk(a, 2))), 'UNKNOWN_PRODUCER_ID', 'a stays forgotten');
    assert.equal(await code(s.append('x', 0, mk(c, 2))), 'UNKNOWN_PRODUCER_ID', 'c expired while the partition was closed');
    assert.equal(await code(s.append('x', 0, mk(b, 4))), 'UNKNOWN_PRODUCER_ID');
    // a forgotten producer starts over with a new epoch (what the embedded producer does)
    await s.append('x', 0, batchOf('again', 1, { producerId: a.producerId, producerEpoch: a.producerEpoch + 1, baseSequence: 0 }));
    await s.close();
  } finally {
    cleanup();
  }
});

test('producer state outlives its deleted data (retention, DeleteRecords) but no snapshot stays below the log start, across a restart', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const clock = createManualClock(5_000_000);
    const opts = { dataDir: dir, owners: 1, clock };
    let s = await Sluice.open(opts);
    await s.createTopic('r', { partitions: 2, configs: { 'segment.bytes': '1024', 'retention.ms': '100000', 'file.delete.delay.ms': '0' } });
    const p = await s.initProducerId();
    const mk = (seq: number) => batchOf(`s${seq}-${'x'.repeat(100)}`, 2, { producerId: p.producerId, producerEpoch: p.producerEpoch, baseSequence: seq, now: clock.now() });
    const last: bigint[] = [];
    for (const part of [0, 1]) {
      for (let seq = 0; seq < 40; seq += 2) last[part] = (await s.append('r', part, mk(seq))).baseOffset;
    }
    const snaps = (part: number) => listSnapshots(join(dir, `r-${part}`));
    assert.ok(snaps(0).length > 0 && snaps(1).length > 0, 'rolls took snapshots');
    // partition 0: DeleteRecords past everything; partition 1: retention deletes every segment
    const end0 = s.offsets('r', 0).logEndOffset;
    assert.equal(await s.deleteRecords('r', 0, end0), end0);
    clock.advance(100_001);
    await s.runMaintenance();
    assert.equal(s.offsets('r', 1).logStartOffset, s.offsets('r', 1).logEndOffset);
    const check = async (when: string) => {
      for (const part of [0, 1]) {
        const start = s.offsets('r', part).logStartOffset;
        assert.ok(snaps(part).length > 0 && snaps(part).every((o) => o >= start), `${when}: partition ${part} snapshots ${snaps(part)} vs log start ${start}`);
        assert.equal((await s.append('r', part, mk(38))).baseOffset, last[part], `${when}: a retry of the last batch is still a duplicate`);
      }
    };
    await check('after the deletions');
    await s.close();
    s = await Sluice.open(opts);
    await check('after a restart');
    for (const part of [0, 1]) await s.append('r', part, mk(40)); // the sequence goes on
    assert.ok(readdirSync(join(dir, 'r-0')).every((f) => !f.endsWith('.tmp')));
    await s.close();
  } finally {
    cleanup();
  }
});
