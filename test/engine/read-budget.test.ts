/** walkReadBudget: the per-partition and per-request byte limits of a Fetch and of an embedded consumer's poll. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walkReadBudget } from '../../src/engine/read-budget.js';

/** Walks with partitions that each have `sizes[i]` bytes ready, reading min(ready, limit) (or all when first). */
function walk(sizes: number[], maxBytes: number, partitionMax: number[], more?: () => boolean) {
  const seen: { i: number; limit: number; first: boolean }[] = [];
  const total = walkReadBudget(
    sizes.length,
    maxBytes,
    (i) => partitionMax[i]!,
    (i, limit, first) => {
      seen.push({ i, limit, first });
      if (limit === 0) return 0;
      return first ? sizes[i]! : Math.min(sizes[i]!, limit);
    },
    more,
  );
  return { total, seen };
}

test('each partition gets the smaller of its own limit and what the request has left', () => {
  const { total, seen } = walk([300, 300, 300], 500, [400, 400, 400]);
  assert.deepEqual(seen, [
    { i: 0, limit: 400, first: true },
    { i: 1, limit: 200, first: false },
    { i: 2, limit: 0, first: false },
  ]);
  assert.equal(total, 500);
});

test('nothing read yet: the first partition with data reads at least one batch, even with no limit left', () => {
  const { seen } = walk([0, 700, 50], 500, [0, 0, 100]);
  assert.deepEqual(seen, [
    { i: 0, limit: 1, first: true },
    { i: 1, limit: 1, first: true },
    { i: 2, limit: 0, first: false },
  ]);
});

test('a batch past the budget spends it: later partitions are visited with limit 0', () => {
  const { total, seen } = walk([900, 10, 10], 500, [1000, 1000, 1000]);
  assert.equal(total, 900);
  assert.deepEqual(seen.map((s) => s.limit), [500, 0, 0]);
});

test('`more` stops the walk', () => {
  let visits = 0;
  const { seen } = walk([1, 1, 1, 1], 100, [10, 10, 10, 10], () => visits++ < 2);
  assert.deepEqual(seen.map((s) => s.i), [0, 1]);
});
