import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../src/errors.js';
import { encodeBatch } from '../../src/record/batch.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import {
  lastSequenceOf,
  listSnapshots,
  loadSnapshot,
  ProducerStateTable,
  snapshotFileName,
  writeSnapshot,
} from '../../src/storage/producer-state.js';

const b = (producerId: bigint, producerEpoch: number, baseSequence: number, count: number) => ({
  producerId,
  producerEpoch,
  baseSequence,
  lastOffsetDelta: count - 1,
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SluiceError);
    return e.code;
  }
  return 'none';
}

test('producer state: Kafka sequence rules', () => {
  const t = new ProducerStateTable();
  assert.equal(t.check(b(-1n, -1, -1, 5)).kind, 'append');
  assert.equal(code(() => t.check(b(7n, 0, 3, 1))), 'UNKNOWN_PRODUCER_ID');
  assert.equal(t.check(b(7n, 0, 0, 10)).kind, 'append');
  t.update(b(7n, 0, 0, 10), 100n, 1n);
  t.update(b(7n, 0, 10, 5), 110n, 2n);
  const dup = t.check(b(7n, 0, 0, 10));
  assert.equal(dup.kind, 'duplicate');
  assert.equal(dup.kind === 'duplicate' && dup.batch.firstOffset, 100n);
  assert.equal(dup.kind === 'duplicate' && dup.batch.lastOffset, 109n);
  assert.equal(code(() => t.check(b(7n, 0, 16, 1))), 'OUT_OF_ORDER_SEQUENCE');
  assert.equal(t.check(b(7n, 0, 15, 1)).kind, 'append');
  // a new epoch must start at 0; an older epoch is fenced
  assert.equal(code(() => t.check(b(7n, 1, 15, 1))), 'OUT_OF_ORDER_SEQUENCE');
  assert.equal(t.check(b(7n, 1, 0, 1)).kind, 'append');
  t.update(b(7n, 1, 0, 1), 120n, 3n);
  assert.equal(code(() => t.check(b(7n, 0, 15, 1))), 'INVALID_PRODUCER_EPOCH');
  // only the last 5 batches are remembered
  for (let i = 1; i <= 6; i++) t.update(b(7n, 1, i, 1), 120n + BigInt(i), 3n);
  assert.equal(t.check(b(7n, 1, 6, 1)).kind, 'duplicate');
  assert.equal(code(() => t.check(b(7n, 1, 1, 1))), 'OUT_OF_ORDER_SEQUENCE');
});

test('producer state: sequences wrap at int32 max', () => {
  assert.equal(lastSequenceOf(0x7fffffff - 1, 3), 1);
  const t = new ProducerStateTable();
  t.update(b(1n, 0, 0, 1), 0n, 0n);
  // force the last sequence near the max
  t.update(b(1n, 0, 0x7fffffff - 4, 5), 1n, 0n);
  assert.equal(t.check(b(1n, 0, 0, 3)).kind, 'append');
  assert.equal(code(() => t.check(b(1n, 0, 1, 3))), 'OUT_OF_ORDER_SEQUENCE');
});

test('producer state: snapshots round-trip, keep two, skip corrupt ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ps-'));
  try {
    const t = new ProducerStateTable();
    for (let pid = 0n; pid < 50n; pid++) for (let s = 0; s < 7; s++) t.update(b(pid, 2, s * 3, 3), pid * 100n + BigInt(s * 3), 99n);
    writeSnapshot(dir, t, 10n);
    writeSnapshot(dir, t, 20n);
    writeSnapshot(dir, t, 30n);
    assert.deepEqual(listSnapshots(dir), [30n, 20n]);
    const r = loadSnapshot(dir, 25n);
    assert.equal(r?.offset, 20n);
    assert.deepEqual([...r!.table.entries()], [...t.entries()]);
    // a corrupt newest snapshot falls back to the older one
    writeFileSync(join(dir, snapshotFileName(30n)), Buffer.from('garbage that is long enough to parse'));
    const invalid: string[] = [];
    assert.equal(loadSnapshot(dir, 100n, (f) => invalid.push(f))?.offset, 20n);
    assert.equal(invalid.length, 1);
    assert.ok(readdirSync(dir).every((f) => !f.endsWith('.tmp')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('producer state follows truncation: snapshots above the cut go, the state is rebuilt, also across a reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ps-'));
  try {
    let now = 1_000_000;
    const config = { ...DEFAULT_LOG_CONFIG, segmentBytes: 700 };
    const open = () => PartitionLog.open({ dir, config, clock: () => now });
    const batch = (seq: number) =>
      encodeBatch([0, 1].map((i) => ({ key: `k${i}`, value: `s${seq}-${i}-${'x'.repeat(60)}` })), { producerId: 9n, producerEpoch: 0, baseSequence: seq, now });
    let log = open();
    for (let seq = 0; seq < 40; seq += 2) log.append(batch(seq), { assignOffsets: true }); // batch seq at offsets seq, seq+1
    assert.ok(listSnapshots(dir).some((o) => o > 20n), 'rolls took snapshots above the cut');
    const expectCut = (l: PartitionLog, when: string) => {
      assert.ok(listSnapshots(dir).every((o) => o <= 20n), `${when}: snapshots ${listSnapshots(dir)}`);
      const dup = l.producerState.check(b(9n, 0, 18, 2));
      assert.equal(dup.kind === 'duplicate' && dup.batch.firstOffset, 18n, `${when}: the last batch left is a duplicate`);
      assert.equal(l.producerState.check(b(9n, 0, 20, 2)).kind, 'append', `${when}: the cut batch can be sent again`);
      assert.equal(code(() => l.producerState.check(b(9n, 0, 22, 2))), 'OUT_OF_ORDER_SEQUENCE', `${when}: the batches after the cut are gone`);
    };
    log.truncateTo(20n);
    expectCut(log, 'after truncateTo');
    log.close();
    log = open();
    expectCut(log, 'after a reopen');
    log.append(batch(20), { assignOffsets: true });
    assert.equal(log.logEndOffset, 22n);
    // a log replaced by an empty one has no producer and no snapshot left
    log.truncateFullyAndStartAt(100n);
    assert.equal(log.producerState.size, 0);
    assert.deepEqual(listSnapshots(dir), []);
    log.close();
    log = open();
    assert.equal(log.producerState.size, 0);
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
