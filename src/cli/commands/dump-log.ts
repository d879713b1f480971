/**
 * `sluice dump-log PATH`: offline inspection of segment files (.log, .index, .timeindex). Unlike the other
 * commands it reads files directly and needs no broker. Reads go through a window so a preallocated
 * (sparse, up to segment.bytes) active segment is not loaded whole; the zero tail ends the scan.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandDef } from '../command.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CompressionType,
  LOG_OVERHEAD,
  TimestampType,
  compressionOf,
  computeBatchCrc,
  isControl,
  isTransactional,
  readBatchHeader,
  timestampTypeOf,
} from '../../record/batch-header.js';
import { decodeBatch } from '../../record/batch.js';
import { compressionName } from '../../record/compression.js';
import { bool, int, onePositional } from './common.js';

/** One batch of a .log file, as the scan saw it. */
export interface ScannedBatch {
  position: number;
  size: number;
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  /** Record count from the header. */
  count: number;
  crcValid: boolean;
}

/** Something wrong in a segment file: the byte it starts at (in that file) and what it is. */
export interface FileProblem {
  position: number;
  message: string;
}

/** Windowed positional reads over a file. */
class FileWindow {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** `len` bytes at `pos` (fewer at the end of the file). The result is valid until the next call. */
  read(pos: number, len: number): Buffer {
    const end = Math.min(this.size, pos + len);
    if (pos >= this.start && end <= this.start + this.buf.length) return this.buf.subarray(pos - this.start, end - this.start);
    const want = Math.max(end - pos, 4 * 1024 * 1024);
    const n = Math.min(want, this.size - pos);
    const b = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = fs.readSync(this.fd, b, got, n - got, pos + got);
      if (r === 0) break;
      got += r;
    }
    this.buf = b.subarray(0, got);
    this.start = pos;
    return this.buf.subarray(0, Math.min(got, end - pos));
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function openFile(file: string): { fd: number; size: number } {
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    return { fd: fs.openSync(file, 'r'), size: st.size };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory (`sluice verify` checks a whole data directory)' : err.message;
    throw new Error(`cannot read ${file}: ${why}`);
  }
}

const CONTROL_TYPES: Readonly<Record<number, string>> = { 0: 'ABORT', 1: 'COMMIT' };

function preview(b: Buffer | null, max: number): string {
  if (b === null) return 'null';
  const s = b.toString('utf8');
  const printable = s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > max ? `${printable.slice(0, max)}... (${b.length} bytes)` : printable;
}

/**
 * Scans a .log file's batches, calling `onBatch` for each. Stops at the zero tail of a preallocated file,
 * a truncated batch, or a structurally impossible length. Returns the batches and problems found.
 */
