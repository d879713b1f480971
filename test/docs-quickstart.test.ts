/**
 * Runs docs/quickstart.md as a newcomer would: every ```sh block, in order, literally, with bash, and checks
 * each exits 0 and prints the ```text block that directly follows it (only blank lines between).
 *
 * Design: the doc's commands are exactly what a user types (default port, default data dir, `npx sluice`);
 * the test controls only the environment in which they run:
 * - cwd is a fresh temp dir, so `./sluice-data` (and `rm -rf sluice-data`) stay in it;
 * - PATH starts with a temp dir holding an `npx` shim that runs this checkout's bin/sluice.js for
 *   `npx sluice ...` (what npx does in the repo, without npm's start-up time, network or warnings) and
 *   refuses anything else;
 * - SLUICE_CFG_LISTENERS=PLAINTEXT://127.0.0.1:<free port>: `sluice start` listens there (SLUICE_CFG_* env sets broker
 *   keys) and the client commands connect there by default (they follow SLUICE_CFG_LISTENERS when it is set), so a
 *   broker on 9092 or a parallel run cannot interfere; SLUICE_CFG_SLUICE_OWNER_THREADS=2 bounds the worker threads.
 *   Other SLUICE_* variables of the caller are removed.
 * Conventions the doc follows:
 * - `npm install` is skipped (the test runs on a built checkout);
 * - a block that is just `npx sluice start` is the broker "in a second terminal": it runs in the background in
 *   its own process group; its expected block is matched against its stdout (stderr is its log) once it is ready;
 * - `<!-- quickstart-test: ctrl-c -->` is where the reader presses Ctrl-C in the broker's terminal: the test
 *   sends SIGINT to the broker's process group and expects exit 0 and "stopped cleanly" in its log;
 * - other blocks' expected output is matched against stdout followed by stderr; lines are compared with runs of
 *   spaces/tabs collapsed and ends trimmed, `…` matches any text within a line, and the test port is shown as
 *   9092.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO_ROOT, SLUICE_BIN } from './cli/cli-helpers.js';
import { deadPort } from './brokers.js';

const DOC = join(REPO_ROOT, 'docs', 'quickstart.md');
const CTRL_C = '<!-- quickstart-test: ctrl-c -->';
const START = /^npx sluice start$/;

type Step =
  | { kind: 'sh'; code: string; expected: string | null; line: number }
  | { kind: 'ctrl-c'; line: number };

/** The ```sh blocks (with the ```text block right after each, if any) and Ctrl-C markers, in document order. */
function parseQuickstart(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  let lastSh: Extract<Step, { kind: 'sh' }> | null = null;
  let onlyBlankSinceSh = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence) {
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unclosed code block at line ${start + 1}`);
      const lang = fence[1];
      if (lang === 'sh') {
        lastSh = { kind: 'sh', code: body.join('\n'), expected: null, line: start + 1 };
        steps.push(lastSh);
        onlyBlankSinceSh = true;
        continue;
      }
      if (lang === 'text' && lastSh && onlyBlankSinceSh) lastSh.expected = body.join('\n');
      onlyBlankSinceSh = false;
      continue;
    }
    if (line.trim() === CTRL_C) steps.push({ kind: 'ctrl-c', line: i + 1 });
    if (line.trim() !== '') onlyBlankSinceSh = false;
  }
  return steps;
}

function normalize(text: string, port: number): string[] {
  const lines = text
    .split(`127.0.0.1:${port}`)
    .join('127.0.0.1:9092')
    .split('\n')
    .map((l) => l.replace(/[ \t]+/g, ' ').trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function assertOutput(what: string, actual: string, expected: string, port: number): void {
  const want = normalize(expected, port);
  const got = normalize(actual, port);
  // Lines that match their pattern are shown as the pattern, so a failure's diff shows only real differences.
  const shown = got.map((l, i) => {
    const pattern = want[i];
    if (pattern === undefined) return l;
    const re = new RegExp(`^${pattern.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(l) ? pattern : l;
  });
  assert.deepEqual(shown, want, `output of ${what}`);
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runBlock(code: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', code], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      resolve({ code: c, signal, stdout, stderr });
    });
  });
}

