/**
 * Helpers for the real-client tests: a Sluice broker started with the real `sluice start` command as a child
 * process (free port, temp data dir, small group timeouts), a way to run external tools, and a reader of the
 * batches the engine stored, opened on the data dir after the broker has stopped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Sluice } from '../../src/sluice.js';
import { forEachBatch, decodeBatch } from '../../src/record/batch.js';
import type { BatchHeader } from '../../src/record/batch-header.js';
import type { DecodedBatch } from '../../src/record/types.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Compiled tests run from dist/test/clients, dev tests (tsx) from test/clients. */
const compiled = here.includes(`${sep}dist${sep}test${sep}`);
export const repoRoot = compiled ? resolve(here, '../../..') : resolve(here, '../..');

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

/** Broker settings for tests: immediate first rebalance, short sessions allowed, few offsets partitions. */
export const TEST_BROKER_CONFIG: Readonly<Record<string, string>> = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'offsets.topic.num.partitions': '4',
  'num.partitions': '1',
  'sluice.owner.threads': '2',
};

export interface SluiceProcess {
  host: string;
  port: number;
  /** host:port for bootstrap.servers / kcat -b. */
  bootstrap: string;
  dataDir: string;
  child: ChildProcess;
  /** What the broker wrote to stderr so far (its log), for failure messages. */
  log(): string;
  /** SIGTERM and wait for a clean exit; resolves to the exit code. Idempotent. */
  stop(): Promise<number | null>;
  /** stop() and remove the temp dir. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  /** Extra or overriding broker properties (Kafka key names). */
  config?: Record<string, string>;
  logLevel?: string;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * Starts `sluice start --port <free port>` as a child process and resolves when it prints its listening line.
 * From dist (CI) it runs bin/sluice.js, the installed command; under tsx it runs the CLI's source.
 * (A free port is picked here rather than `--port 0`, because with port 0 the broker advertises port 0 in
 * Metadata; retried if another process takes the port first.)
 */
export async function startSluice(opts: StartOptions = {}): Promise<SluiceProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSluiceOn(await freePort(), opts);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error) || !/EADDRINUSE/.test(e.message)) throw e;
    }
  }
}

async function startSluiceOn(port: number, opts: StartOptions): Promise<SluiceProcess> {
  const tmp = await mkdtemp(join(tmpdir(), 'sluice-clients-'));
  const dataDir = join(tmp, 'data');
  const configFile = join(tmp, 'broker.properties');
  const config = { ...TEST_BROKER_CONFIG, ...opts.config };
  await writeFile(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const cli = compiled ? [join(repoRoot, 'bin', 'sluice.js')] : ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'sluice.ts')];
  const args = [...cli, 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--config', configFile, '--log-level', opts.logLevel ?? 'warn'];
  // Unknown SLUICE_* variables refuse to start, and a developer's own ones must not leak into tests.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v;
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const ready = await new Promise<{ host: string; port: number }>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`sluice start printed no listening line within 30 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /sluice: listening on (\S+):(\d+) /.exec(stdout);
      if (m) {
        clearTimeout(timer);
        res({ host: m[1]!, port: Number(m[2]) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`sluice start exited with ${code} before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
  let stopping: Promise<number | null> | undefined;
  const proc: SluiceProcess = {
    ...ready,
    bootstrap: `${ready.host}:${ready.port}`,
    dataDir,
    child,
    log: () => stderr,
    stop() {
      if (!stopping) {
        stopping = (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          const code = await exited;
          clearTimeout(timer);
          return code;
        })();
      }
      return stopping;
    },
    async cleanup() {
      await proc.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return proc;
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