export function scanLog(
  file: string,
  onBatch?: (line: string, batch: ScannedBatch, bytes: Buffer) => void,
): { batches: ScannedBatch[]; problems: FileProblem[]; validBytes: number; fileSize: number; tail: string } {
  const { fd, size } = openFile(file);
  const win = new FileWindow(fd, size);
  const batches: ScannedBatch[] = [];
  const problems: FileProblem[] = [];
  let pos = 0;
  let tail = 'end of file';
  let prevLast = -1n;
  try {
    while (pos < size) {
      const head = win.read(pos, BATCH_HEADER_SIZE);
      if (head.length < BATCH_HEADER_SIZE) {
        if (isZero(head)) tail = `zero bytes from position ${pos} (preallocated, unwritten)`;
        else {
          tail = `truncated batch header at position ${pos}`;
          problems.push({ position: pos, message: `${head.length} trailing bytes, too short for a batch header` });
        }
        break;
      }
      if (isZero(head)) {
        tail = `zero bytes from position ${pos} (preallocated, unwritten)`;
        break;
      }
      const batchLength = head.readInt32BE(BATCH_LENGTH_OFFSET);
      const total = batchLength + LOG_OVERHEAD;
      if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
        problems.push({ position: pos, message: `batch length ${batchLength} is smaller than a batch header; stopping` });
        tail = `invalid batch at position ${pos}`;
        break;
      }
      if (pos + total > size) {
        problems.push({ position: pos, message: `batch of ${total} bytes runs past the end of the file (${size - pos} bytes left)` });
        tail = `truncated batch at position ${pos}`;
        break;
      }
      const bytes = Buffer.from(win.read(pos, total));
      const h = readBatchHeader(bytes, 0);
      const crcValid = h.magic === 2 && computeBatchCrc(bytes, 0, total) === h.crc;
      const lastOffset = h.baseOffset + BigInt(h.lastOffsetDelta);
      const b: ScannedBatch = { position: pos, size: total, baseOffset: h.baseOffset, lastOffset, maxTimestamp: h.maxTimestamp, count: h.recordCount, crcValid };
      if (h.magic !== 2) problems.push({ position: pos, message: `magic ${h.magic} (only v2 batches are written by Sluice)` });
      else if (!crcValid) problems.push({ position: pos, message: `CRC mismatch (stored ${h.crc}, computed ${computeBatchCrc(bytes, 0, total)})` });
      if (h.baseOffset <= prevLast) problems.push({ position: pos, message: `base offset ${h.baseOffset} does not follow the previous batch's last offset ${prevLast}` });
      prevLast = lastOffset;
      batches.push(b);
      if (onBatch) {
        const attrs = bytes.readInt16BE(ATTRIBUTES_OFFSET);
        const tsType = timestampTypeOf(attrs) === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime';
        const lastSeq = h.baseSequence < 0 ? -1 : (h.baseSequence + h.lastOffsetDelta) % 0x80000000;
        const codec = compressionOf(attrs);
        const line =
          `baseOffset: ${h.baseOffset} lastOffset: ${lastOffset} count: ${h.recordCount} position: ${pos} size: ${total} ` +
          `${tsType}: ${h.maxTimestamp} baseTimestamp: ${h.baseTimestamp} producerId: ${h.producerId} producerEpoch: ${h.producerEpoch} ` +
          `baseSequence: ${h.baseSequence} lastSequence: ${lastSeq} partitionLeaderEpoch: ${h.partitionLeaderEpoch} ` +
          `compresscodec: ${codec <= CompressionType.Zstd ? compressionName(codec) : `unknown(${codec})`} isTransactional: ${isTransactional(attrs)} ` +
          `isControl: ${isControl(attrs)} magic: ${h.magic} crc: ${h.crc} isvalid: ${crcValid}`;
        onBatch(line, b, bytes);
      }
      pos += total;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { batches, problems, validBytes: pos, fileSize: size, tail };
}

function deepLines(bytes: Buffer, maxChars: number): string[] {
  const out: string[] = [];
  try {
    const d = decodeBatch(bytes, 0);
    const tsType = d.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime';
    for (const [i, r] of d.records.entries()) {
      const seq = d.baseSequence < 0 ? -1 : d.baseSequence + Number(r.offset - d.baseOffset);
      let extra = '';
      if (d.control && r.key && r.key.length >= 4) extra = ` controlType: ${CONTROL_TYPES[r.key.readInt16BE(2)] ?? `unknown(${r.key.readInt16BE(2)})`}`;
      const headers = r.headers.map((h) => `${h.key}=${preview(h.value, 40)}`).join(',');
      out.push(
        `| offset: ${r.offset} ${tsType}: ${r.timestamp} keySize: ${r.key?.length ?? -1} valueSize: ${r.value?.length ?? -1} sequence: ${seq}` +
          ` headerKeys: [${r.headers.map((h) => h.key).join(',')}]${extra} key: ${preview(r.key, maxChars)} payload: ${preview(r.value, maxChars)}` +
          (headers ? ` headers: ${headers}` : ''),
      );
      if (i > 1_000_000) break;
    }
  } catch (e) {
    out.push(`| cannot decode records: ${(e as Error).message}`);
  }
  return out;
}

export interface IndexEntry {
  offset: bigint;
  /** .index: file position; .timeindex: timestamp. */
  value: bigint;
}

/** Base offset from a segment file name (20 digits), or null. */
function baseOffsetOf(file: string): bigint | null {
  const m = /^(\d{20})\.[a-z]+$/.exec(path.basename(file));
  return m ? BigInt(m[1]!) : null;
}

export function readIndex(file: string, kind: 'offset' | 'time'): { entries: IndexEntry[]; problems: FileProblem[]; fileSize: number; zeroFirst: boolean; base: bigint } {
  const entrySize = kind === 'offset' ? 8 : 12;
  const { fd, size } = openFile(file);
  const win = new FileWindow(fd, size);
  const base = baseOffsetOf(file);
  const problems: FileProblem[] = [];
  if (base === null) problems.push({ position: 0, message: `file name is not <20-digit base offset>${path.extname(file)}; offsets shown are relative` });
  const entries: IndexEntry[] = [];
  let zeroFirst = false;
  try {
    if (size % entrySize !== 0) problems.push({ position: size - (size % entrySize), message: `size ${size} is not a multiple of the entry size ${entrySize}` });
    for (let i = 0; (i + 1) * entrySize <= size; i++) {
      const e = win.read(i * entrySize, entrySize);
      // the preallocated tail is zeros. An all-zero first entry (offset base, position 0) is ambiguous: the
      // caller keeps it only when the log's first batch is a one-offset batch at position 0.
      if (isZero(e)) {
        zeroFirst = i === 0;
        break;
      }
      if (kind === 'offset') entries.push({ offset: (base ?? 0n) + BigInt(e.readInt32BE(0)), value: BigInt(e.readInt32BE(4)) });
      else entries.push({ offset: (base ?? 0n) + BigInt(e.readInt32BE(8)), value: e.readBigInt64BE(0) });
    }
  } finally {
    fs.closeSync(fd);
  }
  return { entries, problems, fileSize: size, zeroFirst: zeroFirst && kind === 'offset', base: base ?? 0n };
}

/** Checks index entries against the log's batches; a problem's position is its entry's byte in the index file. */
export function checkIndex(kind: 'offset' | 'time', entries: IndexEntry[], batches: ScannedBatch[] | null): FileProblem[] {
  const entrySize = kind === 'offset' ? 8 : 12;
  const problems: FileProblem[] = [];
  const add = (i: number, message: string): void => {
    problems.push({ position: i * entrySize, message: `entry ${i}: ${message}` });
  };
  const byPos = batches ? new Map(batches.map((b) => [b.position, b])) : null;
  // running max timestamp per batch, to check time entries (maxTimestampSoFar, offset)
  const maxSoFar: bigint[] = [];
  if (batches) {
    let m = -1n;
    for (const b of batches) {
      if (b.maxTimestamp > m) m = b.maxTimestamp;
      maxSoFar.push(m);
    }
  }
  const findBatch = (off: bigint): number => {
    if (!batches) return -1;
    let lo = 0;
    let hi = batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = batches[mid]!;
      if (off < b.baseOffset) hi = mid - 1;
      else if (off > b.lastOffset) lo = mid + 1;
      else return mid;
    }
    return -1;
  };
  let prev: IndexEntry | null = null;
  for (const [i, e] of entries.entries()) {
    if (prev) {
      if (kind === 'offset' && e.offset <= prev.offset) add(i, `offset ${e.offset} is not greater than the previous entry's ${prev.offset}`);
      if (kind === 'offset' && e.value <= prev.value) add(i, `position ${e.value} is not greater than the previous entry's ${prev.value}`);
      if (kind === 'time' && e.offset < prev.offset) add(i, `offset ${e.offset} is smaller than the previous entry's ${prev.offset}`);
      if (kind === 'time' && e.value < prev.value) add(i, `timestamp ${e.value} is smaller than the previous entry's ${prev.value}`);
    }
    prev = e;
    if (!batches) continue;
    if (kind === 'offset') {
      const b = byPos!.get(Number(e.value));
      if (!b) add(i, `position ${e.value} is not at a batch boundary of the log`);
      else if (e.offset < b.baseOffset || e.offset > b.lastOffset) add(i, `offset ${e.offset} but the batch at position ${e.value} holds offsets ${b.baseOffset}..${b.lastOffset}`);
    } else {
      const bi = findBatch(e.offset);
      if (bi < 0) add(i, `offset ${e.offset} is not in the log`);
      else if (maxSoFar[bi] !== e.value) add(i, `timestamp ${e.value} but the log's max timestamp up to offset ${e.offset} is ${maxSoFar[bi]}`);
    }
  }
  return problems;
}

