/** ListOffsets by timestamp over a log's segments: the time index narrows the scan, batch headers and records finish it. */
import { BATCH_HEADER_SIZE, TimestampType, timestampTypeOf } from '../record/batch-header.js';
import { decodeBatch } from '../record/batch.js';
import { lookupTimeIndexBelow } from './offset-index.js';
import type { LogSegment } from './segment.js';
import type { TimestampOffset } from './types.js';

/**
 * The first offset at or after `logStartOffset` whose record timestamp is >= `ts`, with that record's
 * timestamp; null if none. (-1/-2 sentinels are the caller's.)
 */
export function offsetForTimestamp(segments: readonly LogSegment[], logStartOffset: bigint, ts: bigint): TimestampOffset | null {
  for (const seg of segments) {
    if (seg.maxTimestamp < ts || seg.size === 0) continue;
    const ti = seg.timeIndex;
    const rel = ti.entries > 0 ? lookupTimeIndexBelow(ti.buffer(), ti.entries, ts) : -1;
    const startOffset = rel >= 0 ? seg.baseOffset + BigInt(rel) : seg.baseOffset;
    const view = seg.view();
    for (let pos = seg.positionOf(startOffset > logStartOffset ? startOffset : logStartOffset); pos + BATCH_HEADER_SIZE <= seg.size; ) {
      const b = seg.batchAt(pos, view);
      if (b.maxTimestamp >= ts && b.lastOffset >= logStartOffset) {
        const attrs = view.readInt16BE(pos + 21);
        if (timestampTypeOf(attrs) === TimestampType.LogAppendTime) {
          return { offset: b.baseOffset > logStartOffset ? b.baseOffset : logStartOffset, timestamp: b.maxTimestamp };
        }
        const decoded = decodeBatch(view.subarray(pos, pos + b.size), 0);
        for (const r of decoded.records) {
          if (r.timestamp >= ts && r.offset >= logStartOffset) return { offset: r.offset, timestamp: r.timestamp };
        }
      }
      pos += b.size;
    }
  }
  return null;
}
