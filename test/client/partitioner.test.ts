import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { DefaultPartitioner, murmur2, murmur2Key, partitionForKey, toPositive } from '../../src/client/partitioner.js';

const require = createRequire(import.meta.url);
// kafkajs' Java-compatible partitioner (its default since 2.0), to cross-check keyed placement.
const { Partitioners } = require('kafkajs') as {
  Partitioners: {
    DefaultPartitioner: () => (args: { topic: string; partitionMetadata: { partitionId: number; leader: number }[]; message: { key?: Buffer | string | null; partition?: number | null } }) => number;
  };
};

describe('murmur2', () => {
  it("matches the vectors of Kafka's UtilsTest", () => {
    const cases: [string | Buffer, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      [Buffer.from([0x61, 0x62, 0x63]), 479470107],
    ];
    for (const [k, h] of cases) {
      assert.equal(murmur2Key(k), h, String(k));
      assert.equal(murmur2(Buffer.from(k)), h);
    }
  });

  it('hashes a sub-range like the same bytes on their own', () => {
    const b = Buffer.from('xxfoobaryy');
    assert.equal(murmur2(b, 2, 8), murmur2(Buffer.from('foobar')));
  });

  it('hashes string keys as their UTF-8 bytes (also long and non-ASCII ones)', () => {
    for (const s of ['', 'é', '日本語のキー', '🎉🎉', 'k'.repeat(5000)]) assert.equal(murmur2Key(s), murmur2(Buffer.from(s, 'utf8')), s.slice(0, 10));
  });

  it('toPositive clears the sign bit', () => {
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(-0x80000000), 0);
    assert.equal(toPositive(12345), 12345);
  });
});

describe('DefaultPartitioner', () => {
  it('places keys exactly as kafkajs DefaultPartitioner (Java-compatible) on random keys', () => {
    const kjs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })), fc.integer({ min: 1, max: 300 }), (k, n) => {
        const key = typeof k === 'string' ? k : Buffer.from(k);
        const meta = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));
        const expected = kjs({ topic: 't', partitionMetadata: meta, message: { key } });
        assert.equal(partitionForKey(key, n), expected);
        assert.equal(new DefaultPartitioner().partition('t', n, key), expected);
      }),
      { numRuns: 1500 },
    );
  });

  it('an explicit partition wins over the key', () => {
    assert.equal(new DefaultPartitioner().partition('t', 10, 'foobar', 7), 7);
  });

  it('keyless records stick to one partition until its batch is sent, then move to another', () => {
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const p = new DefaultPartitioner(rnd);
    const first = p.partition('t', 8, null);
    for (let i = 0; i < 100; i++) assert.equal(p.partition('t', 8, undefined), first);
    // a batch of another partition being sent changes nothing
    p.batchSent('t', (first + 1) % 8, 8);
    assert.equal(p.partition('t', 8, null), first);
    const seen = new Set<number>([first]);
    let prev = first;
    for (let i = 0; i < 200; i++) {
      p.batchSent('t', prev, 8);
      const next = p.partition('t', 8, null);
      assert.notEqual(next, prev, 'never the partition just sent');
      assert.ok(next >= 0 && next < 8);
      seen.add(next);
      prev = next;
    }
    assert.equal(seen.size, 8, 'spreads over all partitions');
  });

  it('keeps one partition when the topic has only one, and tracks topics separately', () => {
    const p = new DefaultPartitioner();
    assert.equal(p.partition('one', 1, null), 0);
    p.batchSent('one', 0, 1);
    assert.equal(p.partition('one', 1, null), 0);
    const a = p.partition('a', 4, null);
    p.batchSent('b', a, 4);
    assert.equal(p.partition('a', 4, null), a);
  });
});
