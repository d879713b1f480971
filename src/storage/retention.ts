/**
 * Which segments retention deletes (Kafka's UnifiedLog.deletableSegments rules), and the delayed deletion of
 * the files of removed segments (retention's and the cleaner's).
 */
import { unlinkIfExists } from './files.js';
import type { LogSegment } from './segment.js';
import type { LogConfig } from './types.js';

export interface RetentionContext {
  config: LogConfig;
  now: number;
  highWatermark: bigint;
  logEndOffset: bigint;
  logStartOffset: bigint;
}

/**
 * Number of oldest segments to delete. A segment qualifies only if all its offsets are below the high
 * watermark, and the last segment only if it is not empty (Kafka then rolls a new active segment first).
 * Rules, applied in turn to the remaining prefix: the log start offset (segments whose successor starts at or
 * below it; always), then with cleanup.policy=delete: retention.ms by the segment's largest timestamp, and
 * retention.bytes (delete while the log stays at or above the limit without the segment).
 */
export function selectSegmentsToDelete(segments: readonly LogSegment[], c: RetentionContext): number {
  const len = segments.length;
  const canDelete = (i: number): boolean => {
    const seg = segments[i] as LogSegment;
    const next = segments[i + 1];
    const upper = next ? next.baseOffset : c.logEndOffset;
    if (!next && seg.size === 0) return false;
    return c.highWatermark >= upper;
  };
  let n = 0;
  while (n < len - 1 && canDelete(n) && (segments[n + 1] as LogSegment).baseOffset <= c.logStartOffset) n++;
  if (!c.config.cleanupPolicy.delete) return n;
  const { retentionMs, retentionBytes } = c.config;
  if (retentionMs >= 0) {
    while (n < len && canDelete(n) && c.now - (segments[n] as LogSegment).largestTimestamp > retentionMs) n++;
  }
  if (retentionBytes >= 0) {
    let diff = -retentionBytes;
    for (let i = n; i < len; i++) diff += (segments[i] as LogSegment).size;
    while (n < len && canDelete(n) && diff - (segments[n] as LogSegment).size >= 0) {
      diff -= (segments[n] as LogSegment).size;
      n++;
    }
  }
  return n;
}

/**
 * Files of removed segments (renamed `.deleted`), kept for file.delete.delay.ms so that readers holding them
 * finish; the open after a crash deletes leftovers.
 */
export class DelayedDeletes {
  private pending: { files: string[]; at: number }[] = [];

  /** Deletes `files` by the first `removeExpired` at or after `at`. */
  schedule(files: string[], at: number): void {
    this.pending.push({ files, at });
  }

  removeExpired(now: number): void {
    if (this.pending.length === 0) return;
    const keep: { files: string[]; at: number }[] = [];
    for (const p of this.pending) {
      if (p.at <= now) for (const f of p.files) unlinkIfExists(f);
      else keep.push(p);
    }
    this.pending = keep;
  }

  /** Deletes every scheduled file now (close). */
  removeAll(): void {
    for (const p of this.pending) for (const f of p.files) unlinkIfExists(f);
    this.pending = [];
  }
}
