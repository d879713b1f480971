/**
 * Fuzzing the decoders: random bytes and mutated valid frames, fed to every generated decoder at every
 * version and to decodeRequestFrame, must always produce a value or a ProtocolError: never another
 * exception (RangeError, TypeError...), never a hang or a huge allocation. Runs are bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../src/kafka-protocol/reader.js';
import { ProtocolError } from '../../src/kafka-protocol/errors.js';
import { decodeRequestFrame, encodeRequestFrame, APIS, type ServedApiName } from '../../src/kafka-protocol/generated/index.js';
import { allCodecs, versionsOf, SampleBuilder, toInput, encodeToBuffer, type Codec } from './samples.js';

const codecs = allCodecs();

/** Decode must return or throw ProtocolError. */
function decodeSafely(decode: () => unknown, what: string): void {
  try {
    decode();
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      assert.fail(`${what}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} instead of ProtocolError`);
    }
  }
}

// Mutations of a valid frame: overwrite a byte, plant a suspicious 32-bit or varint length, truncate, or
// insert bytes. Positions are taken modulo the frame length.
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('int32' as const), pos: fc.nat(), value: fc.constantFrom(0x7fffffff, -1, -2, 0x80000000 | 0, 0x10000, 1 << 30) }),
  fc.record({ kind: fc.constant('varint' as const), pos: fc.nat(), value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x100000, 0) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(frame: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(frame);
  for (const m of muts) {
    if (b.length === 0) break;
    const pos = m.pos % b.length;
    switch (m.kind) {
      case 'byte':
        b[pos] = m.value;
        break;
      case 'int32':
        if (pos + 4 <= b.length) b.writeInt32BE(m.value, pos);
        break;
      case 'varint': {
        const bytes: number[] = [];
        let v: number = m.value;
        while (v >= 0x80) {
          bytes.push((v & 0x7f) | 0x80);
          v = Math.floor(v / 128);
        }
        bytes.push(v);
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(bytes), b.subarray(pos + bytes.length)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, pos);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), Buffer.from([m.value, m.value]), b.subarray(pos)]);
        break;
    }
  }
  return b;
}

function validFrames(c: Codec): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const v of versionsOf(c.meta)) {
    out.set(v, encodeToBuffer(c, v, toInput(c.meta, c.meta.root, new SampleBuilder(c.meta, v, 'full').build())));
  }
  return out;
}

test('random bytes: every decoder at every version returns or throws ProtocolError', () => {
  const started = Date.now();
  for (const c of codecs) {
    for (const v of versionsOf(c.meta)) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          decodeSafely(() => c.decode(new Reader(Buffer.from(bytes)), v), `${c.meta.name} v${v}`);
        }),
        { numRuns: 40 },
      );
    }
  }
  assert.ok(Date.now() - started < 10000, 'fuzzing took too long');
});

test('mutated valid frames: every decoder at every version returns or throws ProtocolError', () => {
  const started = Date.now();
  for (const c of codecs) {
    for (const [v, frame] of validFrames(c)) {
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (muts) => {
          decodeSafely(() => c.decode(new Reader(mutate(frame, muts)), v), `${c.meta.name} v${v}`);
        }),
        { numRuns: 60 },
      );
    }
  }
  assert.ok(Date.now() - started < 10000, 'fuzzing took too long');
});

test('decodeRequestFrame on random and mutated request frames', () => {
  const frames: Buffer[] = [];
  for (const name of Object.keys(APIS) as ServedApiName[]) {
    const reqCodec = codecs.find((c) => c.meta.name === `${name}Request`)!;
    for (const v of [APIS[name].minVersion, APIS[name].maxSchemaVersion]) {
      const body = new SampleBuilder(reqCodec.meta, v, 'full').build();
      const encode = encodeRequestFrame as (api: string, v: number, h: { correlationId: number; clientId: string | null }, b: unknown) => { chunks: Buffer[] };
      frames.push(Buffer.concat(encode(name, v, { correlationId: 1, clientId: 'fuzz' }, toInput(reqCodec.meta, reqCodec.meta.root, body)).chunks).subarray(4));
    }
  }
  for (const f of frames) assert.ok(decodeRequestFrame(f).header.correlationId === 1);
  fc.assert(
    fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, muts) => {
      decodeSafely(() => decodeRequestFrame(mutate(frames[i % frames.length]!, muts)), 'decodeRequestFrame');
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      decodeSafely(() => decodeRequestFrame(Buffer.from(bytes)), 'decodeRequestFrame');
    }),
    { numRuns: 1000 },
  );
});
