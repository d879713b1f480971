/**
 * The `__consumer_offsets` keys and values (offset commits, group metadata) are Kafka's classic layouts, read
 * and written with the protocol codec. Two things differ from a request: malformed bytes are a corrupt record
 * (CorruptRecordError with its position, so loading the topic refuses them), and a string too long for its
 * int16 length is the caller's argument at fault, named in the error.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';
import { Reader, type MalformedError } from '../kafka-protocol/reader.js';
import { Writer } from '../kafka-protocol/writer.js';

const INT16_STRING_MAX = 0x7fff;

const corruptRecord: MalformedError = (message, offset) => new CorruptRecordError(message, offset);

/** Bytes values read from it are views of `buf`: copy those a decoded record keeps. */
export function recordReader(buf: Buffer, offset = 0): Reader {
  return new Reader(buf, offset, buf.length, corruptRecord);
}

export function recordWriter(): Writer {
  return new Writer({ initialCapacity: 64 });
}

/** `what` names the field in the error when the string is too long for an int16 length. */
export function writeString(w: Writer, s: string, what = 'string'): void {
  const len = Buffer.byteLength(s, 'utf8');
  if (len > INT16_STRING_MAX) throw new SluiceError('INVALID_ARGUMENT', `${what} is ${len} bytes; Kafka strings hold at most 32767`);
  w.string(s);
}

export function writeNullableString(w: Writer, s: string | null, what = 'string'): void {
  if (s === null) w.int16(-1);
  else writeString(w, s, what);
}
