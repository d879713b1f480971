/** Which segments retention deletes (Kafka's UnifiedLog.deletableSegments rules). */
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
