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

export interface TestBroker {
  port: number;
  bootstrap: string;
  dataDir: string;
  /** The broker process's id (to read its memory from /proc); a restart changes it. */
  readonly pid: number;
  /** What the broker wrote on stderr since it last started (its log, at --log-level warn). */
  stderr(): string;
  /** `sluice` with `--bootstrap-server` of this broker appended. */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * Stops the broker with `signal` (its data stays), runs `between` (e.g. to damage a file), and starts it
   * again on the same data dir, port and config, with `args` added to `sluice start`. Rejects if it exits.
   */
  restart(opts?: { signal?: NodeJS.Signals; between?: () => void | Promise<void>; args?: readonly string[] }): Promise<void>;
  /** The broker's exit code (null while it runs; 128 when a signal ended it). */
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
      return await startOnce(opts.port ?? (await deadPort()), extraConfig, opts);
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
  /** The broker's open-file limit (`ulimit -n`). */
  openFileLimit?: number;
}

async function startOnce(port: number, extraConfig: Record<string, string>, opts: TestBrokerOptions): Promise<TestBroker> {
  const openFileLimit = opts.openFileLimit;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const props = {
    'group.initial.rebalance.delay.ms': '0',
    'offsets.topic.num.partitions': '4',
    'sluice.owner.threads': '2',
    ...extraConfig,
  };
  writeFileSync(join(dir, 'broker.properties'), Object.entries(props).map(([k, v]) => `${k}=${v}\n`).join(''));
  const argv = (args: readonly string[]): string[] =>
    ['--port', String(port), '--data-dir', dataDir, '--config', join(dir, 'broker.properties'), '--log-level', 'warn', ...args];
  let proc: StartedSluice;
  try {
    proc = await spawnSluiceStart(argv([]), {}, { openFileLimit });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const bootstrap = `127.0.0.1:${port}`;
  return {
    port,
    bootstrap,
    dataDir,
    get pid() {
      return proc.pid;
    },
    stderr: () => proc.stderr(),
    run: (args, opts) => runSluice([...args, '--bootstrap-server', bootstrap], opts),
    async restart({ signal = 'SIGTERM', between, args = [] } = {}) {
      await proc.stop(signal);
      await between?.();
      proc = await spawnSluiceStart(argv(args), {}, { openFileLimit });
    },
    exitCode: () => proc.exitCode(),
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StartedSluice {
  /** stdout up to and including the ready line. */
  ready: string;
  pid: number;
  /** stderr so far. */
  stderr(): string;
  /** The exit code (null while it runs; 128 when a signal ended it). */
  exitCode(): number | null;
  /** Sends `signal` (SIGTERM by default) if it still runs; resolves with the exit code and all of stderr. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; stderr: string }>;
}

/**
 * Starts `sluice start ...args` with `env` added to this process's environment; resolves once the ready line is
 * out, rejects if it exits first. With `openFileLimit` a shell sets that limit and execs node (the pid is the broker's).
 */
export async function spawnSluiceStart(args: readonly string[], env: NodeJS.ProcessEnv = {}, opts: { openFileLimit?: number | undefined } = {}): Promise<StartedSluice> {
  const argv = [process.execPath, SLUICE_BIN, 'start', ...args];
  const spawnOpts = { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, ...env } };
  const child: ChildProcess =
    opts.openFileLimit === undefined
      ? spawn(argv[0]!, argv.slice(1), spawnOpts)
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.openFileLimit} && exec "$@"`, 'sh', ...argv], spawnOpts);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out} ${err}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${out} ${err}`));
    });
  });
  return {
    ready,
    pid: child.pid!,
    stderr: () => err,
    exitCode: () => child.exitCode ?? (child.signalCode ? 128 : null),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return { code: await exited, stderr: err };
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
