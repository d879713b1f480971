/**
 * CRC-32C (Castagnoli), the checksum of every Kafka record batch.
 *
 * Sluice's own addon (native-bindings/src/crc32c.c, built by `npm install`) runs the x86-64 CRC32 instruction
 * on three streams at once: ~4x @node-rs/crc32 on 16 KiB batches (bench/crc32c.ts). On CPUs it does not
 * accelerate (no SSE4.2, not x86-64) the prebuilt @node-rs/crc32 addon does the work.
 */
import { crc32c as rsCrc32c } from '@node-rs/crc32';
import { sluiceNative as native } from './sluice-native.js';

/** Which implementation computes CRC-32C on this machine. */
export const crc32cImplementation: 'sluice-sse4.2' | '@node-rs/crc32' = native.available ? 'sluice-sse4.2' : '@node-rs/crc32';

/**
 * The prebuilt @node-rs/crc32 implementation: the fallback, and the benchmark's baseline. It keeps the addon's
 * argument rules: a TypeError, never a silently clamped range.
 */
export function crc32cFallback(buf: Uint8Array, start = 0, end = buf.length): number {
  if (!(buf instanceof Uint8Array) || buf.constructor === Uint8ClampedArray) throw new TypeError('crc32c needs a Uint8Array');
  if (!Number.isInteger(start) || start < 0 || start > buf.length) throw new TypeError('crc32c: start must be an integer within the array');
  if (!Number.isInteger(end) || end < start || end > buf.length) {
    throw new TypeError("crc32c: end must be an integer from start to the array's length");
  }
  return rsCrc32c((start === 0 && end === buf.length ? buf : buf.subarray(start, end)) as Buffer) >>> 0;
}

/** CRC-32C of `buf[start, end)` (the whole of `buf` by default), as an unsigned 32-bit number. */
export const crc32c: (buf: Uint8Array, start?: number, end?: number) => number = native.available ? native.crc32c : crc32cFallback;
