/**
 * File names inside a partition directory and small crash-safe helpers: synchronous for the owner threads,
 * with `...Async` variants for the engine thread's metadata files (its event loop must not block on fsync).
 */
import * as fs from 'node:fs';
import { open as openAsync, rename as renameAsync } from 'node:fs/promises';
import * as path from 'node:path';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** Output of the cleaner being written; deleted on open (Kafka's rule). */
export const CLEANED_SUFFIX = '.cleaned';
/** A finished cleaner output waiting to replace its sources; completed on open (Kafka's rule). */
export const SWAP_SUFFIX = '.swap';
/** A removed segment waiting for file.delete.delay.ms; deleted on open. */
export const DELETED_SUFFIX = '.deleted';

export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
export const LEADER_EPOCH_FILE = 'leader-epoch-checkpoint';
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
export const RECOVERY_POINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_FILE = 'log-start-offset-checkpoint';

/** Kafka's 20-digit zero-padded file name stem for a base offset. */
export function segmentStem(baseOffset: bigint): string {
  return baseOffset.toString().padStart(20, '0');
}

export function segmentFileName(baseOffset: bigint, suffix: string): string {
  return segmentStem(baseOffset) + suffix;
}

/** Parses `NNNNNNNNNNNNNNNNNNNN.log` → base offset, or null for anything else. */
export function parseSegmentLogName(name: string): bigint | null {
  if (name.length !== 20 + LOG_SUFFIX.length || !name.endsWith(LOG_SUFFIX)) return null;
  const stem = name.slice(0, 20);
  return /^\d{20}$/.test(stem) ? BigInt(stem) : null;
}

/** Base offsets of the segment .log files in `dir`, ascending. */
export function listSegmentBases(dir: string): bigint[] {
  const bases: bigint[] = [];
  for (const name of fs.readdirSync(dir)) {
    const b = parseSegmentLogName(name);
    if (b !== null) bases.push(b);
  }
  return bases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One durability step made through the helpers below, as `observeDurability` reports it. */
export type DurabilityEvent = { op: 'sync'; file: string } | { op: 'checkpoint'; file: string; offset: bigint };

const durabilityObservers = new Set<(e: DurabilityEvent) => void>();

/**
 * Calls `fn` after each fsync and offset-checkpoint write that this thread makes through these helpers, in
 * order (a diagnostic hook: it shows that data is made durable before a checkpoint vouches for it). Returns a
 * function that stops observing.
 */
export function observeDurability(fn: (e: DurabilityEvent) => void): () => void {
  durabilityObservers.add(fn);
  return () => {
    durabilityObservers.delete(fn);
  };
}

function notifyDurability(e: DurabilityEvent): void {
  for (const fn of durabilityObservers) fn(e);
}

/** fdatasync of an open descriptor of `file`. */
export function fdatasyncFd(fd: number, file: string): void {
  fs.fdatasyncSync(fd);
  notifyDurability({ op: 'sync', file });
}

/** fdatasync of a file by name (any descriptor of the inode syncs its data). */
export function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fdatasyncFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** fdatasync of a file by name on the thread pool; `done` gets the error, if any. */
export function syncFileInBackground(file: string, done: (err: NodeJS.ErrnoException | null) => void): void {
  fs.open(file, 'r', (err, fd) => {
    if (err) return done(err);
    fs.fdatasync(fd, (syncErr) =>
      fs.close(fd, () => {
        if (!syncErr) notifyDurability({ op: 'sync', file });
        done(syncErr);
      }),
    );
  });
}

export function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    notifyDurability({ op: 'sync', file: dir });
  } catch {
    // some filesystems refuse fsync on directories; the data files were synced already
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** Writes a small file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = file + '.tmp';
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/**
 * fsyncs a directory (makes renames durable). File systems that refuse fsync on a directory (EINVAL, EISDIR,
 * EBADF) are tolerated; any other failure is thrown, unlike `fsyncDir`.
 */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const dh = await openAsync(dir, 'r');
  try {
    await dh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EBADF') throw e;
  } finally {
    await dh.close();
  }
}

/** `writeFileAtomic` off the thread: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomicAsync(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await openAsync(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await renameAsync(tmp, file);
  await fsyncDirAsync(path.dirname(file));
}

export function unlinkIfExists(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** Reads a single-offset checkpoint (`0\n1\n<offset>\n`: version, count, value); null if absent or malformed. */
export function readOffsetCheckpoint(file: string): bigint | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (isEnoent(e)) return null;
    throw e;
  }
  const lines = text.split('\n').map((l) => l.trim());
  if (lines[0] !== '0' || lines[1] !== '1' || !lines[2] || !/^-?\d+$/.test(lines[2])) return null;
  return BigInt(lines[2]);
}

export function writeOffsetCheckpoint(file: string, offset: bigint): void {
  writeFileAtomic(file, `0\n1\n${offset}\n`);
  notifyDurability({ op: 'checkpoint', file, offset });
}
