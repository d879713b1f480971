/**
 * CRC-valid batches with bad insides, as a broken or hostile producer could send them: each passes the framing
 * and CRC checks and must be refused by the produce-time record checks.
 */
import { ATTRIBUTES_OFFSET, COMPRESSION_MASK, CompressionType, LAST_OFFSET_DELTA_OFFSET, RECORD_COUNT_OFFSET, RECORDS_OFFSET } from '../../src/record/batch-header.js';
import { encodeBatch } from '../../src/record/batch.js';
import { fixCrc } from './helpers.js';

/** A valid uncompressed batch of three records. */
export function goodBatch(tag = 'good'): Buffer {
  return encodeBatch([{ key: `${tag}-k0`, value: `${tag}-0` }, { key: `${tag}-k1`, value: `${tag}-1` }, { key: `${tag}-k2`, value: `${tag}-2` }]);
}

export interface HostileBatch {
  name: string;
  batch: Buffer;
}

/** The five batches of the hardening issue: each CRC-valid, each corrupt inside. */
export function hostileBatches(): HostileBatch[] {
  const count = fixCrc(Buffer.from(goodBatch('count')));
  count.writeInt32BE(1_000_000, RECORD_COUNT_OFFSET);
  fixCrc(count);

  const ff = Buffer.from(goodBatch('ff'));
  ff.fill(0xff, RECORDS_OFFSET);
  fixCrc(ff);

  const delta = Buffer.from(goodBatch('delta'));
  delta.writeInt32BE(2_000_000_000, LAST_OFFSET_DELTA_OFFSET);
  fixCrc(delta);

  const codec7 = Buffer.from(goodBatch('codec7'));
  codec7.writeInt16BE(codec7.readInt16BE(ATTRIBUTES_OFFSET) | COMPRESSION_MASK, ATTRIBUTES_OFFSET);
  fixCrc(codec7);

  // Uncompressed record bytes labelled gzip: not a gzip stream.
  const gzip = Buffer.from(goodBatch('gzip'));
  gzip.writeInt16BE((gzip.readInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_MASK) | CompressionType.Gzip, ATTRIBUTES_OFFSET);
  fixCrc(gzip);

  return [
    { name: 'recordCount 1,000,000 with 3 records', batch: count },
    { name: 'records overwritten with 0xFF', batch: ff },
    { name: 'lastOffsetDelta 2,000,000,000', batch: delta },
    { name: 'compression codec 7', batch: codec7 },
    { name: 'invalid gzip bytes', batch: gzip },
  ];
}
