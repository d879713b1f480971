/** piscina task of bench/compression-offload.ts: builds one compressed batch in a pool thread. */
import { encodeBatch } from '../src/record/batch.js';
import type { CompressionType } from '../src/record/batch-header.js';
// Keeps the napi codec addons loaded for the thread's lifetime (see engine.ts on the snappy unload crash).
import '../native-bindings/codecs.js';

export default function task({ values, compression }: { values: Uint8Array[]; compression: CompressionType }): Buffer {
  return encodeBatch(values.map((v) => ({ value: Buffer.from(v.buffer, v.byteOffset, v.byteLength) })), { compression });
}
