import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli/cli-helpers.js';

test('the README embedded example runs as written', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /## Embedded in 10 lines\s+```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the embedded example');
  const code = m[1]!;
  assert.ok(code.trim().split('\n').length <= 12, 'the example stays short');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
  // The file sits inside the package, so `import ... from 'sluice'` resolves to this package (self-reference).
  const file = join(REPO_ROOT, 'dist', `readme-example-${process.pid}.mjs`);
  try {
    writeFileSync(file, code.replace("'./my-data'", JSON.stringify(join(dir, 'my-data'))));
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^[0-2] 0 signed up$/);
    // Second run: the group's committed offset survived the restart, so only the new record is read.
    const again = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout.trim(), /^[0-2] 1 signed up$/);
  } finally {
    rmSync(file, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
