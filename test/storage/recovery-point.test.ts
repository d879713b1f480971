import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLEAN_SHUTDOWN_FILE, RECOVERY_POINT_FILE, observeDurability, type DurabilityEvent } from '../../src/storage/files.js';
import { RecoveryPoint } from '../../src/storage/recovery-point.js';
import { recordingSink, rmDir, tempDir } from './helpers.js';

function untilSynced(rp: RecoveryPoint): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => {
      if (rp.pendingSyncs === 0) resolve();
      else setTimeout(poll, 2);
    };
    poll();
  });
}

test('recovery point: moves past a rolled segment only once it and every older one are synced', async () => {
  const dir = tempDir();
  try {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, 'a');
    fs.writeFileSync(b, 'b');
    const rp = new RecoveryPoint(dir, recordingSink(), () => true);
    assert.equal(RecoveryPoint.read(dir), null);
    rp.syncInBackground([a], 10n);
    rp.syncInBackground([b], 20n);
    assert.equal(rp.pendingSyncs, 2);
    await untilSynced(rp);
    assert.equal(RecoveryPoint.read(dir), 20n);

    // synced in this thread: data first, then the checkpoint vouching for it
    const events: DurabilityEvent[] = [];
    const stop = observeDurability((e) => events.push(e));
    try {
      rp.syncInBackground([a], 30n);
      rp.syncNow();
    } finally {
      stop();
    }
    assert.equal(rp.pendingSyncs, 0);
    assert.equal(RecoveryPoint.read(dir), 30n);
    const sync = events.findIndex((e) => e.op === 'sync' && e.file === a);
    const cp = events.findIndex((e) => e.op === 'checkpoint' && path.basename(e.file) === RECOVERY_POINT_FILE);
    assert.ok(sync >= 0 && cp > sync, 'the segment is synced before the recovery point moves');
    await untilSynced(rp); // the background sync of the same entry finishes and writes nothing more
    assert.equal(RecoveryPoint.read(dir), 30n);
  } finally {
    rmDir(dir);
  }
});

test('recovery point: a deleted rolled segment counts as synced; nothing is written once the log is not live', async () => {
  const dir = tempDir();
  try {
    let live = true;
    const rp = new RecoveryPoint(dir, recordingSink(), () => live);
    rp.syncInBackground([path.join(dir, 'gone')], 5n);
    await untilSynced(rp);
    assert.equal(RecoveryPoint.read(dir), 5n);
    live = false;
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, 'f');
    rp.syncInBackground([f], 9n);
    await untilSynced(rp);
    assert.equal(RecoveryPoint.read(dir), 5n);
  } finally {
    rmDir(dir);
  }
});

test('clean-shutdown marker: records the log end, after the recovery point; removed on request', () => {
  const dir = tempDir();
  try {
    const rp = new RecoveryPoint(dir, recordingSink(), () => true);
    assert.equal(RecoveryPoint.hasCleanShutdownMarker(dir), false);
    rp.markCleanShutdown(42n);
    assert.equal(RecoveryPoint.hasCleanShutdownMarker(dir), true);
    assert.equal(RecoveryPoint.cleanShutdownEnd(dir), 42n);
    assert.equal(RecoveryPoint.read(dir), 42n);
    assert.equal(fs.readFileSync(path.join(dir, CLEAN_SHUTDOWN_FILE), 'utf8'), '42\n');
    fs.writeFileSync(path.join(dir, CLEAN_SHUTDOWN_FILE), 'garbage');
    assert.equal(RecoveryPoint.cleanShutdownEnd(dir), null);
    RecoveryPoint.removeCleanShutdownMarker(dir);
    assert.equal(RecoveryPoint.hasCleanShutdownMarker(dir), false);
  } finally {
    rmDir(dir);
  }
});
