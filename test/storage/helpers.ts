/** Shared helpers of the storage tests: temp dirs, batches, a controllable clock, a recording sink. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeBatch } from '../../src/record/batch.js';
import type { BatchEncodeOptions, RecordInput } from '../../src/record/types.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/config.js';
import type { LogConfig, LogSink } from '../../src/storage/types.js';

export function tempDir(prefix = 'sluice-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A batch of `n` records `key-i`/`value-i` (values padded to `valueSize`). */
export function makeBatch(n: number, opts: BatchEncodeOptions & { valueSize?: number; keyPrefix?: string; tag?: string } = {}): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < n; i++) {
    const v = `${opts.tag ?? 'value'}-${i}`;
    records.push({ key: `${opts.keyPrefix ?? 'key'}-${i}`, value: opts.valueSize ? v.padEnd(opts.valueSize, '.') : v });
  }
  return encodeBatch(records, { now: Date.now(), ...opts });
}

export function config(over: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, cleanupPolicy: { ...DEFAULT_LOG_CONFIG.cleanupPolicy }, ...over };
}

export interface TestClock {
  (): number;
  now: number;
  advance(ms: number): void;
}

export function manualClock(start = 1_000_000): TestClock {
  const c = (() => c.now) as TestClock;
  c.now = start;
  c.advance = (ms: number) => {
    c.now += ms;
  };
  return c;
}

export interface RecordingSink extends LogSink {
  lines: Array<{ level: 'info' | 'warn' | 'error'; obj: object; msg: string }>;
}

export function recordingSink(): RecordingSink {
  const lines: RecordingSink['lines'] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

/** Copies a partition directory as it is on disk (simulates kill -9: no close, no marker). */
export function snapshotDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}

export function segmentFiles(dir: string, suffix = '.log'): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith(suffix)).sort();
}
