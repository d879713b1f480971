// CRC-32C (Castagnoli), hardware accelerated through @node-rs/crc32 (a prebuilt N-API addon).
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC-32C of `buf`, as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array): number {
  return nativeCrc32c(buf as Buffer) >>> 0;
}