export const dumpLogCommand: CommandDef = {
  name: 'dump-log',
  summary: 'Print the batches of a segment .log, or the entries of a .index/.timeindex, and check them (offline).',
  usage: 'sluice dump-log PATH [--deep] [--max-value-chars N]',
  details:
    'Reads segment files directly from disk (no broker needed; safe while one runs). For a .log: every batch\n' +
    'with base/last offset, record count, position, size, timestamp type and max timestamp, producer\n' +
    'id/epoch/sequence, codec, transactional/control flags and whether its CRC is valid; --deep also decodes\n' +
    'records (offset, key, value preview, headers). For .index/.timeindex: every entry, checked against the\n' +
    'sibling .log (entries at batch boundaries, offsets and positions increasing, timestamps matching).\n' +
    'Exits 1 when it finds a problem.',
  options: [
    { name: 'deep', type: 'boolean', description: 'Decode and print each record of a .log' },
    { name: 'max-value-chars', type: 'string', value: 'N', description: 'Truncate key/value previews to N characters', default: '80' },
  ],
  async run(ctx) {
    const file = onePositional(ctx, 'PATH');
    const deep = bool(ctx.values, 'deep');
    const maxChars = int(ctx.values, 'max-value-chars', { min: 1 }) ?? 80;
    const ext = path.extname(file);
    const out = ctx.stdout;
    out.write(`Dumping ${file}\n`);
    let problems: string[];
    const at = (p: FileProblem): string => `position ${p.position}: ${p.message}`;
    if (ext === '.index' || ext === '.timeindex') {
      const kind = ext === '.index' ? 'offset' : 'time';
      const idx = readIndex(file, kind);
      const sibling = file.slice(0, -ext.length) + '.log';
      let batches: ScannedBatch[] | null = null;
      problems = idx.problems.map((p) => p.message);
      if (fs.existsSync(sibling)) {
        const scan = scanLog(sibling);
        batches = scan.batches;
        const first = batches[0];
        if (idx.zeroFirst && first && first.position === 0 && first.lastOffset === idx.base) idx.entries.push({ offset: idx.base, value: 0n });
      } else {
        ctx.stderr.write(`note: no sibling ${path.basename(sibling)}: entries are not checked against the log\n`);
      }
      for (const e of idx.entries) out.write(kind === 'offset' ? `offset: ${e.offset} position: ${e.value}\n` : `timestamp: ${e.value} offset: ${e.offset}\n`);
      problems.push(...checkIndex(kind, idx.entries, batches).map((p) => p.message));
      out.write(`${idx.entries.length} entries (${idx.fileSize} bytes on disk)${batches ? `, checked against ${path.basename(sibling)} (${batches.length} batches)` : ''}\n`);
    } else {
      if (ext !== '.log') ctx.stderr.write(`note: ${path.basename(file)} has no .log/.index/.timeindex extension; reading it as a .log\n`);
      let records = 0;
      const scan = scanLog(file, (line, b, bytes) => {
        out.write(line + '\n');
        records += b.count;
        if (deep && b.crcValid) for (const l of deepLines(bytes, maxChars)) out.write(l + '\n');
      });
      problems = scan.problems.map(at);
      out.write(`${scan.batches.length} batches, ${records} records, ${scan.validBytes} bytes of batches in a ${scan.fileSize}-byte file; stopped at ${scan.tail}\n`);
    }
    if (problems.length === 0) {
      out.write('No problems found.\n');
      return 0;
    }
    for (const p of problems) ctx.stderr.write(`problem: ${p}\n`);
    ctx.stderr.write(`sluice dump-log: ${problems.length} problem(s) found in ${file}\n`);
    return 1;
  },
};
