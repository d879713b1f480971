/**
 * What a partition directory records about its own durability, so that an open after a crash scans as little
 * as it can:
 *  - the recovery point (recovery-point-offset-checkpoint): every segment below it is synced, so recovery
 *    validates only from there. Rolled segments are synced on the thread pool; the point moves past one once
 *    it and every earlier one are synced.
 *  - the clean-shutdown marker (clean-shutdown, holding the log end offset): the last close synced everything.
 *    An open removes it only once it has recovered, so a crash during that open is still a clean one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CLEAN_SHUTDOWN_FILE,
  RECOVERY_POINT_FILE,
  fsyncDir,
  readOffsetCheckpoint,
  syncFile,
  syncFileInBackground,
  unlinkIfExists,
  writeFileAtomic,
  writeOffsetCheckpoint,
} from './files.js';
import type { LogSink } from './types.js';

/** A rolled segment whose files are being made durable off the append path; `nextBase` follows it. */
interface SealedSync {
  files: string[];
  nextBase: bigint;
  done: boolean;
}

export class RecoveryPoint {
  private readonly file: string;
  /** Rolled segments not yet known durable, oldest first. */
  private sealed: SealedSync[] = [];

  /** `live`: false once the log is closed or failed (a late background sync then writes nothing). */
  constructor(
    private readonly dir: string,
    private readonly sink: LogSink,
    private readonly live: () => boolean,
  ) {
    this.file = path.join(dir, RECOVERY_POINT_FILE);
  }

  // ------------------------------------------------------------------ at open, before the log exists

  /** The recorded recovery point, or null if there is none (or it is unreadable). */
  static read(dir: string): bigint | null {
    return readOffsetCheckpoint(path.join(dir, RECOVERY_POINT_FILE));
  }

  static write(dir: string, offset: bigint): void {
    writeOffsetCheckpoint(path.join(dir, RECOVERY_POINT_FILE), offset);
  }

  static hasCleanShutdownMarker(dir: string): boolean {
    return fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE));
  }

  /** The log end offset the clean-shutdown marker records, or null if unreadable. */
  static cleanShutdownEnd(dir: string): bigint | null {
    const text = fs.readFileSync(path.join(dir, CLEAN_SHUTDOWN_FILE), 'utf8').trim();
    return /^\d+$/.test(text) ? BigInt(text) : null;
  }

  static removeCleanShutdownMarker(dir: string): void {
    unlinkIfExists(path.join(dir, CLEAN_SHUTDOWN_FILE));
    fsyncDir(dir);
  }

  // ------------------------------------------------------------------ while the log is open

  write(offset: bigint): void {
    writeOffsetCheckpoint(this.file, offset);
  }

  /** Rolled segments whose background sync has not finished. */
  get pendingSyncs(): number {
    return this.sealed.length;
  }

  /** Syncs a rolled segment's files on the thread pool; the point moves to `nextBase` when it (and older ones) are done. */
  syncInBackground(files: string[], nextBase: bigint): void {
    const entry: SealedSync = { files, nextBase, done: false };
    this.sealed.push(entry);
    let left = files.length;
    let failed: NodeJS.ErrnoException | null = null;
    const finish = (err: NodeJS.ErrnoException | null): void => {
      // a file renamed or deleted meanwhile (retention, compaction, truncation) no longer needs to be durable
      if (err && err.code !== 'ENOENT') failed = err;
      if (--left > 0 || entry.done) return;
      if (failed) {
        // left pending: the next syncNow() (flush, close) syncs it synchronously and reports a failure there
        this.sink.warn({ dir: this.dir, err: String(failed) }, 'background sync of a rolled segment failed');
        return;
      }
      entry.done = true;
      this.advance();
    };
    for (const f of files) syncFileInBackground(f, finish);
  }

  /** Syncs, in this thread, every rolled segment whose background sync has not finished; throws I/O errors. */
  syncNow(): void {
    if (this.sealed.length === 0) return;
    for (const entry of this.sealed) {
      if (entry.done) continue;
      for (const f of entry.files) {
        try {
          syncFile(f);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
      }
      entry.done = true;
    }
    this.advance();
  }

  /** Moves the recovery point past the oldest run of synced rolled segments. */
  private advance(): void {
    let point = -1n;
    while (this.sealed.length > 0 && (this.sealed[0] as SealedSync).done) point = (this.sealed.shift() as SealedSync).nextBase;
    if (point < 0n || !this.live()) return;
    try {
      writeOffsetCheckpoint(this.file, point);
    } catch (e) {
      // only costs a longer recovery after a crash; the next roll or close writes it again
      this.sink.warn({ dir: this.dir, err: String(e) }, 'could not write the recovery point');
    }
  }

  /** At close, once everything is synced: the recovery point at the log end, then the marker (last). */
  markCleanShutdown(logEndOffset: bigint): void {
    writeOffsetCheckpoint(this.file, logEndOffset);
    writeFileAtomic(path.join(this.dir, CLEAN_SHUTDOWN_FILE), `${logEndOffset}\n`);
  }
}
