import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sluice } from '../../src/sluice.js';

/** A real engine in a fresh temp dir; `reopen` closes and opens it again on the same data, running `between` while closed. */
export async function openEngine(prefix = 'sluice-coord-'): Promise<{
  sluice: () => Sluice;
  dir: string;
  reopen: (between?: () => void) => Promise<Sluice>;
  cleanup: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let s = await Sluice.open({ dataDir: dir, owners: 1 });
  return {
    dir,
    sluice: () => s,
    reopen: async (between) => {
      await s.close();
      between?.();
      s = await Sluice.open({ dataDir: dir, owners: 1 });
      return s;
    },
    cleanup: async () => {
      await s.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
