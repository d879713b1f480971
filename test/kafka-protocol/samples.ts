/**
 * Deterministic sample messages for the generated Kafka codecs, built from the schema metadata the
 * generator emits (MESSAGE_META) rather than from the generated code, so the round-trip tests check the
 * codecs against an independent reading of the schemas: which fields exist at which version, their
 * defaults, nullability and tagging.
 */
import { Reader } from '../../src/kafka-protocol/reader.js';
import { Writer } from '../../src/kafka-protocol/writer.js';
import { MESSAGE_META, type FieldMeta, type MessageMeta, type VersionRange } from '../../src/kafka-protocol/generated/index.js';
import * as generated from '../../src/kafka-protocol/generated/index.js';

export type Value = unknown;
export type Obj = { [k: string]: Value };

export interface Codec {
  meta: MessageMeta;
  decode(r: Reader, v: number): Value;
  encode(w: Writer, v: number, d: Value): void;
}

/** Every generated message with its decode/encode functions, looked up by naming convention. */
export function allCodecs(): Codec[] {
  const mod = generated as unknown as Record<string, unknown>;
  return Object.values(MESSAGE_META).map((meta) => {
    const decode = mod[`decode${meta.name}`];
    const encode = mod[`encode${meta.name}`];
    if (typeof decode !== 'function' || typeof encode !== 'function') throw new Error(`no codec for ${meta.name}`);
    return { meta, decode: decode as Codec['decode'], encode: encode as Codec['encode'] };
  });
}

export function versionsOf(meta: MessageMeta): number[] {
  const out: number[] = [];
  for (let v = meta.validVersions[0]; v <= meta.validVersions[1]; v++) out.push(v);
  return out;
}

export const inRange = (r: VersionRange | null, v: number): boolean => r !== null && v >= r[0] && v <= r[1];

/** The value a decoder must produce for a field absent at the decoded version (Kafka's default rules). */
export function defaultValue(meta: MessageMeta, f: FieldMeta): Value {
  const d = f.default;
  if (d === 'null') return null;
  if (f.type.startsWith('[]')) return [];
  switch (f.type) {
    case 'struct':
      return defaultStruct(meta, f.struct!);
    case 'bool':
      return d === 'true';
    case 'int64':
      return BigInt(d ?? 0);
    case 'string':
      return d ?? '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    default:
      return Number(d ?? 0);
  }
}

export function defaultStruct(meta: MessageMeta, name: string): Obj {
  const o: Obj = {};
  for (const f of meta.structs[name]!) o[f.name] = defaultValue(meta, f);
  return o;
}

/** Sample modes: 'full' fills everything with non-default values; 'nulls' also sets nullable fields to null. */
export type Mode = 'full' | 'nulls';

export class SampleBuilder {
  private n = 0;
  constructor(
    private readonly meta: MessageMeta,
    private readonly v: number,
    private readonly mode: Mode,
  ) {}

  build(): Obj {
    return this.struct(this.meta.root);
  }

  private next(): number {
    return ++this.n;
  }

  private struct(name: string): Obj {
    const o: Obj = {};
    for (const f of this.meta.structs[name]!) {
      o[f.name] = inRange(f.versions, this.v) ? this.value(f) : defaultValue(this.meta, f);
    }
    return o;
  }

  private value(f: FieldMeta): Value {
    if (this.mode === 'nulls' && inRange(f.nullable, this.v)) return null;
    const def = defaultValue(this.meta, f);
    if (f.type === 'struct') return this.struct(f.struct!);
    if (f.type.startsWith('[]')) {
      const elem = f.type.slice(2);
      const out: Value[] = [];
      for (let i = 0; i < 2; i++) out.push(elem === 'struct' ? this.struct(f.struct!) : this.prim(elem, undefined));
      return out;
    }
    return this.prim(f.type, def);
  }

  /** A value of the primitive type that differs from `def`. */
  private prim(type: string, def: Value): Value {
    const k = this.next();
    let x: Value;
    switch (type) {
      case 'bool':
        return def === undefined ? k % 2 === 0 : !(def as boolean);
      case 'int8':
        x = (k % 100) + 1;
        break;
      case 'int16':
        x = -((k * 37) % 30000) - 2;
        break;
      case 'uint16':
        x = 40000 + k;
        break;
      case 'int32':
        x = k * 100003 - 7;
        break;
      case 'int64':
        x = BigInt(k) * -1234567890123n - 5n;
        break;
      case 'float64':
        x = k + 0.25;
        break;
      case 'string':
        x = k % 3 === 0 ? `näme-€-${k}` : `s${k}`;
        break;
      case 'uuid':
        x = `${k.toString(16).padStart(8, '0')}-abcd-4ef0-8123-${(k * 7).toString(16).padStart(12, '0')}`;
        break;
      case 'bytes':
        x = Buffer.from([k & 0xff, 1, 2, 3, (k * 3) & 0xff]);
        break;
      case 'records':
        x = Buffer.from(`records-${k}-${'x'.repeat(k % 7)}`);
        break;
      default:
        throw new Error(`unknown type ${type}`);
    }
    if (def !== undefined && x === def) x = typeof x === 'bigint' ? x + 1n : (x as number) + 1;
    return x;
  }
}

/** Turns a decoded-form sample into encode input: records become two chunks (sent by reference). */
export function toInput(meta: MessageMeta, structName: string, value: Obj): Obj {
  const out: Obj = {};
  for (const f of meta.structs[structName]!) {
    const x = value[f.name];
    if (f.type === 'records' && Buffer.isBuffer(x) && x.length > 1) {
      out[f.name] = [x.subarray(0, 1), x.subarray(1)];
    } else if (f.type === 'struct' && x !== null) {
      out[f.name] = toInput(meta, f.struct!, x as Obj);
    } else if (f.type === '[]struct' && x !== null) {
      out[f.name] = (x as Obj[]).map((e) => toInput(meta, f.struct!, e));
    } else out[f.name] = x;
  }
  return out;
}

export function encodeToBuffer(c: Codec, v: number, data: Value): Buffer {
  const w = new Writer({ initialCapacity: 16 }); // small, so the scratch has to grow
  c.encode(w, v, data);
  return w.toBuffer();
}
