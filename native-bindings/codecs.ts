/**
 * Typed thin wrappers over the compression codecs Kafka uses. These speak raw codec formats and throw
 * whatever the underlying library throws; Kafka framing (xerial snappy, LZ4 frame walking), output bounds
 * and typed errors live in src/record/compression.ts.
 *
 * - gzip: node:zlib
 * - snappy: @napi-rs/snappy (raw snappy blocks)
 * - lz4: lz4-napi (LZ4 frame format and size-prepended raw blocks, backed by lz4_flex)
 * - zstd: zstd-napi's low-level binding (so decompression can be bounded; its high-level decompress trusts
 *   the frame's declared content size for its allocation)
 */
import { gunzipSync, gzipSync } from 'node:zlib';
// CommonJS addons: their named exports are not all visible to ESM, so take module.exports whole.
import snappy from '@napi-rs/snappy';
import lz4 from 'lz4-napi';
import zstd from 'zstd-napi/binding.js';

// ---------------------------------------------------------------------------------------------------------
// gzip

/** A standard (single member) gzip stream. `level` 1..9, default 6 like Java's Deflater. */
export function gzipCompress(data: Uint8Array, level = 6): Buffer {
  return gzipSync(data, { level });
}

/**
 * Inflates a gzip stream, including concatenated members. zlib stops as soon as the output would exceed
 * `maxOutputBytes` (it throws a RangeError then), so a bomb never allocates more than that.
 */
export function gzipDecompress(data: Uint8Array, maxOutputBytes: number): Buffer {
  return gunzipSync(data, { maxOutputLength: Math.max(1, maxOutputBytes) });
}

// ---------------------------------------------------------------------------------------------------------
// snappy

/** One raw snappy block (no framing); it starts with the uncompressed length as an unsigned varint. */
export function snappyCompressBlock(data: Uint8Array): Buffer {
  return snappy.compressSync(data);
}

/** Decompresses one raw snappy block; allocates the length its preamble declares (check it first). */
export function snappyDecompressBlock(block: Uint8Array): Buffer {
  return snappy.uncompressSync(toBuffer(block));
}

// ---------------------------------------------------------------------------------------------------------
// lz4

/** Checksum options of an LZ4 frame written by `lz4CompressFrame`. */
export interface Lz4FrameOptions {
  contentChecksum?: boolean;
  blockChecksums?: boolean;
}

/** One LZ4 frame with independent blocks, no content size (what Kafka's Java client writes for magic 2). */
export function lz4CompressFrame(data: Uint8Array, options: Lz4FrameOptions = {}): Buffer {
  return lz4.compressFrameSync(toBuffer(data), options);
}

/**
 * Decodes LZ4 frames (concatenated frames too) in one native call. Unbounded: callers must bound the
 * output from the frame structure first. lz4_flex verifies header, block and content checksums.
 */
export function lz4DecompressFrame(data: Uint8Array): Buffer {
  return lz4.decompressFrameSync(toBuffer(data));
}

/**
 * Decodes one raw LZ4 block (the payload of one frame block) into at most `maxSize` bytes; throws when it
 * would need more. Used to decode a frame block by block when its total size must be bounded exactly.
 */
export function lz4DecompressBlock(block: Uint8Array, maxSize: number): Buffer {
  // lz4-napi's raw API is lz4_flex's size-prepended format: a u32 LE capacity, then the block.
  const framed = Buffer.allocUnsafe(4 + block.length);
  framed.writeUInt32LE(maxSize, 0);
  framed.set(block, 4);
  return lz4.uncompressSync(framed);
}

// ---------------------------------------------------------------------------------------------------------
// zstd

/** Largest zstd window (log2) accepted while decoding: 2^27 = 128 MiB, zstd's own default limit. */
export const ZSTD_WINDOW_LOG_MAX = 27;

let cctx: zstd.CCtx | undefined;
let dctx: zstd.DCtx | undefined;

/** One zstd frame with its content size recorded. `level` defaults to 3 like zstd and Kafka. */
export function zstdCompress(data: Uint8Array, level = 3): Buffer {
  cctx ??= new zstd.CCtx();
  const out = Buffer.allocUnsafe(zstd.compressBound(data.length));
  const n = cctx.compress(out, data, level);
  return out.subarray(0, n);
}

/**
 * Streams zstd frames (concatenated frames and frames without a content size too) into at most
 * `maxOutputBytes` bytes. Throws ZstdOutputLimitError when the content is larger, and a plain Error for a
 * corrupt or truncated stream. Never allocates more than `maxOutputBytes + 1` bytes of output.
 */
export function zstdDecompress(data: Uint8Array, maxOutputBytes: number): Buffer {
  if (!dctx) {
    dctx = new zstd.DCtx();
    dctx.setParameter(zstd.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
  } else {
    dctx.reset(zstd.ResetDirective.sessionOnly);
  }
  const cap = maxOutputBytes + 1; // one spare byte tells "exactly at the limit" from "over it"
  let outLen = Math.min(cap, initialZstdCapacity(data));
  let out = Buffer.allocUnsafe(outLen);
  let outPos = 0;
  let inPos = 0;
  let frameDone = false;
  for (;;) {
    const [hint, produced, consumed] = dctx.decompressStream(out.subarray(outPos), data.subarray(inPos));
    outPos += produced;
    inPos += consumed;
    frameDone = hint === 0;
    if (outPos > maxOutputBytes) throw new ZstdOutputLimitError(maxOutputBytes);
    if (inPos >= data.length && frameDone) break;
    if (outPos === outLen) {
      if (outLen >= cap) throw new ZstdOutputLimitError(maxOutputBytes);
      outLen = Math.min(cap, Math.max(outLen * 2, 64 * 1024));
      const bigger = Buffer.allocUnsafe(outLen);
      bigger.set(out.subarray(0, outPos));
      out = bigger;
    } else if (produced === 0 && consumed === 0) {
      // Output space left and nothing consumed: the input ended inside a frame.
      throw new Error('truncated zstd stream');
    }
  }
  return out.subarray(0, outPos);
}

/**
 * First output buffer size: a single frame's declared content size (not trusted beyond a generous ratio of
 * the input, so a lying header cannot make us reserve the whole limit), else a guess; the loop grows it.
 */
function initialZstdCapacity(data: Uint8Array): number {
  const guess = Math.max(64 * 1024, data.length * 4);
  try {
    const declared = zstd.getFrameContentSize(data);
    if (declared !== null && zstd.findFrameCompressedSize(data) === data.length) {
      return Math.max(1, Math.min(declared, Math.max(1024 * 1024, data.length * 256)));
    }
  } catch {
    // A header that does not parse fails again, with its real message, in decompressStream.
  }
  return guess;
}

export class ZstdOutputLimitError extends Error {
  constructor(readonly maxOutputBytes: number) {
    super(`zstd content exceeds ${maxOutputBytes} bytes`);
    this.name = 'ZstdOutputLimitError';
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
