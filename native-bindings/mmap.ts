/**
 * A small typed wrapper over `@riaskov/mmap-io` (the maintained fork of mmap-io).
 *
 * Lifetime rule: a mapping is unmapped when its Buffer (and every slice of it) is garbage collected. Until then
 * it pins its file: an unlinked file's blocks are freed only when its last mapping goes. `releaseMapping` drops
 * that reference at once (for files about to be deleted). Callers must never touch bytes of a mapping that lie
 * past the current end of the underlying file (that raises SIGBUS and kills the process).
 *
 * A mapped Buffer transferred through postMessage is copied, not shared: each thread maps files itself.
 */
import { createRequire } from 'node:module';
import { sluiceNative } from './sluice-native.js';

interface MmapIoModule {
  map(size: number, protection: number, flags: number, fd: number, offset?: number, advise?: number): Buffer;
  advise(buffer: Buffer, offset: number, length: number, advise: number): void;
  incore(buffer: Buffer): [number, number];
  sync(buffer: Buffer, offset?: number, size?: number, blocking?: boolean, invalidate?: boolean): void;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
  readonly MADV_NORMAL: number;
  readonly MADV_RANDOM: number;
  readonly MADV_SEQUENTIAL: number;
  readonly MADV_WILLNEED: number;
  readonly MADV_DONTNEED: number;
  readonly PAGESIZE: number;
}

// The addon is CommonJS; createRequire keeps this module ESM.
const mmapIo = createRequire(import.meta.url)('@riaskov/mmap-io') as MmapIoModule;

export type MapMode = 'r' | 'rw';
export type MapAdvice = 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed';

/** The OS page size. */
export const PAGE_SIZE: number = mmapIo.PAGESIZE;
/** Largest mapping the addon accepts (its size argument is an int32). */
export const MAX_MAP_BYTES = 0x7fffffff;

const EMPTY = Buffer.alloc(0);
/** Buffers returned by mapFile and not yet released: only these may be released. */
const live = new WeakSet<Buffer>();

function adviceFlag(a: MapAdvice): number {
  switch (a) {
    case 'normal': return mmapIo.MADV_NORMAL;
    case 'random': return mmapIo.MADV_RANDOM;
    case 'sequential': return mmapIo.MADV_SEQUENTIAL;
    case 'willneed': return mmapIo.MADV_WILLNEED;
    case 'dontneed': return mmapIo.MADV_DONTNEED;
  }
}

/**
 * Maps `size` bytes of `fd` from offset 0, MAP_SHARED, read-only or read/write. A zero size returns an empty
 * (unmapped) Buffer, since mmap rejects empty mappings. The fd may be closed right after: the mapping stays.
 */
export function mapFile(fd: number, size: number, mode: MapMode, advice: MapAdvice = 'normal'): Buffer {
  if (size === 0) return EMPTY;
  if (!Number.isInteger(size) || size < 0 || size > MAX_MAP_BYTES) throw new RangeError(`cannot map ${size} bytes`);
  const prot = mode === 'rw' ? mmapIo.PROT_READ | mmapIo.PROT_WRITE : mmapIo.PROT_READ;
  const buf = mmapIo.map(size, prot, mmapIo.MAP_SHARED, fd, 0, adviceFlag(advice));
  live.add(buf);
  return buf;
}

/**
 * Lets go of the file behind a mapping now instead of at garbage collection: its pages become anonymous zero
 * pages (the address range stays valid, so a slice still held somewhere reads zeros rather than faulting).
 * Only for mappings of files that are being deleted, once no reader needs their bytes. Anything but a Buffer
 * returned by mapFile (a slice, an empty or already released mapping) is left alone.
 */
export function releaseMapping(buf: Buffer | null | undefined): void {
  if (!buf || !live.has(buf)) return;
  live.delete(buf);
  sluiceNative.releaseMapping(buf);
}

/** madvise over a page-aligned range of a mapping (offset is rounded down to a page). */
export function adviseRange(buf: Buffer, offset: number, length: number, advice: MapAdvice): void {
  if (buf.length === 0 || length <= 0) return;
  const start = offset - (offset % PAGE_SIZE);
  const end = Math.min(buf.length, offset + length);
  if (end <= start) return;
  mmapIo.advise(buf, start, end - start, adviceFlag(advice));
}

/** msync a range of a mapping. Prefer fdatasync on the file descriptor (faster, same effect on Linux). */
export function syncMapping(buf: Buffer, offset = 0, size = buf.length): void {
  if (buf.length === 0) return;
  mmapIo.sync(buf, offset, size, true, false);
}

/** [pages not in core, pages in core] of a mapping. */
export function incore(buf: Buffer): [number, number] {
  if (buf.length === 0) return [0, 0];
  return mmapIo.incore(buf);
}
