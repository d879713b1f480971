import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch } from '../../src/record/batch.js';
import type { BatchEncodeOptions } from '../../src/record/types.js';

export function tempDir(prefix = 'sluice-engine-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A batch of string values (`prefix-0`, `prefix-1`, ...). */
export function batchOf(prefix: string, count: number, opts: BatchEncodeOptions = {}): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}` }));
  return encodeBatch(records, opts);
}

/** A batch of `count` records with `size`-byte values. */
export function sizedBatch(count: number, size: number, opts: BatchEncodeOptions = {}): Buffer {
  const value = Buffer.alloc(size, 0x61);
  return encodeBatch(Array.from({ length: count }, () => ({ value })), opts);
}
