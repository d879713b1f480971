/** The owner's burst logic, driven in this thread: no worker, the rings written and read by the test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Owner } from '../../src/engine/owner.js';
import {
  ACKS_ALL,
  ACKS_LEADER,
  codeOfStatus,
  ERROR_CODES,
  type OwnerInit,
  type OwnerLogMessage,
  STATUS_OK,
  statusOf,
} from '../../src/engine/owner-protocol.js';
import { allocateOwnerStats } from '../../src/engine/owner-stats.js';
import { allocateRing, RingConsumer, RingProducer } from '../../src/engine/ring.js';
import { decodeBatches } from '../../src/record/batch.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/config.js';
import { PartitionReader } from '../../src/storage/partition-reader.js';
import { PARTITION_STATE_BYTES, PartitionSharedState } from '../../src/storage/shared-state.js';
import { batchOf, tempDir } from './helpers.js';

interface Completion {
  reqId: number;
  status: number;
  base: bigint;
  last: bigint;
  message: string;
}

function harness(dir: string) {
  const init: OwnerInit = {
    ownerIndex: 0,
    appendRing: allocateRing(1 << 20),
    completionRing: allocateRing(1 << 16),
    clockBuffer: null,
    maintenanceIntervalMs: 300_000,
    producerIdExpirationMs: 86_400_000,
    statsBuffer: allocateOwnerStats(),
    watchBuffer: new SharedArrayBuffer(4),
    onCorruption: 'refuse',
  };
  const logs: OwnerLogMessage[] = [];
  const owner = new Owner(init, (m) => logs.push(m));
  const appends = new RingProducer(init.appendRing);
  const completions = new RingConsumer(init.completionRing);
  const stateBuffer = new SharedArrayBuffer(4 * PARTITION_STATE_BYTES);
  const states = new Map<number, PartitionSharedState>();
  return {
    owner,
    logs,
    open(slot: number, leaderEpoch = 0): PartitionSharedState {
      owner.handle({ op: 'open', slot, topic: 't', partition: slot, dir: `${dir}/t-${slot}`, config: DEFAULT_LOG_CONFIG, leaderEpoch, acksAllRelease: 'flushed', stateBuffer, stateIndex: slot });
      const s = new PartitionSharedState(stateBuffer, slot, init.watchBuffer);
      states.set(slot, s);
      return s;
    },
    write(reqId: number, slot: number, acks: number, bytes: Buffer): void {
      const pos = appends.reserve(bytes.length);
      assert.ok(pos >= 0, 'append ring full');
      appends.data.set(bytes, pos);
      appends.publish(bytes.length, reqId, slot, acks);
    },
    drain(): Completion[] {
      const out: Completion[] = [];
      const d = completions.data;
      for (let e = completions.next(); e !== null; e = completions.next()) {
        const ok = e.b === STATUS_OK;
        out.push({
          reqId: e.a,
          status: e.b,
          base: ok ? d.readBigInt64LE(e.pos) : -1n,
          last: ok ? d.readBigInt64LE(e.pos + 8) : -1n,
          message: ok ? '' : d.toString('utf8', e.pos, e.pos + e.len),
        });
      }
      completions.release();
      return out;
    },
  };
}

type Harness = ReturnType<typeof harness>;

/** Runs `fn` on a fresh owner over a temporary directory, closing both after. */
function withOwner(fn: (h: Harness, dir: string) => void): void {
  const { dir, cleanup } = tempDir();
  const h = harness(dir);
  try {
    fn(h, dir);
  } finally {
    h.owner.handle({ op: 'close' });
    cleanup();
  }
}

test('owner: a burst appends every entry in order and completes it with its offsets', () => {
  withOwner((h) => {
    const s0 = h.open(0);
    const s1 = h.open(1);
    // entries of two partitions, interleaved: each partition's offsets follow its own order
    h.write(1, 0, ACKS_LEADER, batchOf('a', 3));
    h.write(2, 0, ACKS_LEADER, batchOf('b', 2));
    h.write(3, 1, ACKS_LEADER, batchOf('c', 4));
    h.write(4, 0, ACKS_LEADER, batchOf('d', 1));
    h.owner.burst();
    assert.deepEqual(
      h.drain().map((c) => [c.reqId, c.status, c.base, c.last]),
      [
        [1, STATUS_OK, 0n, 2n],
        [2, STATUS_OK, 3n, 4n],
        [3, STATUS_OK, 0n, 3n],
        [4, STATUS_OK, 5n, 5n],
      ],
    );
    assert.equal(s0.logEndOffset, 6n);
    assert.equal(s0.highWatermark, 6n);
    assert.equal(s1.logEndOffset, 4n);
  });
});

