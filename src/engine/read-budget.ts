/**
 * The byte budget of a read over several partitions — a Fetch request, an embedded consumer's poll — as Kafka
 * sets it: `maxBytes` for the whole read (fetch.max.bytes), a limit per partition (max.partition.fetch.bytes).
 * One routine, so the broker and the embedded consumer cut their reads the same way.
 */

/**
 * Visits partitions 0..count-1 in order (while `more` says so) and gives each the limit of its read: the
 * smaller of its own limit and what the earlier reads left of `maxBytes`. Once that is spent, `limit` is 0: the
 * partition is not to be read (it may still answer from what it holds). While nothing has been read, `first`
 * is true and `limit` at least 1, so a batch larger than the limits can still be read (KIP-74): the engine
 * returns at least one whole batch. Whether a later partition cuts such a batch is the caller's: a Fetch answer
 * keeps only whole batches within the limit, the embedded consumer keeps the batch (it is counted all the same).
 * `visit` returns the bytes it read. Returns the bytes read in all.
 */
export function walkReadBudget(
  count: number,
  maxBytes: number,
  partitionMaxBytes: (i: number) => number,
  visit: (i: number, limit: number, first: boolean) => number,
  more?: () => boolean,
): number {
  let bytes = 0;
  for (let i = 0; i < count && (more === undefined || more()); i++) {
    const first = bytes === 0;
    const limit = Math.min(partitionMaxBytes(i), maxBytes - bytes);
    bytes += visit(i, limit > 0 ? limit : first ? 1 : 0, first);
  }
  return bytes;
}
