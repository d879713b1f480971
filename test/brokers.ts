/**
 * Brokers for tests, in one place. Each is a real Sluice node on 127.0.0.1 with a temp data dir and settings that
 * keep group tests fast (TEST_BROKER_CONFIG):
 * - `startBroker`: a node assembled in this process (src/node/), with kafkajs clients at hand;
 * - `startSluice` / `startTestBroker`: the real `sluice start` command as a child process (what users run), the
 *   first for client tests (stop reports the exit code), the second for CLI tests (restart, `sluice` commands
 *   against it); `spawnSluiceStart` is the bare spawn under both.
 * A fixed free port is used rather than `--port 0`, because with port 0 the broker advertises port 0 in Metadata;
 * a start that loses its port to another process is retried.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { SluiceEngine } from '../src/engine/engine.js';
import type { Logger } from '../src/engine/types.js';
import type { KafkaServer } from '../src/frontends/kafka/server.js';
import { startNode, type KafkaListenerOptions, type SluiceNode } from '../src/node/node.js';
import { REPO_ROOT, SLUICE_BIN, runSluice, type RunOptions, type RunResult } from './cli/cli-helpers.js';

/** Broker settings for tests: immediate first rebalance, short sessions allowed, few offsets partitions. */
export const TEST_BROKER_CONFIG: Readonly<Record<string, string>> = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'offsets.topic.num.partitions': '4',
  'num.partitions': '1',
  'sluice.owner.threads': '2',
};

/** A TCP port that was free on 127.0.0.1 a moment ago (bound and released). */
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

/** A port nothing listens on (bound and released): the same as `freePort`, named for what a test means by it. */
export const deadPort = freePort;

async function retryTaken<T>(attempts: number, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= attempts || !String(e).includes('EADDRINUSE')) throw e;
    }
  }
}

// ------------------------------------------------------------------------------------------- in-process node

export interface Broker {
  dir: string;
  node: SluiceNode;
  engine: SluiceEngine;
  server: KafkaServer;
  port: number;
  warnings: { obj: object; msg?: string }[];
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** Closes the node, then starts it again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type BrokerOptions = Partial<KafkaListenerOptions>;

/** A node in this process: engine in a temp dir, Kafka listener on 127.0.0.1 (warnings and errors logged to `warnings`). */
export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'));
  const warnings: { obj: object; msg?: string }[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj, msg) => warnings.push({ obj, msg }),
    error: (obj, msg) => warnings.push({ obj, msg }),
  };
  const open = (port: number): Promise<SluiceNode> =>
    startNode({
      engine: { dataDir: dir, owners: 2 },
      logger,
      brokerId: 0,
      offsetsTopicPartitions: 4,
      groups: { initialRebalanceDelayMs: 50, minSessionTimeoutMs: 1000 },
      kafka: { host: '127.0.0.1', port, autoCreateTopics: true, defaultPartitions: 1, ...opts },
    });
  const node = await open(0);
  const b: Broker = {
    dir,
    node,
    engine: node.engine,
    server: node.kafka!,
    port: node.kafka!.address.port,
    warnings,
    kafka(config = {}) {
      return new Kafka({
        clientId: 'sluice-test',
        brokers: [`127.0.0.1:${b.port}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 1000 },
        ...config,
      });
    },
    async restart() {
      await b.node.close();
      b.node = await open(b.port);
      b.engine = b.node.engine;
      b.server = b.node.kafka!;
    },
    async stop() {
      await b.node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return b;
}

// ------------------------------------------------------------------------------------- `sluice start` process

/** Compiled tests (dist/test) run bin/sluice.js, the installed command; dev tests (tsx) run the CLI's source. */
const compiled = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}test${sep}`);
const SLUICE_CLI: readonly string[] = compiled ? [SLUICE_BIN] : ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'sluice.ts')];

export interface StartedSluice {
  /** stdout up to and including the ready line. */
  ready: string;
  child: ChildProcess;
  pid: number;
  /** stderr so far. */
  stderr(): string;
  /** The exit code (null while it runs; 128 when a signal ended it). */
  exitCode(): number | null;
  /**
   * Sends `signal` (SIGTERM by default) if it still runs, and SIGKILL if it has not exited 15 s later; resolves
   * with the exit code (null when a signal ended it) and all of stderr.
   */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; stderr: string }>;
}

/**
 * Starts `sluice start ...args` with `env` added to this process's environment (less its SLUICE_* variables:
 * unknown ones refuse to start, and a developer's own must not leak into tests); resolves once the ready line is
 * out, rejects if it exits first or prints none within 30 s. With `openFileLimit` a shell sets that limit and
 * execs node (the pid is the broker's).
 */
export async function spawnSluiceStart(args: readonly string[], env: NodeJS.ProcessEnv = {}, opts: { openFileLimit?: number | undefined } = {}): Promise<StartedSluice> {
  const argv = [process.execPath, ...SLUICE_CLI, 'start', ...args];
  const inherited: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) inherited[k] = v;
  const spawnOpts = { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...inherited, ...env } };
  const child: ChildProcess =
    opts.openFileLimit === undefined
      ? spawn(argv[0]!, argv.slice(1), spawnOpts)
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.openFileLimit} && exec "$@"`, 'sh', ...argv], spawnOpts);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not start: no ready line within 30 s\nstdout: ${out}\nstderr: ${err}`));
    }, 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before its ready line\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  let stopping: Promise<{ code: number | null; stderr: string }> | undefined;
  return {
    ready,
    child,
    pid: child.pid!,
    stderr: () => err,
    exitCode: () => child.exitCode ?? (child.signalCode ? 128 : null),
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return { code, stderr: err };
      })();
      return stopping;
    },
  };
}

