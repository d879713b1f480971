/**
 * `sluice start` installs its SIGTERM handler before it prints its ready line: a supervisor that stops the
 * broker the moment it reads that line gets a clean close (exit 0), never SIGTERM's default kill. Before the
 * fix about one start in ten died of the signal; twelve rounds make a regression very likely to show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSluiceStart } from '../brokers.js';

test('SIGTERM sent as soon as the ready line is read closes the broker cleanly (exit 0)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-start-signal-'));
  try {
    for (let round = 0; round < 12; round++) {
      const b = await spawnSluiceStart(['--host', '127.0.0.1', '--port', '0', '--data-dir', join(dir, `d${round}`), '--log-level', 'warn']);
      const r = await b.stop('SIGTERM');
      assert.equal(r.code, 0, `round ${round}: exit ${r.code} (signal ${b.child.signalCode}) ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