test('owner: acks=all completions are released after the burst, behind the acks=1 ones', () => {
  withOwner((h) => {
    h.open(0);
    h.write(1, 0, ACKS_ALL, batchOf('a', 2));
    h.write(2, 0, ACKS_LEADER, batchOf('b', 2));
    h.owner.burst();
    assert.deepEqual(
      h.drain().map((c) => [c.reqId, c.base]),
      [
        [2, 2n],
        [1, 0n],
      ],
    );
  });
});

test('owner: a retried idempotent batch is answered with its original offsets and not written again', () => {
  withOwner((h) => {
    const s = h.open(0);
    const batch = (seq: number): Buffer => batchOf(`p${seq}`, 2, { producerId: 7n, producerEpoch: 0, baseSequence: seq });
    h.write(1, 0, ACKS_LEADER, batchOf('plain', 3));
    h.write(2, 0, ACKS_LEADER, batch(0));
    h.owner.burst();
    h.write(3, 0, ACKS_LEADER, batch(0)); // the retry
    h.write(4, 0, ACKS_LEADER, batch(2));
    h.write(5, 0, ACKS_LEADER, batch(9)); // a gap
    h.owner.burst();
    const c = h.drain();
    assert.deepEqual(
      c.slice(0, 4).map((x) => [x.reqId, x.status, x.base, x.last]),
      [
        [1, STATUS_OK, 0n, 2n],
        [2, STATUS_OK, 3n, 4n],
        [3, STATUS_OK, 3n, 4n],
        [4, STATUS_OK, 5n, 6n],
      ],
    );
    assert.equal(c[4]?.reqId, 5);
    assert.equal(codeOfStatus(c[4]?.status ?? 0), 'OUT_OF_ORDER_SEQUENCE');
    assert.equal(s.logEndOffset, 7n);
  });
});

test('owner: an entry for a slot the owner does not hold fails alone', () => {
  withOwner((h) => {
    h.open(0);
    h.write(1, 3, ACKS_LEADER, batchOf('x', 1));
    h.write(2, 0, ACKS_LEADER, batchOf('y', 1));
    h.owner.burst();
    const c = h.drain();
    assert.equal(codeOfStatus(c[0]?.status ?? 0), 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.match(c[0]?.message ?? '', /slot 3/);
    assert.deepEqual([c[1]?.reqId, c[1]?.status, c[1]?.base], [2, STATUS_OK, 0n]);
  });
});

test('owner: appended batches carry the leader epoch the partition was opened with', () => {
  withOwner((h, dir) => {
    const s = h.open(0, 7);
    h.write(1, 0, ACKS_LEADER, batchOf('grouped', 2)); // a write group
    h.write(2, 0, ACKS_LEADER, batchOf('idem', 1, { producerId: 3n, producerEpoch: 0, baseSequence: 0 })); // one by one
    h.owner.burst();
    assert.equal(h.drain().length, 2);
    const reader = new PartitionReader(`${dir}/t-0`, s);
    try {
      const r = reader.read(0n, { maxBytes: 1 << 20, maxOffset: s.highWatermark });
      assert.deepEqual(
        decodeBatches(r.records).map((b) => [b.baseOffset, b.partitionLeaderEpoch]),
        [
          [0n, 7],
          [2n, 7],
        ],
      );
    } finally {
      reader.close();
    }
  });
});

test('owner protocol: every error code crosses the completion ring as itself', () => {
  for (const code of ERROR_CODES) {
    const status = statusOf(code);
    assert.notEqual(status, STATUS_OK);
    assert.equal(codeOfStatus(status), code);
  }
});