/** A temp dir holding the data dir and a broker.properties of TEST_BROKER_CONFIG plus `config`. */
function testDir(config: Record<string, string>, dataDir?: string): { dir: string; dataDir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-broker-'));
  const configFile = join(dir, 'broker.properties');
  writeFileSync(configFile, Object.entries({ ...TEST_BROKER_CONFIG, ...config }).map(([k, v]) => `${k}=${v}\n`).join(''));
  return { dir, dataDir: dataDir ?? join(dir, 'data'), configFile };
}

function startArgs(port: number, dataDir: string, configFile: string, logLevel: string, more: readonly string[] = []): string[] {
  return ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--config', configFile, '--log-level', logLevel, ...more];
}

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

/** `sluice start` for client tests: resolves when it prints its listening line. */
export function startSluice(opts: StartOptions = {}): Promise<SluiceProcess> {
  return retryTaken(3, async () => {
    const port = await freePort();
    const { dir, dataDir, configFile } = testDir(opts.config ?? {});
    let proc: StartedSluice;
    try {
      proc = await spawnSluiceStart(startArgs(port, dataDir, configFile, opts.logLevel ?? 'warn'));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const m = /sluice: listening on (\S+):(\d+) /.exec(proc.ready);
    if (!m) {
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sluice start printed no listening line: ${proc.ready}`);
    }
    const host = m[1]!;
    const bound = Number(m[2]);
    const p: SluiceProcess = {
      host,
      port: bound,
      bootstrap: `${host}:${bound}`,
      dataDir,
      child: proc.child,
      log: () => proc.stderr(),
      stop: async () => (await proc.stop()).code,
      async cleanup() {
        await p.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    return p;
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

export interface TestBrokerOptions {
  /** Data directory to use (kept by `stop`); default: a fresh one removed by `stop`. */
  dataDir?: string;
  /** Port to listen on (e.g. a restart on the port clients know); default: a free one. */
  port?: number;
  /** The broker's open-file limit (`ulimit -n`). */
  openFileLimit?: number;
}

/** `sluice start` for CLI tests: restartable, with `sluice` commands run against it. */
export function startTestBroker(extraConfig: Record<string, string> = {}, opts: TestBrokerOptions = {}): Promise<TestBroker> {
  return retryTaken(4, async () => {
    const port = opts.port ?? (await freePort());
    const { dir, dataDir, configFile } = testDir(extraConfig, opts.dataDir);
    const argv = (more: readonly string[]): string[] => startArgs(port, dataDir, configFile, 'warn', more);
    const limit = { openFileLimit: opts.openFileLimit };
    let proc: StartedSluice;
    try {
      proc = await spawnSluiceStart(argv([]), {}, limit);
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
      run: (args, runOpts) => runSluice([...args, '--bootstrap-server', bootstrap], runOpts),
      async restart({ signal = 'SIGTERM', between, args = [] } = {}) {
        await proc.stop(signal);
        await between?.();
        proc = await spawnSluiceStart(argv(args), {}, limit);
      },
      exitCode: () => proc.exitCode(),
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
