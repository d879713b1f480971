/**
 * Reader/writer primitives, malformed-input handling, zero-copy behaviour, the registry, header-version
 * rules, frame helpers, and hand-assembled flexible-version frames (kafkajs only speaks non-flexible ones).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/kafka-protocol/reader.js';
import { Writer } from '../../src/kafka-protocol/writer.js';
import { ProtocolError, UnsupportedVersionError } from '../../src/kafka-protocol/errors.js';
import { kafkaErrorCodeOf } from '../../src/kafka-protocol/sluice-errors.js';
import { SluiceError } from '../../src/errors.js';
import {
  API_KEYS,
  APIS,
  API_REGISTRY,
  requestHeaderVersion,
  responseHeaderVersion,
  decodeRequestFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  decodeResponseFrame,
  decodeApiVersionsResponse,
  encodeApiVersionsResponse,
  decodeProduceRequest,
  encodeFetchResponse,
  decodeConsumerProtocolSubscriptionBytes,
  encodeConsumerProtocolSubscriptionBytes,
} from '../../src/kafka-protocol/generated/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const throwsProtocol = (fn: () => unknown, re?: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof ProtocolError && (re === undefined || re.test(e.message)));
};

test('fixed-width integers, floats and bools', () => {
  const w = new Writer({ initialCapacity: 4 });
  w.int8(-128);
  w.int16(-2);
  w.uint16(65535);
  w.int32(-2147483648);
  w.uint32(4294967295);
  w.int64(-9223372036854775808n);
  w.float64(-1.5);
  w.bool(true);
  const b = w.toBuffer();
  assert.equal(b.toString('hex'), '80' + 'fffe' + 'ffff' + '80000000' + 'ffffffff' + '8000000000000000' + 'bff8000000000000' + '01');
  const r = new Reader(b);
  assert.equal(r.int8(), -128);
  assert.equal(r.int16(), -2);
  assert.equal(r.uint16(), 65535);
  assert.equal(r.int32(), -2147483648);
  assert.equal(r.uint32(), 4294967295);
  assert.equal(r.int64(), -9223372036854775808n);
  assert.equal(r.float64(), -1.5);
  assert.equal(r.bool(), true);
  assert.equal(r.remaining, 0);
  throwsProtocol(() => r.int8(), /too short/);
});

test('varints: unsigned, zig-zag int32 and int64, and their limits', () => {
  for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 32 - 1]) {
    const w = new Writer();
    w.uvarint(v);
    assert.equal(new Reader(w.toBuffer()).uvarint(), v);
  }
  const w1 = new Writer();
  w1.uvarint(300);
  assert.equal(w1.toBuffer().toString('hex'), 'ac02');
  for (const v of [0, -1, 1, -64, 63, 2147483647, -2147483648]) {
    const w = new Writer();
    w.varint(v);
    assert.equal(new Reader(w.toBuffer()).varint(), v);
  }
  for (const v of [0n, -1n, 1n, 9223372036854775807n, -9223372036854775808n, 1234567890123n]) {
    const w = new Writer();
    w.varlong(v);
    assert.equal(new Reader(w.toBuffer()).varlong(), v);
  }
  throwsProtocol(() => new Reader(hex('ffffffff1f')).uvarint(), /32 bits/);
  throwsProtocol(() => new Reader(hex('ffffffffff01')).uvarint());
  throwsProtocol(() => new Reader(hex('ff')).uvarint(), /too short/);
  throwsProtocol(() => new Reader(hex('ffffffffffffffffff7f')).varlong(), /64 bits/);
  assert.throws(() => new Writer().uvarint(-1), ProtocolError);
});

test('strings, bytes and uuids', () => {
  const w = new Writer({ initialCapacity: 8 });
  w.string('héllo');
  w.nullableString(null);
  w.compactString('');
  w.compactNullableString(null);
  w.bytes(Buffer.from([1, 2]));
  w.nullableBytes(null);
  w.compactBytes(Buffer.from([3]));
  w.compactNullableBytes(null);
  w.uuid('0123abcd-4567-89ef-0123-456789abcdef');
  const b = w.toBuffer();
  const r = new Reader(b);
  assert.equal(r.string(), 'héllo');
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), '');
  assert.equal(r.compactNullableString(), null);
  assert.deepStrictEqual(r.bytes(), Buffer.from([1, 2]));
  assert.equal(r.nullableBytes(), null);
  assert.deepStrictEqual(r.compactBytes(), Buffer.from([3]));
  assert.equal(r.compactNullableBytes(), null);
  assert.equal(r.uuid(), '0123abcd-4567-89ef-0123-456789abcdef');
  assert.equal(r.remaining, 0);
  assert.throws(() => new Writer().uuid('not-a-uuid'), ProtocolError);
  assert.throws(() => new Writer().string('x'.repeat(40000)), ProtocolError);
});

test('malformed lengths are typed errors and never allocate', () => {
  // A 2^31-1 length with 3 bytes behind it: rejected before any allocation.
  throwsProtocol(() => new Reader(hex('7fffffff 000000')).bytes(), /too short/);
  throwsProtocol(() => new Reader(hex('7fffffff 000000')).arrayLen(), /exceeds/);
  throwsProtocol(() => new Reader(hex('ffffffff0f 00')).compactArrayLen(), /exceeds/);
  throwsProtocol(() => new Reader(hex('ffffffff0f 00')).compactBytes(), /too short/);
  throwsProtocol(() => new Reader(hex('7fff 00')).string(), /too short/);
  // Negative lengths other than -1 (null).
  throwsProtocol(() => new Reader(hex('fffffffe')).bytes(), /negative/);
  throwsProtocol(() => new Reader(hex('fffffffe')).nullableBytes(), /negative/);
  throwsProtocol(() => new Reader(hex('80000000')).arrayLen(), /negative/);
  throwsProtocol(() => new Reader(hex('fffe')).nullableString(), /negative/);
  // Null where the schema does not allow it.
  throwsProtocol(() => new Reader(hex('ffff')).string(), /null/);
  throwsProtocol(() => new Reader(hex('00')).compactString(), /null/);
  throwsProtocol(() => new Reader(hex('ffffffff')).bytes(), /null/);
  // Compact strings longer than Kafka allows.
  throwsProtocol(() => new Reader(hex('818004')).compactString(), /exceeds/);
  // Truncated tagged field.
  throwsProtocol(() => new Reader(hex('01 05 10 00')).skipTaggedFields(), /too short/);
  // Codecs surface the same error, which is a SluiceError mapping to INVALID_REQUEST.
  const err = (() => {
    try {
      decodeProduceRequest(new Reader(hex('ffff 0000 7fff ffff')), 3);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ProtocolError && err instanceof SluiceError);
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.equal(kafkaErrorCodeOf(err), 42);
  assert.throws(() => new Reader(Buffer.alloc(2), 0, 5), ProtocolError);
});

test('a reader given its own MalformedError throws that instead of ProtocolError, with the offset', () => {
  class LayoutError extends Error {
    constructor(
      message: string,
      readonly at: number,
    ) {
      super(message);
    }
  }
  const malformed = (message: string, offset: number): Error => new LayoutError(message, offset);
  const r = new Reader(hex('0001 ffff'), 0, 4, malformed);
  assert.equal(r.int16(), 1);
  assert.throws(() => r.string(), (e: unknown) => e instanceof LayoutError && e.at === 4 && !(e instanceof ProtocolError));
  assert.throws(() => new Reader(hex('00'), 1).int8(), ProtocolError);
  assert.throws(() => new Reader(hex('00'), 1, 1, malformed).int8(), (e: unknown) => e instanceof LayoutError && e.at === 1);
  assert.throws(() => new Reader(hex('00'), 0, 5, malformed), (e: unknown) => e instanceof LayoutError && e.at === -1);
});

test('decoded bytes and records are views of the frame (zero-copy)', () => {
  const records = Buffer.from('a record batch would be here');
  const w = new Writer();
  w.int16(-1); // transactional id (null)
  w.int16(1); // acks
  w.int32(1000); // timeout
  w.int32(1); // one topic
  w.string('t');
  w.int32(1); // one partition
  w.int32(0);
  w.records(records, false);
  const frame = w.toBuffer();
  const req = decodeProduceRequest(new Reader(frame), 3);
  const got = req.topicData[0]!.partitionData[0]!.records!;
  assert.deepStrictEqual(got, records);
  assert.equal(got.buffer, frame.buffer);
  assert.equal(got.byteOffset, frame.byteOffset + frame.length - records.length);
});

test('records are appended by reference; chunks and size prefix are right', () => {
  const seg1 = Buffer.alloc(10000, 1);
  const seg2 = Buffer.alloc(3000, 2);
  const w = new Writer({ sizePrefix: true, initialCapacity: 16 });
  encodeFetchResponse(w, 12, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'orders',
        partitions: [
          { partitionIndex: 0, errorCode: 0, highWatermark: 10n, records: [seg1, seg2] },
          { partitionIndex: 1, errorCode: 0, highWatermark: 10n, records: seg2 },
        ],
      },
    ],
  });
  const { chunks, byteLength } = w.finish();
  assert.equal(w.recordsBytesReferenced, 16000);
  assert.equal(chunks.filter((c) => c === seg1).length, 1);
  assert.equal(chunks.filter((c) => c === seg2).length, 2);
  assert.equal(byteLength, chunks.reduce((n, c) => n + c.length, 0));
  const all = Buffer.concat(chunks);
  assert.equal(all.readInt32BE(0), byteLength - 4);
  assert.throws(() => w.int32(1), ProtocolError); // finished writers reject writes
});

test('registry shape and API keys', () => {
  assert.equal(API_KEYS.Produce, 0);
  assert.equal(API_KEYS.ApiVersions, 18);
  assert.equal(API_KEYS.ControlledShutdown, 7);
  assert.equal(API_KEYS.ConsumerGroupHeartbeat, 68);
  assert.equal(API_REGISTRY.size, 34);
  assert.equal(API_KEYS.DescribeLogDirs, 35);
  for (const [key, c] of API_REGISTRY) {
    assert.equal(c.apiKey, key);
    assert.equal(API_KEYS[c.name], key);
    assert.equal(APIS[c.name], c);
    assert.ok(c.minVersion <= c.maxVersion && c.maxVersion <= c.maxSchemaVersion);
  }
  assert.deepStrictEqual(
    { min: APIS.Produce.minVersion, max: APIS.Produce.maxVersion, flex: APIS.Produce.flexibleMinVersion },
    { min: 0, max: 11, flex: 9 },
  );
  assert.equal(APIS.EndTxn.maxVersion, APIS.EndTxn.maxSchemaVersion - 1); // latest version unstable
  assert.equal(APIS.SaslHandshake.flexibleMinVersion, null);
});

test('header version rules', () => {
  assert.equal(requestHeaderVersion(API_KEYS.Produce, 8), 1);
  assert.equal(requestHeaderVersion(API_KEYS.Produce, 9), 2);
  assert.equal(requestHeaderVersion(API_KEYS.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(API_KEYS.ControlledShutdown, 1), 1);
  assert.equal(requestHeaderVersion(API_KEYS.SaslHandshake, 1), 1);
  assert.equal(requestHeaderVersion(API_KEYS.ApiVersions, 99), 2);
  assert.equal(responseHeaderVersion(API_KEYS.Fetch, 11), 0);
  assert.equal(responseHeaderVersion(API_KEYS.Fetch, 12), 1);
  for (const v of [0, 3, 4]) assert.equal(responseHeaderVersion(API_KEYS.ApiVersions, v), 0);
});

test('hand-assembled flexible frames: ApiVersions v3 request and response with tagged fields', () => {
  const frame = hex(`
    0012 0003 0000002a 0003 636c69 00
    07 736c75696365 04 312e30 00`);
  const req = decodeRequestFrame(frame);
  assert.equal(req.api, 'ApiVersions');
  if (req.api !== 'ApiVersions') return;
  assert.deepStrictEqual(req.header, { requestApiKey: 18, requestApiVersion: 3, correlationId: 42, clientId: 'cli' });
  assert.deepStrictEqual(req.body, { clientSoftwareName: 'sluice', clientSoftwareVersion: '1.0' });

  // errorCode, 1 api key (with empty tags), throttle, then tags: 1 = FinalizedFeaturesEpoch (int64) and an unknown tag 9.
  const body = hex(`0000 02 0000 0000 000b 00 00000000 02 01 08 0000000000000005 09 02 abcd`);
  const res = decodeApiVersionsResponse(new Reader(body), 3);
  assert.equal(res.finalizedFeaturesEpoch, 5n);
  assert.deepStrictEqual(res.apiKeys, [{ apiKey: 0, minVersion: 0, maxVersion: 11 }]);
  assert.equal(res.zkMigrationReady, false);
  const w = new Writer();
  encodeApiVersionsResponse(w, 3, res);
  // Re-encoded: the unknown tag is dropped, the known one kept.
  assert.deepStrictEqual(w.toBuffer(), hex('0000 02 0000 0000 000b 00 00000000 01 01 08 0000000000000005'));
  // A known tag whose value does not fill its declared size is rejected.
  throwsProtocol(() => decodeApiVersionsResponse(new Reader(hex('0000 01 00000000 01 01 09 000000000000000500')), 3), /declared size/);
});

test('frame helpers: request and response frames, unsupported versions', () => {
  const { chunks, byteLength } = encodeRequestFrame('Metadata', 12, { correlationId: 7, clientId: 'c1' }, {
    topics: [{ name: 'orders' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: true,
  });
  const frame = Buffer.concat(chunks);
  assert.equal(frame.readInt32BE(0), byteLength - 4);
  const req = decodeRequestFrame(frame.subarray(4));
  assert.equal(req.api, 'Metadata');
  assert.equal(req.header.correlationId, 7);
  if (req.api === 'Metadata') assert.equal(req.body.topics![0]!.name, 'orders');

  const out = encodeResponseFrame('ApiVersions', 3, 7, { errorCode: 0, apiKeys: [] });
  const resFrame = Buffer.concat(out.chunks).subarray(4);
  assert.equal(resFrame.readInt32BE(0), 7); // v0 response header: no tagged fields after the correlation id
  assert.deepStrictEqual(decodeResponseFrame('ApiVersions', 3, resFrame).body.apiKeys, []);

  // ApiVersions at a version we do not know: the error carries the correlation id for the v0 reply.
  const future = hex('0012 0063 00000063 0001 63 00 00');
  assert.throws(
    () => decodeRequestFrame(future),
    (e: unknown) => e instanceof UnsupportedVersionError && e.correlationId === 99 && e.apiVersion === 99 && kafkaErrorCodeOf(e) === 35,
  );
  assert.throws(() => decodeRequestFrame(hex('0007 0001 00000001 ffff')), UnsupportedVersionError); // ControlledShutdown: not served
  throwsProtocol(() => decodeRequestFrame(hex('00')));
});

test('consumer protocol embedded bytes', () => {
  const buf = encodeConsumerProtocolSubscriptionBytes(1, { topics: ['a', 'b'], userData: null, ownedPartitions: [{ topic: 'a', partitions: [0, 1] }] });
  assert.deepStrictEqual(decodeConsumerProtocolSubscriptionBytes(buf), {
    version: 1,
    data: { topics: ['a', 'b'], userData: null, ownedPartitions: [{ topic: 'a', partitions: [0, 1] }], generationId: -1, rackId: null },
  });
  // A newer version than the schema knows is read as the newest known one (fields are only appended).
  const v9 = encodeConsumerProtocolSubscriptionBytes(3, { topics: ['a'], userData: null, ownedPartitions: [], generationId: 5, rackId: 'r' });
  v9.writeInt16BE(9, 0);
  assert.equal(decodeConsumerProtocolSubscriptionBytes(Buffer.concat([v9, Buffer.from([1, 2, 3])])).data.rackId, 'r');
});
