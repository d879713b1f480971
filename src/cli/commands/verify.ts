/**
 * `sluice verify PATH`: an offline check of a whole data directory (or one partition directory): every
 * batch's structure and CRC, offsets increasing within and across segments, every .index/.timeindex entry
 * against its log. Read-only (files are opened for reading, nothing is locked), so it is safe while a broker
 * runs; a segment deleted meanwhile (retention, compaction) is skipped with a note.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandDef } from '../command.js';
import { CLEAN_SHUTDOWN_FILE, listSegmentBases, segmentFileName } from '../../storage/files.js';
import { checkIndex, readIndex, scanLog, type FileProblem } from './dump-log.js';
import { onePositional } from './common.js';

const MAX_RELATIVE_OFFSET = 0x7fffffffn;

interface PartitionCheck {
  /** `<file relative to PATH>: byte N: what` lines. */
  problems: string[];
  notes: string[];
  segments: number;
  batches: number;
  bytes: number;
}

function isMissing(e: unknown): boolean {
  return /no such file/.test(String((e as Error)?.message)) || (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Partition directories under `root`: root itself if it holds segments, else its `<topic>-<n>` children. */
function partitionDirs(root: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new Error(`cannot read ${root}: no such directory`);
  }
  if (!st.isDirectory()) throw new Error(`${root} is not a directory (give a data directory or a partition directory)`);
  if (listSegmentBases(root).length > 0) return [root];
  const children = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /-\d+$/.test(d.name))
    .map((d) => path.join(root, d.name))
    .sort();
  // an empty partition directory holds no segment yet
  return children.length === 0 && /-\d+$/.test(path.basename(path.resolve(root))) ? [root] : children;
}

function checkPartition(root: string, dir: string): PartitionCheck {
  const out: PartitionCheck = { problems: [], notes: [], segments: 0, batches: 0, bytes: 0 };
  const rel = (file: string): string => path.relative(root, file) || path.basename(file);
  const report = (file: string, p: FileProblem): void => {
    out.problems.push(`${rel(file)}: byte ${p.position}: ${p.message}`);
  };
  // Without the marker (a broker runs, or one crashed) the last segment may end in an append in progress or a
  // torn write: recovery cuts that, so it is a note, not a problem; index entries beyond it are not checked.
  const live = !fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE));
  const bases = listSegmentBases(dir);
  let prevLast = -1n;
  for (const [i, base] of bases.entries()) {
    const isLast = i === bases.length - 1;
    const logFile = path.join(dir, segmentFileName(base, '.log'));
    let scan: ReturnType<typeof scanLog>;
    try {
      scan = scanLog(logFile);
    } catch (e) {
      if (isMissing(e)) {
        out.notes.push(`${rel(logFile)}: deleted while checking (retention or compaction); skipped`);
        continue;
      }
      throw e;
    }
    out.segments++;
    out.batches += scan.batches.length;
    out.bytes += scan.validBytes;
    let batches = scan.batches;
    let problems = scan.problems;
    if (isLast && live && problems.length > 0) {
      // only problems in the last batch (nothing valid after them) can be a write in progress or a torn tail
      const lastGood = batches.filter((b) => b.crcValid).at(-1);
      const tailFrom = lastGood ? lastGood.position + lastGood.size : 0;
      const inTail = problems.filter((p) => p.position >= tailFrom);
      if (inTail.length === problems.length) {
        for (const p of inTail) out.notes.push(`${rel(logFile)}: byte ${p.position}: ${p.message} (a write in progress, or a torn tail the next start cuts)`);
        problems = [];
        batches = batches.filter((b) => b.position < tailFrom);
      }
    }
    for (const p of problems) report(logFile, p);
    for (const b of batches) {
      if (b.baseOffset < base) report(logFile, { position: b.position, message: `batch base offset ${b.baseOffset} is below the segment's base offset ${base}` });
      else if (b.lastOffset - base > MAX_RELATIVE_OFFSET) report(logFile, { position: b.position, message: `batch last offset ${b.lastOffset} overflows the segment's relative offsets` });
    }
    const first = batches[0];
    if (first && first.baseOffset <= prevLast) {
      report(logFile, { position: 0, message: `first batch base offset ${first.baseOffset} does not follow the previous segment's last offset ${prevLast}` });
    }
    if (batches.length) prevLast = batches.at(-1)!.lastOffset;
    const validEnd = batches.length ? batches.at(-1)!.position + batches.at(-1)!.size : 0;
    for (const kind of ['offset', 'time'] as const) {
      const file = path.join(dir, segmentFileName(base, kind === 'offset' ? '.index' : '.timeindex'));
      let idx: ReturnType<typeof readIndex>;
      try {
        idx = readIndex(file, kind);
      } catch (e) {
        if (!isMissing(e)) throw e;
        if (fs.existsSync(logFile)) report(file, { position: 0, message: 'missing (the next start rebuilds it from the log)' });
        continue;
      }
      const firstBatch = batches[0];
      // an all-zero first entry is a real one only for a one-offset first batch at position 0 (see dump-log)
      if (idx.zeroFirst && firstBatch && firstBatch.position === 0 && firstBatch.lastOffset === idx.base) idx.entries.push({ offset: idx.base, value: 0n });
      let entries = idx.entries;
      if (isLast && live) {
        // the owner indexes a batch just before writing it: entries may name bytes not written yet
        entries = entries.filter((e) => (kind === 'offset' ? e.value < BigInt(validEnd) : e.offset <= prevLast));
      }
      for (const p of idx.problems) report(file, p);
      for (const p of checkIndex(kind, entries, batches)) report(file, p);
    }
  }
  return out;
}

export const verifyCommand: CommandDef = {
  name: 'verify',
  summary: 'Check a whole data directory offline: every batch CRC, every index (read-only).',
  usage: 'sluice verify PATH',
  details:
    'PATH is a data directory (every <topic>-<partition> directory in it is checked) or one partition\n' +
    'directory. Every batch of every segment is read and checked (structure, CRC-32C, offsets increasing within\n' +
    'and across segments), and every .index/.timeindex entry against its log. Nothing is written or locked: it\n' +
    'is safe while a broker runs. Prints one line per problem, `<file>: byte <N>: <what>`, and exits 1 if there\n' +
    'is any, 0 if none. Without a clean-shutdown marker (a broker runs, or one crashed) an incomplete last\n' +
    'batch of the last segment is only a note: the next start cuts it. To start a broker on a directory with\n' +
    'corruption, `sluice start --on-corruption truncate` keeps the data before the first bad batch.',
  options: [],
  async run(ctx) {
    const root = onePositional(ctx, 'PATH');
    const out = ctx.stdout;
    const dirs = partitionDirs(root);
    let problems = 0;
    let segments = 0;
    let batches = 0;
    let bytes = 0;
    for (const dir of dirs) {
      const r = checkPartition(root, dir);
      for (const line of r.problems) out.write(`${line}\n`);
      for (const line of r.notes) out.write(`note: ${line}\n`);
      problems += r.problems.length;
      segments += r.segments;
      batches += r.batches;
      bytes += r.bytes;
    }
    const summary = `checked ${dirs.length} partition(s), ${segments} segment(s), ${batches} batches, ${bytes} bytes`;
    if (problems === 0) {
      out.write(`${summary}: no problems found.\n`);
      return 0;
    }
    ctx.stderr.write(`sluice verify: ${problems} problem(s) in ${summary}\n`);
    return 1;
  },
};
