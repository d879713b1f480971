/**
 * The compression codecs of RecordBatch v2, with Kafka's framing and bounded, typed decompression.
 *
 * Formats written (what Kafka's Java client writes, so every Kafka client can read them):
 * - gzip: one gzip member (read: any number of members);
 * - snappy: snappy-java's "xerial" stream: 16-byte header, then [int32 BE length][raw snappy block]...
 *   (read: xerial framing or one plain raw snappy block, as librdkafka and some JS clients send);
 * - lz4: the standard LZ4 frame format, independent blocks, no content size or checksums (read: any frame
 *   options, concatenated and skippable frames);
 * - zstd: one standard frame (read: any frames, with or without the content-size field).
 *
 * Every decompression is bounded by `maxOutputBytes`; corrupt input and over-large output are
 * CorruptRecordError, and codec ids 5..7 are SluiceError('UNSUPPORTED_COMPRESSION').
 */
import { CorruptRecordError, SluiceError } from '../errors.js';
import { CompressionType } from './batch-header.js';
import {
  gzipCompress,
  gzipDecompress,
  lz4CompressFrame,
  lz4DecompressFrame,
  snappyCompressBlock,
  snappyDecompressBlock,
  zstdCompress,
  zstdDecompress,
  ZstdOutputLimitError,
} from '../../native-bindings/codecs.js';

/** Default bound on the decompressed records of one batch: 256 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

const CODEC_NAMES: Readonly<Record<number, string>> = {
  [CompressionType.None]: 'none',
  [CompressionType.Gzip]: 'gzip',
  [CompressionType.Snappy]: 'snappy',
  [CompressionType.Lz4]: 'lz4',
  [CompressionType.Zstd]: 'zstd',
};

/** Kafka's name for a codec id ('none', 'gzip', 'snappy', 'lz4', 'zstd'). */
export function compressionName(type: CompressionType): string {
  return CODEC_NAMES[type] ?? `unknown(${type})`;
}

/** The codec id for a Kafka `compression.type` name (case-insensitive). */
export function compressionTypeFromName(name: string): CompressionType {
  const n = name.toLowerCase();
  for (const [id, codecName] of Object.entries(CODEC_NAMES)) if (codecName === n) return Number(id) as CompressionType;
  throw new SluiceError('UNSUPPORTED_COMPRESSION', `unknown compression type '${name}'`);
}

function unsupported(type: number): SluiceError {
  return new SluiceError('UNSUPPORTED_COMPRESSION', `unsupported compression codec id ${type}`);
}

// ---------------------------------------------------------------------------------------------------------
// compress

/** Compresses a records section with codec `type`. `level` applies to gzip (1..9) and zstd (-131072..22). */
export function compress(type: CompressionType, data: Buffer, level?: number): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      if (level !== undefined && !(Number.isInteger(level) && level >= 1 && level <= 9)) {
        throw new SluiceError('INVALID_ARGUMENT', `gzip compression level must be 1..9, got ${level}`);
      }
      return gzipCompress(data, level);
    case CompressionType.Snappy:
      return snappyXerialCompress(data);
    case CompressionType.Lz4:
      return lz4CompressFrame(data);
    case CompressionType.Zstd:
      if (level !== undefined && !(Number.isInteger(level) && level >= -131072 && level <= 22)) {
        throw new SluiceError('INVALID_ARGUMENT', `zstd compression level must be -131072..22, got ${level}`);
      }
      return zstdCompress(data, level);
    default:
      throw unsupported(type);
  }
}

// ---------------------------------------------------------------------------------------------------------
// decompress

/**
 * Decompresses a records section. Output larger than `maxOutputBytes`, truncated or corrupt streams are a
 * CorruptRecordError; codec ids outside 0..4 are SluiceError('UNSUPPORTED_COMPRESSION'). `scratch`, for a
 * caller that only reads the result before its next call: lz4 output that fits is written there (the result
 * then aliases it), sparing an allocation and its page faults per batch.
 */
