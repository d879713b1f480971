/** Turning fetched bytes into records for consumers (the embedded consumer and the wire client both read this way). */
import { decodeBatches } from './batch.js';
import type { LogRecord } from './types.js';

export interface FetchedRecords {
  /** Data records at or after the fetch offset (control records of transactions are left out). */
  records: LogRecord[];
  /** Offset to fetch next: one past the last complete batch, or the fetch offset when none was complete. */
  nextOffset: bigint;
}

/**
 * Decodes the batches of a fetch response. A response may start inside a batch's offset range (a fetch
 * at an offset in the middle of a batch returns the whole batch) and end with a partial batch: records
 * before `fetchOffset` and the partial tail are skipped.
 */
export function decodeFetchedRecords(bytes: Buffer | null, fetchOffset: bigint): FetchedRecords {
  if (!bytes || bytes.length === 0) return { records: [], nextOffset: fetchOffset };
  const records: LogRecord[] = [];
  let next = fetchOffset;
  for (const b of decodeBatches(bytes, { allowPartialTail: true })) {
    if (b.lastOffset + 1n > next) next = b.lastOffset + 1n;
    if (b.control) continue;
    for (const r of b.records) if (r.offset >= fetchOffset) records.push(r);
  }
  return { records, nextOffset: next };
}
