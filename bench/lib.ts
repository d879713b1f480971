/** Shared helpers of the benchmark harness: timing, percentiles, and the side-by-side table. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Row {
  scenario: string;
  /** What was measured for Sluice, e.g. "1.23 GB/s". */
  sluice: string;
  /** The baseline measured in the same run. */
  baseline: string;
  /** sluice / baseline (higher is better), when comparable. */
  ratio: number | null;
  target: string;
  notes?: string;
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The middle value (the upper one of an even count) of rounds measured in one run. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export function fmtRate(perSec: number, unit: string): string {
  if (perSec >= 1e9) return `${(perSec / 1e9).toFixed(2)} G${unit}/s`;
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M${unit}/s`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} k${unit}/s`;
  return `${perSec.toFixed(0)} ${unit}/s`;
}

export function fmtBytesRate(bytesPerSec: number): string {
  return `${(bytesPerSec / 1e6).toFixed(0)} MB/s`;
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

export function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), `sluice-bench-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function printTable(rows: Row[]): string {
  const header = ['scenario', 'sluice', 'baseline (same run)', 'ratio', 'target', 'notes'];
  const data = rows.map((r) => [r.scenario, r.sluice, r.baseline, r.ratio === null ? '—' : r.ratio.toFixed(2), r.target, r.notes ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...data.map(line)].join('\n');
  return out;
}