export function decompress(type: CompressionType, data: Buffer, maxOutputBytes = DEFAULT_MAX_DECOMPRESSED_BYTES, scratch?: Buffer): Buffer {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new SluiceError('INVALID_ARGUMENT', `maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`);
  }
  if (type === CompressionType.None) {
    if (data.length > maxOutputBytes) throw tooLarge('none', maxOutputBytes);
    return data;
  }
  if (!(type in CODEC_NAMES)) throw unsupported(type);
  const name = CODEC_NAMES[type]!;
  let out: Buffer;
  try {
    switch (type) {
      case CompressionType.Gzip:
        out = gzipDecompress(data, maxOutputBytes);
        break;
      case CompressionType.Snappy:
        out = snappyDecompress(data, maxOutputBytes);
        break;
      case CompressionType.Lz4:
        out = lz4Decompress(data, maxOutputBytes, scratch);
        break;
      default:
        out = zstdDecompress(data, maxOutputBytes);
        break;
    }
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    if (e instanceof ZstdOutputLimitError || (e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(name, maxOutputBytes);
    }
    throw new CorruptRecordError(`${name} decompression failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out.length > maxOutputBytes) throw tooLarge(name, maxOutputBytes);
  return out;
}

function tooLarge(name: string, max: number): CorruptRecordError {
  return new CorruptRecordError(`${name} records decompress to more than the ${max}-byte limit`);
}

// ---------------------------------------------------------------------------------------------------------
// snappy (xerial framing)

/** snappy-java's stream header: magic 0x82 "SNAPPY" 0x00, version 1, minimum compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = Buffer.from([...XERIAL_MAGIC, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size, which Kafka's producer uses. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function snappyXerialCompress(data: Buffer): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER];
  let total = XERIAL_HEADER_SIZE;
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_SIZE) {
    const block = snappyCompressBlock(data.subarray(pos, Math.min(data.length, pos + XERIAL_BLOCK_SIZE)));
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
    total += 4 + block.length;
  }
  return Buffer.concat(parts, total);
}

function isXerial(data: Buffer, pos: number): boolean {
  return data.length - pos >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, pos, pos + XERIAL_MAGIC.length) === 0;
}

/** The uncompressed length a raw snappy block declares in its varint preamble, or -1 if unreadable. */
function snappyDeclaredLength(block: Buffer): number {
  let result = 0;
  for (let i = 0, mul = 1; i < 5 && i < block.length; i++, mul *= 128) {
    const b = block[i]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
  }
  return -1;
}

/** Decodes one raw block of at most `budget` bytes (of the `max`-byte limit). */
function snappyBlock(block: Buffer, budget: number, max: number, at: number): Buffer {
  const declared = snappyDeclaredLength(block);
  if (declared < 0) throw new CorruptRecordError('snappy block has an invalid length preamble', at);
  // The codec allocates what the preamble says, so the preamble is checked against the budget first.
  if (declared > budget) throw tooLarge('snappy', max);
  return snappyDecompressBlock(block);
}

function snappyDecompress(data: Buffer, max: number): Buffer {
  if (!isXerial(data, 0)) return snappyBlock(data, max, max, 0);
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = 0;
  while (pos < data.length) {
    // snappy-java reads concatenated streams, each with its own header.
    if (isXerial(data, pos)) {
      if (data.length - pos < XERIAL_HEADER_SIZE) throw new CorruptRecordError('truncated xerial snappy header', pos);
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (data.length - pos < 4) throw new CorruptRecordError('truncated xerial snappy block length', pos);
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > data.length - pos) {
      throw new CorruptRecordError(`xerial snappy block length ${len} exceeds the ${data.length - pos} bytes left`, pos - 4);
    }
    const block = snappyBlock(data.subarray(pos, pos + len), max - total, max, pos);
    total += block.length;
    if (total > max) throw tooLarge('snappy', max);
    blocks.push(block);
    pos += len;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

// ---------------------------------------------------------------------------------------------------------
// lz4 (frame format)

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50; // ..0x184d2a5f
const LZ4_LEGACY_MAGIC = 0x184c2102;
const LZ4_BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/** One data block of an LZ4 frame, located by `walkLz4Frames`. */
interface Lz4Block {
  start: number;
  end: number;
  compressed: boolean;
  maxSize: number;
}

/** One LZ4 frame: its blocks are `blocks[firstBlock..endBlock)`; contentSize is -1n when not declared. */
interface Lz4Frame {
  firstBlock: number;
  endBlock: number;
  contentSize: bigint;
}

interface Lz4Layout {
  blocks: Lz4Block[];
  frames: Lz4Frame[];
  /** Most bytes the frames can decode to: block max size per compressed block, exact size otherwise. */
  bound: number;
  linked: boolean;
}

/**
 * Checks the structure of LZ4 frames without decoding them (the native frame decoder accepts truncated
 * input and has no output bound) and computes an upper bound of the decoded size.
 */
function walkLz4Frames(data: Buffer): Lz4Layout {
  const blocks: Lz4Block[] = [];
  const frames: Lz4Frame[] = [];
  let bound = 0;
  let linked = false;
  let pos = 0;
  if (data.length === 0) throw new CorruptRecordError('empty lz4 stream');
  while (pos < data.length) {
    if (data.length - pos < 4) throw new CorruptRecordError('truncated lz4 frame magic', pos);
    const magic = data.readUInt32LE(pos);
    if ((magic & 0xfffffff0) === LZ4_SKIPPABLE_MAGIC) {
      if (data.length - pos < 8) throw new CorruptRecordError('truncated lz4 skippable frame', pos);
      const size = data.readUInt32LE(pos + 4);
      if (size > data.length - pos - 8) throw new CorruptRecordError('truncated lz4 skippable frame', pos);
      pos += 8 + size;
      continue;
    }
    if (magic === LZ4_LEGACY_MAGIC) throw new CorruptRecordError('legacy lz4 frames are not supported', pos);
    if (magic !== LZ4_FRAME_MAGIC) throw new CorruptRecordError(`bad lz4 frame magic 0x${magic.toString(16)}`, pos);
    const frameStart = pos;
    if (data.length - pos < 7) throw new CorruptRecordError('truncated lz4 frame descriptor', pos);
    const flg = data[pos + 4]!;
    const bd = data[pos + 5]!;
    if (flg >> 6 !== 1) throw new CorruptRecordError(`unsupported lz4 frame version ${flg >> 6}`, pos + 4);
    if (flg & 0x02 || bd & 0x8f) throw new CorruptRecordError('lz4 frame descriptor has reserved bits set', pos + 4);
    const maxSize = LZ4_BLOCK_MAX_SIZES[(bd >> 4) & 0x07];
    if (maxSize === undefined) throw new CorruptRecordError(`bad lz4 block max size id ${(bd >> 4) & 0x07}`, pos + 5);
    const independent = (flg & 0x20) !== 0;
    const blockChecksums = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    if (!independent) linked = true;
    const descriptorSize = 2 + (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0) + 1;
    if (data.length - pos - 4 < descriptorSize) throw new CorruptRecordError('truncated lz4 frame descriptor', pos);
    const contentSize = hasContentSize ? data.readBigUInt64LE(pos + 6) : -1n;
    pos += 4 + descriptorSize;
    const frameBoundStart = bound;
    const firstBlock = blocks.length;
    for (;;) {
      if (data.length - pos < 4) throw new CorruptRecordError('truncated lz4 frame: missing end mark', pos);
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const compressed = (word & 0x80000000) === 0;
      const size = word & 0x7fffffff;
      if (size > maxSize) throw new CorruptRecordError(`lz4 block of ${size} bytes exceeds the frame's ${maxSize}-byte blocks`, pos - 4);
      if (size + (blockChecksums ? 4 : 0) > data.length - pos) throw new CorruptRecordError('truncated lz4 block', pos - 4);
      blocks.push({ start: pos, end: pos + size, compressed, maxSize });
      bound += compressed ? maxSize : size;
      pos += size + (blockChecksums ? 4 : 0);
    }
    if (contentChecksum) {
      if (data.length - pos < 4) throw new CorruptRecordError('truncated lz4 content checksum', pos);
      pos += 4;
    }
    // Content can never exceed the blocks' capacity; a larger claim is corrupt and must not reach a
    // decoder that might reserve memory for it.
    if (contentSize > BigInt(bound - frameBoundStart)) {
      throw new CorruptRecordError(`lz4 frame declares ${contentSize} content bytes, more than its blocks hold`, frameStart);
    }
    frames.push({ firstBlock, endBlock: blocks.length, contentSize });
  }
  return { blocks, frames, bound, linked };
}

