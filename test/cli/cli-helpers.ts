/**
 * Helpers for tests of the `sluice` binary: a runner that spawns `node bin/sluice.js ...` and collects exit code,
 * stdout and stderr (brokers to run it against are in test/brokers.ts).
 * Works from test/ (tsx) and from dist/test/ (compiled): the repo root is found by walking up to package.json.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'sluice.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
export const SLUICE_BIN = join(REPO_ROOT, 'bin', 'sluice.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Send SIGINT after this many ms (to test Ctrl-C handling). */
  sigintAfterMs?: number;
  /** Send SIGINT when this aborts (Ctrl-C at a moment the test chooses). */
  interrupt?: AbortSignal;
}

/** Runs `sluice ...args` to completion. */
export function runSluice(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    if (opts.sigintAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), opts.sigintAfterMs);
    opts.interrupt?.addEventListener('abort', () => child.kill('SIGINT'), { once: true });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
