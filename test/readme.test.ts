/**
 * The README's "Embedded in 10 lines" as an application would run it: Sluice packed with `npm pack`, installed
 * into a fresh app with `npm install <tarball>` (which compiles the native addons there), and the example run
 * from that app, where `import ... from 'sluice'` resolves through node_modules like any dependency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli/cli-helpers.js';

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function readmeBlock(heading: string, lang: string): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`## ${heading}[\\s\\S]*?\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README has a ${lang} block under "${heading}"`);
  return m[1]!;
}

test('the README embedded example runs in a fresh app that installed the packed package', { timeout: 600_000 }, () => {
  const code = readmeBlock('Embedded in 10 lines', 'ts');
  assert.ok(code.trim().split('\n').length <= 12, 'the example stays short');
  // The install steps the README gives, checked for the two commands this test runs.
  const steps = readmeBlock('Use it from your application', 'sh');
  assert.match(steps, /^npm pack\b/m);
  assert.match(steps, /^npm install \S*sluice-\S*\.tgz$/m);

  const dir = mkdtempSync(join(tmpdir(), 'sluice-app-'));
  try {
    // dist/ is already built by `npm test`: skip `prepare` so tests running beside this one never see it rewritten.
    run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], REPO_ROOT, 120_000);
    const tarball = readdirSync(dir).find((f) => /^sluice-.*\.tgz$/.test(f));
    assert.ok(tarball, 'npm pack wrote a tarball');
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sluice-readme-app', private: true, type: 'module' }));
    // From the registry (or npm's cache), as an application's install would; the addons compile here.
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], app, 480_000);
    writeFileSync(join(app, 'example.mjs'), code);
    const first = run(process.execPath, ['example.mjs'], app, 60_000);
    assert.match(first.stdout.trim(), /^[0-2] 0 signed up$/);
    // Second run: the group's committed offset survived the restart, so only the new record is read.
    const again = run(process.execPath, ['example.mjs'], app, 60_000);
    assert.match(again.stdout.trim(), /^[0-2] 1 signed up$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
