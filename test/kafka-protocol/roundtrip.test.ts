/**
 * Round trip of every generated message at every valid version: a deterministic sample with every field
 * present at that version set to a non-default value (tagged fields included) must survive
 * encode -> decode unchanged, fields absent at that version must decode to their schema defaults, the
 * whole frame must be consumed, and re-encoding the decoded value must give the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/kafka-protocol/reader.js';
import type { MessageMeta } from '../../src/kafka-protocol/generated/index.js';
import { allCodecs, versionsOf, SampleBuilder, toInput, encodeToBuffer, defaultValue, type Mode, type Obj } from './samples.js';

const codecs = allCodecs();

test('every served API has a request and a response codec, plus headers and consumer protocol', () => {
  const names = new Set(codecs.map((c) => c.meta.name));
  for (const n of ['RequestHeader', 'ResponseHeader', 'ConsumerProtocolSubscription', 'ConsumerProtocolAssignment', 'ProduceRequest', 'FetchResponse', 'ConsumerGroupHeartbeatResponse']) {
    assert.ok(names.has(n), n);
  }
  assert.equal(codecs.length, 34 * 2 + 4);
});

for (const c of codecs) {
  test(`round trip ${c.meta.name} v${c.meta.validVersions[0]}-${c.meta.validVersions[1]}`, () => {
    for (const v of versionsOf(c.meta)) {
      for (const mode of ['full', 'nulls'] as Mode[]) {
        const sample = new SampleBuilder(c.meta, v, mode).build();
        const bytes = encodeToBuffer(c, v, toInput(c.meta, c.meta.root, sample));
        const r = new Reader(bytes);
        const decoded = c.decode(r, v);
        assert.equal(r.remaining, 0, `${c.meta.name} v${v} ${mode}: trailing bytes`);
        assert.deepStrictEqual(decoded, sample, `${c.meta.name} v${v} ${mode}`);
        assert.ok(encodeToBuffer(c, v, decoded).equals(bytes), `${c.meta.name} v${v} ${mode}: re-encode differs`);
      }
    }
  });
}

function clone(x: unknown): unknown {
  if (Buffer.isBuffer(x)) return Buffer.from(x);
  if (Array.isArray(x)) return x.map(clone);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, clone(e)]));
  return x;
}

/** Drops fields that have a schema default or are tagged (encode must then write the default). */
function stripDefaulted(meta: MessageMeta, name: string, value: Obj, expected: Obj): Obj {
  const out: Obj = {};
  for (const f of meta.structs[name]!) {
    const x = value[f.name];
    if (f.default !== undefined || f.tagged !== null) {
      expected[f.name] = defaultValue(meta, f);
      continue;
    }
    if (f.type === 'struct' && x !== null) out[f.name] = stripDefaulted(meta, f.struct!, x as Obj, expected[f.name] as Obj);
    else if (f.type === '[]struct' && x !== null) out[f.name] = (x as Obj[]).map((e, i) => stripDefaulted(meta, f.struct!, e, (expected[f.name] as Obj[])[i]!));
    else out[f.name] = x;
  }
  return out;
}

test('encode writes the schema default for omitted defaulted and tagged fields', () => {
  let omitted = 0;
  for (const c of codecs) {
    for (const v of versionsOf(c.meta)) {
      const sample = new SampleBuilder(c.meta, v, 'full').build();
      const expected = clone(sample) as Obj;
      const input = stripDefaulted(c.meta, c.meta.root, sample, expected);
      omitted += Object.keys(sample).length - Object.keys(input).length;
      const bytes = encodeToBuffer(c, v, input);
      assert.deepStrictEqual(c.decode(new Reader(bytes), v), expected, `${c.meta.name} v${v}`);
      assert.ok(bytes.equals(encodeToBuffer(c, v, expected)), `${c.meta.name} v${v}: bytes differ`);
    }
  }
  assert.ok(omitted > 100);
});
