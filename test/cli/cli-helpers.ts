/**
 * Helpers for tests of the `sluice` binary: a real broker started with `sluice start --port 0` in a temp
 * dir, and a runner that spawns `node bin/sluice.js ...` and collects exit code, stdout and stderr.
 * Works from test/ (tsx) and from dist/test/ (compiled): the repo root is found by walking up to package.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export interface TestBroker {
  port: number;
  bootstrap: string;
  dataDir: string;
  /** `sluice` with `--bootstrap-server` of this broker appended. */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** What the broker wrote to stderr so far, and its exit code (null while it runs). */
  stderr(): string;
  exitCode(): number | null;
  stop(): Promise<void>;
}

/**
 * Starts `sluice start` on a free port and a temp data dir, with settings that keep group tests fast.
 * (A fixed free port rather than --port 0: with port 0 the broker currently advertises port 0 in Metadata.)
 */
export async function startTestBroker(extraConfig: Record<string, string> = {}, opts: TestBrokerOptions = {}): Promise<TestBroker> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(opts.port ?? (await deadPort()), extraConfig, opts.dataDir);
    } catch (e) {
      if (attempt >= 3 || !String(e).includes('EADDRINUSE')) throw e;
    }
  }
}

export interface TestBrokerOptions {
  /** Data directory to use (kept by `stop`); default: a fresh one removed by `stop`. */
  dataDir?: string;
  /** Port to listen on (e.g. a restart on the port clients know); default: a free one. */
  port?: number;
}

async function startOnce(port: number, extraConfig: Record<string, string>, ownDataDir?: string): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  const dataDir = ownDataDir ?? join(dir, 'data');
  const props = {
    'group.initial.rebalance.delay.ms': '0',
    'offsets.topic.num.partitions': '4',
    'sluice.owner.threads': '2',
    ...extraConfig,
  };
  writeFileSync(join(dir, 'broker.properties'), Object.entries(props).map(([k, v]) => `${k}=${v}\n`).join(''));
  const child: ChildProcess = spawn(
    process.execPath,
    [SLUICE_BIN, 'start', '--port', String(port), '--data-dir', dataDir, '--config', join(dir, 'broker.properties'), '--log-level', 'warn'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`broker did not start: ${out} ${err}`)), 20_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/listening on /.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code}: ${out} ${err}`));
      });
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const bootstrap = `127.0.0.1:${port}`;
  return {
    port,
    bootstrap,
    dataDir,
    run: (args, opts) => runSluice([...args, '--bootstrap-server', bootstrap], opts),
    stderr: () => err,
    exitCode: () => child.exitCode ?? (child.signalCode ? 128 : null),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port nothing listens on (bound and released). */
export async function deadPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