function lz4Decompress(data: Buffer, max: number, scratch: Buffer | undefined): Buffer {
  const layout = walkLz4Frames(data);
  if (layout.linked) {
    // Linked blocks reference earlier blocks, so only the whole-frame decoder can handle them; it has no
    // output bound, hence the structural bound must already be within the limit.
    if (layout.bound > max) {
      throw new CorruptRecordError(`lz4 frame with linked blocks may decode to ${layout.bound} bytes, over the ${max}-byte limit`);
    }
    return lz4DecompressFrame(data);
  }
  // Independent blocks (what Kafka clients write) are decoded one by one, in JS, straight into one output
  // buffer: the size is bounded exactly, and it measured ~4x faster per byte than lz4-napi's block decoder,
  // which allocates (and zero-fills) each block's declared maximum, up to 4 MiB. Checksums are not verified on
  // this path; the batch CRC already covers these bytes.
  let room = 0;
  for (const b of layout.blocks) room += b.compressed ? lz4BlockCapacity(b) : b.end - b.start;
  const size = Math.min(room, max);
  // The scratch buffer is tried even when smaller than the worst case (4 MiB blocks declare far more room than
  // they use); running out of it starts over in a buffer of the full bound.
  if (scratch !== undefined && scratch.length > 0) {
    const fit = scratch.length >= size;
    try {
      return lz4DecodeFrames(data, layout, fit ? scratch.subarray(0, size) : scratch, max, !fit);
    } catch (e) {
      if (e !== OUT_OF_SCRATCH) throw e;
    }
  }
  const out = lz4DecodeFrames(data, layout, Buffer.allocUnsafe(size), max, false);
  // Keep no more memory alive than the records need (decoded values are views of this buffer).
  return out.length < size / 2 ? Buffer.from(out) : out;
}

