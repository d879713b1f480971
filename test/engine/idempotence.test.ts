import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/errors.js';
import { Sluice } from '../../src/index.js';
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
