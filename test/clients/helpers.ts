/**
 * Helpers for the real-client tests (their broker, the real `sluice start` process, is `startSluice` in
 * test/brokers.ts): a way to run external tools, and a reader of the batches the engine stored, opened on the
 * data dir after the broker has stopped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Sluice } from '../../src/sluice.js';
import { forEachBatch, decodeBatch } from '../../src/record/batch.js';
import type { BatchHeader } from '../../src/record/batch-header.js';
import type { DecodedBatch } from '../../src/record/types.js';

export const INSTALL_HINT = 'run scripts/install-test-deps.sh';

/**
 * The `skip` option for tests needing a client: the reason it is missing, or false. With
 * REQUIRE_CLIENT_TESTS=1 (set it in CI after scripts/install-test-deps.sh) nothing is skipped, so a missing
 * client fails its tests instead of passing silently.
 */
export function skipUnlessRequired(reason: string | false, what: string): string | false {
  if (reason === false) return false;
  if (process.env['REQUIRE_CLIENT_TESTS'] === '1') {
    console.log(`# ${what}: ${reason} (REQUIRE_CLIENT_TESTS=1: running anyway, expect failures)`);
    return false;
  }
  console.log(`# SKIP ${what}: ${reason}`);
  return reason;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (stdin from `input`), killing it after `timeoutMs`. Never rejects on exit codes. */
export function run(cmd: string, args: readonly string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** The first line of `cmd -V`-style output when the command exists, else null. */
export function commandVersion(cmd: string, args: readonly string[] = ['-V']): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  return `${r.stdout}${r.stderr}`;
}

/** Node's version is at least major.minor.patch. */
export function nodeAtLeast(major: number, minor: number, patch: number): boolean {
  const [a, b, c] = process.versions.node.split('.').map(Number) as [number, number, number];
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

export interface StoredPartition {
  headers: BatchHeader[];
  batches: DecodedBatch[];
}

/** Every batch stored for a partition, read with the engine on a data dir whose broker has stopped. */
export async function readStoredBatches(dataDir: string, topic: string, partition: number): Promise<StoredPartition> {
  const engine = await Sluice.open({ dataDir, owners: 1 });
  try {
    const headers: BatchHeader[] = [];
    const batches: DecodedBatch[] = [];
    let offset = engine.offsets(topic, partition).logStartOffset;
    for (;;) {
      const r = engine.read(topic, partition, offset, { maxBytes: 1 << 20 });
      if (r.records.length === 0) break;
      const copy = Buffer.from(r.records); // a slice of a mapped segment: copy before the engine closes
      forEachBatch(copy, (h, pos) => {
        headers.push(h);
        batches.push(decodeBatch(copy, pos));
      });
      if (r.nextOffset <= offset) break;
      offset = r.nextOffset;
    }
    return { headers, batches };
  } finally {
    await engine.close();
  }
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
