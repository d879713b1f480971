import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock, Sluice, SluiceError } from '../../src/index.js';
import { decodeBatches } from '../../src/record/batch.js';
import { encodeBatch } from '../../src/record/batch.js';
import { tempDir } from './helpers.js';

/** Every record readable from the partition, in offset order. */
function readAll(s: Sluice, topic: string): { offset: bigint; key: string; value: string | null }[] {
  const out: { offset: bigint; key: string; value: string | null }[] = [];
  let offset = s.offsets(topic, 0).logStartOffset;
  for (;;) {
    const r = s.read(topic, 0, offset, { maxBytes: 1 << 20 });
    if (r.records.length === 0) break;
    for (const b of decodeBatches(r.records)) {
      for (const rec of b.records) {
        if (rec.offset >= offset) out.push({ offset: rec.offset, key: String(rec.key), value: rec.value === null ? null : String(rec.value) });
      }
    }
    offset = r.nextOffset;
  }
  return out;
}

test('compaction through runMaintenance keeps the latest value of every key, with offsets intact', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const clock = createManualClock(1_000_000);
    const s = await Sluice.open({ dataDir: dir, owners: 1, clock });
    await s.createTopic('c', {
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': '2048', 'min.cleanable.dirty.ratio': '0.01', 'delete.retention.ms': '1000', 'file.delete.delay.ms': '0' },
    });
    const latest = new Map<string, { offset: bigint; value: string | null }>();
    let offset = 0n;
    for (let round = 0; round < 12; round++) {
      for (let k = 0; k < 8; k++) {
        const key = `k${k}`;
        // k7 ends as a tombstone.
        const value = key === 'k7' && round === 11 ? null : `v${round}-${k}-${'x'.repeat(40)}`;
        await s.append('c', 0, encodeBatch([{ key, value }], { now: clock.now() }), { acks: 1 });
        latest.set(key, { offset, value });
        offset++;
      }
    }
    const before = readAll(s, 'c');
    assert.equal(before.length, 96);
    await s.runMaintenance();
    const after = readAll(s, 'c');
    assert.ok(after.length < before.length, `compaction removed records (${before.length} → ${after.length})`);
    // Every key's latest value is still there at its original offset.
    for (const [key, want] of latest) {
      const got = after.filter((r) => r.key === key);
      assert.ok(got.length >= 1, `${key} kept`);
      const last = got[got.length - 1]!;
      assert.equal(last.offset, want.offset);
      assert.equal(last.value, want.value);
    }
    // Offsets still strictly increase; the log end did not move.
    for (let i = 1; i < after.length; i++) assert.ok(after[i]!.offset > after[i - 1]!.offset);
    assert.equal(s.offsets('c', 0).logEndOffset, 96n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('tombstones go once delete.retention.ms has passed, with no new write; what they deleted never comes back', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const clock = createManualClock(1_000_000);
    let s = await Sluice.open({ dataDir: dir, owners: 1, clock });
    await s.createTopic('t', {
      configs: { 'cleanup.policy': 'compact', 'segment.ms': '1000', 'delete.retention.ms': '60000', 'file.delete.delay.ms': '0' },
    });
    const put = (key: string, value: string | null) => s.append('t', 0, encodeBatch([{ key, value }], { now: clock.now() }), { acks: 1 });
    await put('gone', 'first');
    await put('kept', 'v1');
    await put('gone', 'second');
    await put('gone', null);
    await put('kept', 'v2');
    clock.advance(1001);
    await s.runMaintenance(); // segment.ms: the active segment rolls, so it can be cleaned
    await s.runMaintenance(); // compaction: the values of "gone" go, its tombstone stays for delete.retention.ms
    assert.deepEqual(readAll(s, 't'), [
      { offset: 3n, key: 'gone', value: null },
      { offset: 4n, key: 'kept', value: 'v2' },
    ]);
    clock.advance(59_000);
    await s.runMaintenance();
    assert.equal(readAll(s, 't')[0]?.value, null, 'the tombstone stays until its delete horizon');
    clock.advance(1_001); // no write since the clean: only the passed horizon can trigger the next one
    await s.runMaintenance();
    const want = [{ offset: 4n, key: 'kept', value: 'v2' }];
    assert.deepEqual(readAll(s, 't'), want);
    await s.runMaintenance();
    assert.deepEqual(readAll(s, 't'), want);
    await s.close();
    s = await Sluice.open({ dataDir: dir, owners: 1, clock });
    await s.runMaintenance();
    assert.deepEqual(readAll(s, 't'), want, 'nothing comes back after a reopen');
    assert.equal(s.offsets('t', 0).logEndOffset, 5n);
    await s.close();
  } finally {
    cleanup();
  }
});

test('one engine per data directory; the lock is released on close', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = await Sluice.open({ dataDir: dir, owners: 1 });
    await assert.rejects(Sluice.open({ dataDir: dir, owners: 1 }), (e: unknown) => e instanceof SluiceError && e.code === 'STORAGE' && /in use/.test(e.message));
    await a.close();
    const b = await Sluice.open({ dataDir: dir, owners: 1 });
    await b.close();
  } finally {
    cleanup();
  }
});