/** Thrown (not an Error: no stack to capture) when output outgrows a scratch buffer smaller than the bound. */
const OUT_OF_SCRATCH = Symbol('lz4 output outgrew the scratch buffer');

function lz4DecodeFrames(data: Buffer, layout: Lz4Layout, out: Buffer, max: number, scratchOnly: boolean): Buffer {
  let total = 0;
  for (const frame of layout.frames) {
    const frameStart = total;
    for (let i = frame.firstBlock; i < frame.endBlock; i++) {
      const b = layout.blocks[i]!;
      if (b.compressed) {
        total = lz4DecodeBlock(data, b.start, b.end, out, total, Math.min(out.length, total + b.maxSize), scratchOnly ? -1 : max);
      } else {
        if (b.end - b.start > out.length - total) {
          if (scratchOnly) throw OUT_OF_SCRATCH;
          throw tooLarge('lz4', max);
        }
        total += data.copy(out, total, b.start, b.end);
      }
    }
    if (frame.contentSize >= 0n && BigInt(total - frameStart) !== frame.contentSize) {
      throw new CorruptRecordError(`lz4 frame declares ${frame.contentSize} content bytes but holds ${total - frameStart}`);
    }
  }
  return out.subarray(0, total);
}

/**
 * Decodes one LZ4 block (src[start..end)) into out[pos..limit) and returns the new end. Every length and
 * match offset is checked: corrupt input is CorruptRecordError, and so is output past `limit` (reported as
 * over the `max`-byte bound when that bound is what `limit` is; `max` -1 means `out` is a scratch buffer
 * smaller than the bound, whose end throws OUT_OF_SCRATCH).
 */
function lz4DecodeBlock(src: Buffer, start: number, end: number, out: Buffer, pos: number, limit: number, max: number): number {
  const blockStart = pos;
  let s = start;
  const corrupt = (what: string): never => {
    throw new CorruptRecordError(`lz4 block: ${what}`, s);
  };
  const overflow = (): never => {
    // Out of room: a scratch buffer's end (max -1: start over), the caller's bound when that is what ends the
    // buffer, else past what the block may hold.
    if (limit === out.length && max < 0) throw OUT_OF_SCRATCH;
    throw limit === out.length && out.length === max ? tooLarge('lz4', max) : corrupt('decodes past its block size');
  };
  while (s < end) {
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= end) corrupt('truncated literal length');
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > end - s) corrupt('literals run past the block');
    if (lit > limit - pos) overflow();
    if (lit < 16) for (let i = 0; i < lit; i++) out[pos + i] = src[s + i]!;
    else src.copy(out, pos, s, s + lit);
    s += lit;
    pos += lit;
    if (s === end) break; // the last sequence has literals only
    if (end - s < 2) corrupt('truncated match offset');
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > pos - blockStart) corrupt(`match offset ${offset} points before the block`);
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= end) corrupt('truncated match length');
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    if (len > limit - pos) overflow();
    let from = pos - offset;
    if (offset >= len) {
      out.copyWithin(pos, from, from + len);
      pos += len;
    } else if (offset >= 16) {
      // Overlapping match: copy in offset-sized steps, each reading bytes already written.
      const stop = pos + len;
      while (pos < stop) {
        const n = Math.min(offset, stop - pos);
        out.copyWithin(pos, from, from + n);
        pos += n;
        from += n;
      }
    } else {
      const stop = pos + len;
      while (pos < stop) out[pos++] = out[from++]!;
    }
  }
  return pos;
}

/**
 * Output room for one compressed block: its declared maximum, but no more than LZ4's worst-case ratio allows
 * (under 255:1, each extra match-length byte adds at most 255 bytes), so a small block in a 4 MiB-block frame
 * does not reserve 4 MiB.
 */
function lz4BlockCapacity(b: Lz4Block): number {
  return Math.min(b.maxSize, (b.end - b.start) * 256 + 1024);
}
