/**
 * One engine per data directory: `<dataDir>/.lock` holds the owner's pid. A lock left by a process that no
 * longer exists (kill -9, power loss) is taken over; a live owner — another process or this one — is refused.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock or throws SluiceError('STORAGE'); returns the release function. */
export function acquireDataDirLock(dataDir: string): () => void {
  const path = join(dataDir, '.lock');
  const token = `${process.pid}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, token, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new SluiceError('STORAGE', `cannot lock data directory ${dataDir}: ${(e as Error).message}`);
      }
      let holder = NaN;
      try {
        holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // unreadable or vanished: treat as stale
      }
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        const who = holder === process.pid ? 'another engine in this process' : `process ${holder}`;
        throw new SluiceError('STORAGE', `data directory ${dataDir} is in use by ${who}`);
      }
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first; the retry settles who wins
      }
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(path, 'utf8') === token) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}
