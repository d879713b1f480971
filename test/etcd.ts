/**
 * A real etcd for tests: Debian's `etcd-server` (etcd 3.4, `/usr/bin/etcd`; scripts/install-test-deps.sh installs
 * it), one member on free loopback ports with a temp data dir. `stop()` takes it away (SIGKILL, data kept) and
 * `restart()` brings it back on the same ports and data; `close()` kills it and removes its dir.
 * Tests that need it use `etcdSkip()`: skipped with the reason when the binary is missing, failed instead under
 * REQUIRE_CLIENT_TESTS=1 (CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './brokers.js';
import { INSTALL_HINT, skipUnlessRequired } from './clients/helpers.js';

export const ETCD_BIN = process.env['SLUICE_ETCD_BIN'] ?? '/usr/bin/etcd';

/** The `skip` option for tests needing etcd: the reason it is missing, or false (see skipUnlessRequired). */
export function etcdSkip(what = 'etcd tests'): string | false {
  return skipUnlessRequired(existsSync(ETCD_BIN) ? false : `${ETCD_BIN} not found (${INSTALL_HINT}, or apt-get install etcd-server)`, what);
}

export interface EtcdServer {
  /** The client URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** Whether the process runs now. */
  readonly running: boolean;
  /** Kills the process (SIGKILL) and waits for its exit; the data dir stays. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data dir and waits until it answers. */
  restart(): Promise<void>;
  /** Kills it and removes its data dir. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** Starts one etcd member and waits until its /health answers. */
export async function startEtcd(): Promise<EtcdServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-etcd-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const clientPort = await freePort();
    let peerPort = await freePort();
    while (peerPort === clientPort) peerPort = await freePort();
    const server = new RealEtcd(dir, clientPort, peerPort);
    try {
      await server.restart();
      return server;
    } catch (e) {
      lastError = e; // most likely a port taken between freePort and etcd's bind: new ports
      await server.stop();
      await rm(server.dataDir, { recursive: true, force: true }); // it was initialized with the old ports
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

class RealEtcd implements EtcdServer {
  readonly endpoint: string;
  readonly dataDir: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  constructor(
    private readonly dir: string,
    clientPort: number,
    private readonly peerPort: number,
  ) {
    this.endpoint = `http://127.0.0.1:${clientPort}`;
    this.dataDir = join(dir, 'data');
  }

  get running(): boolean {
    return this.child !== null;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name', 'sluice-test',
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `sluice-test=${peer}`,
      // one member elects itself after a restart within an election timeout (default 1 s): keep it short
      '--heartbeat-interval', '50',
      '--election-timeout', '250',
    ];
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.log = '';
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exitCode: number | string | null | undefined;
    this.exited = new Promise<void>((res) => {
      child.once('exit', (code, signal) => {
        exitCode = code ?? signal;
        if (this.child === child) this.child = null;
        res();
      });
      child.once('error', (e) => {
        exitCode = e.message;
        if (this.child === child) this.child = null;
        res();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`etcd exited (${exitCode}) before answering:\n${this.log}`);
      if (await this.healthy()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`etcd did not answer on ${this.endpoint} within ${START_TIMEOUT_MS} ms:\n${this.log}`);
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child) child.kill('SIGKILL');
    await this.exited;
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