interface Broker {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the start block in the background (its own process group, like a second terminal) until it is ready. */
async function startBroker(code: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Broker> {
  const child = spawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', code], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (c, signal) => r({ code: c, signal })));
  const broker: Broker = { child, stdout: () => out, stderr: () => err, exited };
  // Start-up on a loaded 2-core machine can take a few seconds (worker threads, __consumer_offsets creation).
  const deadline = Date.now() + 30_000;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!/listening on .*\n/.test(out)) {
    if (gone) throw Object.assign(new Error(`the broker exited before it was ready\nstdout: ${out}\nstderr: ${err}`), { stderr: err });
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`the broker was not ready after 30 s\nstdout: ${out}\nstderr: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return broker;
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** A PATH dir whose `npx sluice ...` runs this checkout's CLI. */
function npxShim(dir: string): void {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    '#!/usr/bin/env bash',
    '# Test stand-in for npx: `npx sluice ...` runs the checkout\'s bin/sluice.js, as npx does inside the repo.',
    'if [ "${1-}" != sluice ]; then echo "quickstart test npx shim: only \\"npx sluice\\" is supported, got: npx $*" >&2; exit 127; fi',
    'shift',
    `exec ${q(process.execPath)} ${q(SLUICE_BIN)} "$@"`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'npx'), script);
  chmodSync(join(dir, 'npx'), 0o755);
}

test('docs/quickstart.md: every command runs as written and prints what the page shows', { timeout: 120_000 }, async (t) => {
  const steps = parseQuickstart(readFileSync(DOC, 'utf8'));
  const sh = steps.filter((s) => s.kind === 'sh');
  // Guard against a page that silently stopped testing anything.
  assert.ok(sh.some((s) => START.test(s.code.trim())), 'the quick start starts a broker with `npx sluice start`');
  assert.ok(steps.some((s) => s.kind === 'ctrl-c'), `the quick start stops the broker (${CTRL_C})`);
  assert.ok(sh.filter((s) => s.expected !== null).length >= 5, 'the quick start shows expected output');

  const tmp = mkdtempSync(join(tmpdir(), 'sluice-quickstart-'));
  const cwd = join(tmp, 'work');
  const bin = join(tmp, 'bin');
  mkdirSync(cwd);
  mkdirSync(bin);
  npxShim(bin);
  const baseEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) baseEnv[k] = v;
  baseEnv['PATH'] = `${bin}${delimiter}${process.env['PATH'] ?? ''}`;
  baseEnv['SLUICE_CFG_SLUICE_OWNER_THREADS'] = '2';

  let broker: Broker | null = null;
  let port = 0;
  let env = baseEnv;
  const started = Date.now();
  try {
    for (const step of steps) {
      if (step.kind === 'ctrl-c') {
        assert.ok(broker, `line ${step.line}: Ctrl-C with no broker running`);
        const b: Broker = broker;
        killGroup(b.child, 'SIGINT');
        const exit = await withTimeout(b.exited, 20_000, () => `the broker did not stop within 20 s of Ctrl-C\n${b.stderr()}`);
        assert.equal(exit.code, 0, `the broker's exit after Ctrl-C (signal ${exit.signal})\n${b.stderr()}`);
        assert.match(b.stderr(), /stopped cleanly/);
        broker = null;
        continue;
      }
      const code = step.code.trim();
      const what = `the block at docs/quickstart.md:${step.line} (${code.split('\n')[0]})`;
      if (code === 'npm install') continue; // the test runs on an installed, built checkout
      if (START.test(code)) {
        assert.equal(broker, null, `${what}: a broker is already running`);
        // A free port can be taken between the probe and the bind: try another one.
        for (let attempt = 0; ; attempt++) {
          port = await deadPort();
          env = { ...baseEnv, SLUICE_CFG_LISTENERS: `PLAINTEXT://127.0.0.1:${port}` };
          try {
            broker = await startBroker(code, cwd, env);
            break;
          } catch (e) {
            if (attempt >= 3 || !String((e as { stderr?: string }).stderr ?? '').includes('EADDRINUSE')) throw e;
          }
        }
        if (step.expected !== null) assertOutput(what, broker.stdout(), step.expected, port);
        continue;
      }
      const r = await runBlock(code, cwd, env);
      assert.equal(r.code, 0, `${what} exited with ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      if (step.expected !== null) assertOutput(what, r.stdout + r.stderr, step.expected, port);
    }
    assert.equal(broker, null, 'the quick start left the broker running');
    t.diagnostic(`${sh.length} blocks in ${Date.now() - started} ms`);
  } catch (e) {
    if (broker && e instanceof Error) e.message += `\n--- broker log (tail) ---\n${broker.stderr().slice(-3000)}`;
    throw e;
  } finally {
    if (broker) {
      const b: Broker = broker;
      killGroup(b.child, 'SIGKILL');
      await b.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  }
});
