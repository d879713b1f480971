/**
 * Cross-check against a real client (kafkajs 2.2.4, which speaks the non-flexible versions):
 * - requests kafkajs encodes must decode with our codecs to the expected data, consume every byte, and
 *   re-encode to exactly kafkajs's bytes;
 * - responses we encode must decode with kafkajs's own response decoders to the expected data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Reader } from '../../src/kafka-protocol/reader.js';
import { Writer } from '../../src/kafka-protocol/writer.js';
import { APIS, type ApiCodec, type ServedApiName } from '../../src/kafka-protocol/generated/index.js';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
type KafkajsRequestFactory = (args: unknown) => KafkajsRequest;
interface KafkajsResponse {
  decode(raw: Buffer): Promise<unknown>;
}

const kRequest = (dir: string, v: number): KafkajsRequestFactory =>
  require(`kafkajs/src/protocol/requests/${dir}/v${v}/request`) as KafkajsRequestFactory;
const kResponse = (dir: string, v: number): KafkajsResponse =>
  require(`kafkajs/src/protocol/requests/${dir}/v${v}/response`) as KafkajsResponse;

/** Every key of `expected` must match in `actual` (recursively; arrays must have the same length). */
function assertSubset(actual: unknown, expected: unknown, path = '$'): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${String(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertSubset((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object' && !Buffer.isBuffer(expected)) {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${String(actual)}`);
    for (const [k, e] of Object.entries(expected)) assertSubset((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
  } else {
    assert.deepStrictEqual(actual, expected, path);
  }
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Decodes kafkajs's request bytes with our codec, checks the data, full consumption and byte-exact re-encode. */
async function checkRequest(api: ServedApiName, dir: string, v: number, args: unknown, expected: unknown): Promise<unknown> {
  const req = kRequest(dir, v)(args);
  const codec: ApiCodec = APIS[api];
  assert.equal(req.apiKey, codec.apiKey, `${api}: api key`);
  assert.equal(req.apiVersion, v);
  const bytes = (await req.encode()).buffer;
  const r = new Reader(bytes);
  const decoded = codec.decodeRequest(r, v);
  assert.equal(r.remaining, 0, `${api} v${v}: ${r.remaining} bytes left over`);
  assertSubset(decoded, expected, `${api} v${v} request`);
  const w = new Writer();
  codec.encodeRequest(w, v, decoded);
  assert.ok(w.toBuffer().equals(bytes), `${api} v${v}: re-encoded request differs from kafkajs bytes`);
  return decoded;
}

/** Encodes our response (records by reference, concatenated only here) and decodes it with kafkajs. */
async function checkResponse<K extends ServedApiName>(api: K, dir: string, v: number, data: Parameters<(typeof APIS)[K]['encodeResponse']>[2], expected: unknown): Promise<void> {
  const w = new Writer({ initialCapacity: 32 });
  (APIS[api].encodeResponse as (w: Writer, v: number, d: unknown) => void)(w, v, data);
  const { chunks, byteLength } = w.finish();
  const decoded = await kResponse(dir, v).decode(Buffer.concat(chunks, byteLength));
  assertSubset(decoded, expected, `${api} v${v} response`);
}

// ------------------------------------------------------------------------------------------ requests

test('kafkajs requests decode with our codecs and re-encode byte-exact', async () => {
  for (const v of range(0, 2)) await checkRequest('ApiVersions', 'apiVersions', v, {}, {});

  for (const v of range(0, 6)) {
    await checkRequest('Metadata', 'metadata', v, { topics: ['orders', 'payments'], allowAutoTopicCreation: false }, {
      topics: [{ name: 'orders' }, { name: 'payments' }],
      allowAutoTopicCreation: v >= 4 ? false : true,
    });
  }

  for (const v of range(0, 7)) {
    const decoded = (await checkRequest('Produce', 'produce', v, {
      acks: -1,
      timeout: 30000,
      transactionalId: v >= 3 ? 'tx-1' : undefined,
      topicData: [
        { topic: 'orders', partitions: [{ partition: 3, messages: [{ key: 'k1', value: 'v1' }, { key: null, value: 'v2' }] }] },
      ],
    }, {
      acks: -1,
      timeoutMs: 30000,
      transactionalId: v >= 3 ? 'tx-1' : null,
      topicData: [{ name: 'orders', partitionData: [{ index: 3 }] }],
    })) as { topicData: { partitionData: { records: Buffer | null }[] }[] };
    const records = decoded.topicData[0]!.partitionData[0]!.records;
    assert.ok(records !== null && records.length > 20, `produce v${v}: records`);
    if (v >= 3) {
      // A v2 RecordBatch: magic byte 2 at offset 16, and the batch length field matches.
      assert.equal(records.readInt8(16), 2);
      assert.equal(records.readInt32BE(8) + 12, records.length);
    }
  }

  for (const v of range(0, 11)) {
    await checkRequest('Fetch', 'fetch', v, {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 52428800,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      rackId: 'rack-a',
      forgottenTopics: [{ topic: 'old', partitions: [4, 5] }],
      topics: [{ topic: 'orders', partitions: [{ partition: 2, fetchOffset: '1234567890123', maxBytes: 1048576, currentLeaderEpoch: 7, logStartOffset: '-1' }] }],
    }, {
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: v >= 3 ? 52428800 : 0x7fffffff,
      isolationLevel: v >= 4 ? 0 : 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'orders', partitions: [{ partition: 2, fetchOffset: 1234567890123n, partitionMaxBytes: 1048576, currentLeaderEpoch: v >= 9 ? 7 : -1, logStartOffset: -1n }] }],
      forgottenTopicsData: v >= 7 ? [{ topic: 'old', partitions: [4, 5] }] : [],
      rackId: v >= 11 ? 'rack-a' : '',
    });
  }

  for (const v of range(0, 3)) {
    await checkRequest('ListOffsets', 'listOffsets', v, { replicaId: -1, isolationLevel: 1, topics: [{ topic: 'orders', partitions: [{ partition: 1, timestamp: -2 }] }] }, {
      replicaId: -1,
      isolationLevel: v >= 2 ? 1 : 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, timestamp: -2n, maxNumOffsets: 1 }] }],
    });
  }

  await checkRequest('FindCoordinator', 'findCoordinator', 0, { groupId: 'group-a' }, { key: 'group-a', keyType: 0 });
  for (const v of range(1, 2)) {
    await checkRequest('FindCoordinator', 'findCoordinator', v, { coordinatorKey: 'tx-9', coordinatorType: 1 }, { key: 'tx-9', keyType: 1 });
  }

  const metadata = Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 97, 0, 0, 0, 0]);
  for (const v of range(0, 5)) {
    await checkRequest('JoinGroup', 'joinGroup', v, {
      groupId: 'group-a',
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: 'instance-1',
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata }],
    }, {
      groupId: 'group-a',
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: v >= 1 ? 60000 : -1,
      memberId: '',
      groupInstanceId: v >= 5 ? 'instance-1' : null,
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata }],
    });
  }

  for (const v of range(0, 3)) {
    await checkRequest('SyncGroup', 'syncGroup', v, {
      groupId: 'group-a',
      generationId: 4,
      memberId: 'member-1',
      groupInstanceId: 'instance-1',
      groupAssignment: [{ memberId: 'member-1', memberAssignment: metadata }],
    }, {
      groupId: 'group-a',
      generationId: 4,
      memberId: 'member-1',
      groupInstanceId: v >= 3 ? 'instance-1' : null,
      assignments: [{ memberId: 'member-1', assignment: metadata }],
    });
  }

  for (const v of range(0, 3)) {
    await checkRequest('Heartbeat', 'heartbeat', v, { groupId: 'group-a', groupGenerationId: 4, memberId: 'member-1', groupInstanceId: null }, {
      groupId: 'group-a',
      generationId: 4,
      memberId: 'member-1',
      groupInstanceId: null,
    });
  }

  for (const v of range(0, 5)) {
    await checkRequest('OffsetCommit', 'offsetCommit', v, {
      groupId: 'group-a',
      groupGenerationId: 4,
      memberId: 'member-1',
      retentionTime: -1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '42', metadata: 'meta' }, { partition: 1, offset: '43' }] }],
    }, {
      groupId: 'group-a',
      generationIdOrMemberEpoch: v >= 1 ? 4 : -1,
      memberId: v >= 1 ? 'member-1' : '',
      retentionTimeMs: -1n,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42n, committedMetadata: 'meta' }, { partitionIndex: 1, committedOffset: 43n, committedMetadata: null }] }],
    });
  }

  for (const v of range(1, 4)) {
    await checkRequest('OffsetFetch', 'offsetFetch', v, { groupId: 'group-a', topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 7 }] }] }, {
      groupId: 'group-a',
      topics: [{ name: 'orders', partitionIndexes: [0, 7] }],
    });
  }

  for (const v of range(0, 3)) {
    await checkRequest('CreateTopics', 'createTopics', v, {
      topics: [
        { topic: 'orders', numPartitions: 6, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        { topic: 'manual', replicaAssignment: [{ partition: 0, replicas: [1, 2] }] },
      ],
      validateOnly: true,
      timeout: 5000,
    }, {
      topics: [
        { name: 'orders', numPartitions: 6, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }] },
        { name: 'manual', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] },
      ],
      timeoutMs: 5000,
      validateOnly: v >= 1,
    });
  }

  // Further APIs kafkajs implements (data and byte-exactness checks).
  await checkRequest('LeaveGroup', 'leaveGroup', 0, { groupId: 'group-a', memberId: 'member-1' }, { groupId: 'group-a', memberId: 'member-1', members: [] });
  await checkRequest('LeaveGroup', 'leaveGroup', 3, { groupId: 'group-a', members: [{ memberId: 'm1', groupInstanceId: 'i1' }] }, {
    groupId: 'group-a',
    memberId: '',
    members: [{ memberId: 'm1', groupInstanceId: 'i1' }],
  });
  for (const v of range(0, 2)) await checkRequest('DescribeGroups', 'describeGroups', v, { groupIds: ['g1', 'g2'] }, { groups: ['g1', 'g2'] });
  for (const v of range(0, 2)) await checkRequest('ListGroups', 'listGroups', v, {}, { statesFilter: [] });
  for (const v of range(0, 1)) await checkRequest('DeleteTopics', 'deleteTopics', v, { topics: ['a', 'b'], timeout: 3000 }, { topicNames: ['a', 'b'], timeoutMs: 3000 });
  for (const v of range(0, 1)) await checkRequest('SaslHandshake', 'saslHandshake', v, { mechanism: 'PLAIN' }, { mechanism: 'PLAIN' });
  for (const v of range(0, 1)) {
    await checkRequest('InitProducerId', 'initProducerId', v, { transactionalId: 'tx-1', transactionTimeout: 60000 }, { transactionalId: 'tx-1', transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 });
  }
  for (const v of range(0, 1)) {
    await checkRequest('AddPartitionsToTxn', 'addPartitionsToTxn', v, { transactionalId: 'tx-1', producerId: '77', producerEpoch: 2, topics: [{ topic: 'orders', partitions: [0, 1] }] }, {
      v3AndBelowTransactionalId: 'tx-1',
      v3AndBelowProducerId: 77n,
      v3AndBelowProducerEpoch: 2,
      v3AndBelowTopics: [{ name: 'orders', partitions: [0, 1] }],
    });
    await checkRequest('AddOffsetsToTxn', 'addOffsetsToTxn', v, { transactionalId: 'tx-1', producerId: '77', producerEpoch: 2, groupId: 'group-a' }, {
      transactionalId: 'tx-1',
      producerId: 77n,
      producerEpoch: 2,
      groupId: 'group-a',
    });
    await checkRequest('EndTxn', 'endTxn', v, { transactionalId: 'tx-1', producerId: '77', producerEpoch: 2, transactionResult: true }, { transactionalId: 'tx-1', producerId: 77n, producerEpoch: 2, committed: true });
    await checkRequest('TxnOffsetCommit', 'txnOffsetCommit', v, {
      transactionalId: 'tx-1',
      groupId: 'group-a',
      producerId: '77',
      producerEpoch: 2,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '10', metadata: null }] }],
    }, { transactionalId: 'tx-1', groupId: 'group-a', producerId: 77n, producerEpoch: 2, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 10n, committedMetadata: null }] }] });
    await checkRequest('DeleteGroups', 'deleteGroups', v, ['g1', 'g2'], { groupsNames: ['g1', 'g2'] });
    await checkRequest('DeleteRecords', 'deleteRecords', v, { topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '5' }] }], timeout: 1000 }, {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 5n }] }],
      timeoutMs: 1000,
    });
    await checkRequest('AlterConfigs', 'alterConfigs', v, { resources: [{ type: 2, name: 'orders', configEntries: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: true }, {
      resources: [{ resourceType: 2, resourceName: 'orders', configs: [{ name: 'retention.ms', value: '1000' }] }],
      validateOnly: true,
    });
    await checkRequest('CreatePartitions', 'createPartitions', v, { topicPartitions: [{ topic: 'orders', count: 8, assignments: [[1], [2]] }], timeout: 2000, validateOnly: false }, {
      topics: [{ name: 'orders', count: 8, assignments: [{ brokerIds: [1] }, { brokerIds: [2] }] }],
      timeoutMs: 2000,
      validateOnly: false,
    });
  }
  for (const v of range(0, 2)) {
    await checkRequest('DescribeConfigs', 'describeConfigs', v, { resources: [{ type: 2, name: 'orders', configNames: ['retention.ms'] }], includeSynonyms: true }, {
      resources: [{ resourceType: 2, resourceName: 'orders', configurationKeys: ['retention.ms'] }],
      includeSynonyms: v >= 1,
    });
  }
});

// ----------------------------------------------------------------------------------------- responses

test('our responses decode with kafkajs response decoders', async () => {
  for (const v of range(0, 2)) {
    await checkResponse('ApiVersions', 'apiVersions', v, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 9 }, {
      errorCode: 0,
      apiVersions: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }],
      ...(v === 1 ? { throttleTime: 9 } : v === 2 ? { clientSideThrottleTime: 9 } : {}),
    });
  }

  for (const v of range(0, 6)) {
    await checkResponse('Metadata', 'metadata', v, {
      throttleTimeMs: 3,
      brokers: [{ nodeId: 1, host: 'broker-1', port: 9092, rack: 'r1' }],
      clusterId: 'cluster-x',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          isInternal: false,
          partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 5, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [2] }],
        },
      ],
    }, {
      brokers: [{ nodeId: 1, host: 'broker-1', port: 9092, ...(v >= 1 ? { rack: 'r1' } : {}) }],
      ...(v >= 1 ? { controllerId: 1 } : {}),
      ...(v >= 2 ? { clusterId: 'cluster-x' } : {}),
      ...(v >= 3 && v < 6 ? { throttleTime: 3 } : {}),
      topicMetadata: [
        {
          topicErrorCode: 0,
          topic: 'orders',
          ...(v >= 1 ? { isInternal: false } : {}),
          partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2], isr: [1], ...(v >= 5 ? { offlineReplicas: [2] } : {}) }],
        },
      ],
    });
  }

  for (const v of range(0, 7)) {
    await checkResponse('Produce', 'produce', v, {
      responses: [{ name: 'orders', partitionResponses: [{ index: 3, errorCode: 0, baseOffset: 100n, logAppendTimeMs: 1700000000000n, logStartOffset: 7n }] }],
      throttleTimeMs: 4,
    }, {
      topics: [
        {
          topicName: 'orders',
          partitions: [
            {
              partition: 3,
              errorCode: 0,
              ...(v < 3 ? { offset: '100' } : { baseOffset: '100', logAppendTime: '1700000000000' }),
              ...(v === 2 ? { timestamp: '1700000000000' } : {}),
              ...(v >= 5 ? { logStartOffset: '7' } : {}),
            },
          ],
        },
      ],
      ...(v >= 1 && v < 6 ? { throttleTime: 4 } : {}),
    });
  }

  // Fetch with a real RecordBatch built by kafkajs, handed to our encoder as two chunks by reference.
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
    RecordBatch: (a: unknown) => Promise<{ buffer: Buffer }>;
  };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (a: unknown) => unknown;
  const batch = (
    await RecordBatch({
      firstOffset: '40',
      firstTimestamp: 1700000000000,
      maxTimestamp: 1700000000001,
      lastOffsetDelta: 1,
      records: [
        Record({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('k1'), value: Buffer.from('hello') }),
        Record({ offsetDelta: 1, timestampDelta: 1, key: null, value: Buffer.from('world') }),
      ],
    })
  ).buffer;
  for (const v of range(4, 11)) {
    const chunks = [batch.subarray(0, 30), batch.subarray(30)];
    await checkResponse('Fetch', 'fetch', v, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 12,
      responses: [
        {
          topic: 'orders',
          partitions: [
            {
              partitionIndex: 2,
              errorCode: 0,
              highWatermark: 42n,
              lastStableOffset: 42n,
              logStartOffset: 0n,
              abortedTransactions: [{ producerId: 9n, firstOffset: 3n }],
              preferredReadReplica: -1,
              records: chunks,
            },
          ],
        },
      ],
    }, {
      ...(v >= 7 ? { errorCode: 0, sessionId: 12 } : {}),
      responses: [
        {
          topicName: 'orders',
          partitions: [
            {
              partition: 2,
              errorCode: 0,
              highWatermark: '42',
              lastStableOffset: '42',
              ...(v >= 5 ? { lastStartOffset: '0' } : {}),
              abortedTransactions: [{ producerId: '9', firstOffset: '3' }],
              ...(v >= 11 ? { preferredReadReplica: -1 } : {}),
              messages: [
                { offset: '40', key: Buffer.from('k1'), value: Buffer.from('hello'), timestamp: '1700000000000' },
                { offset: '41', key: null, value: Buffer.from('world'), timestamp: '1700000000001' },
              ],
            },
          ],
        },
      ],
    });
  }
  for (const v of range(0, 3)) {
    await checkResponse('Fetch', 'fetch', v, { throttleTimeMs: 0, responses: [{ topic: 'orders', partitions: [{ partitionIndex: 1, errorCode: 1, highWatermark: -1n, records: null }] }] }, {
      responses: [{ topicName: 'orders', partitions: [{ partition: 1, errorCode: 1, highWatermark: '-1', messages: [] }] }],
    });
  }

  for (const v of range(0, 3)) {
    await checkResponse('ListOffsets', 'listOffsets', v, {
      throttleTimeMs: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, errorCode: 0, oldStyleOffsets: [99n], timestamp: 1700000000000n, offset: 99n }] }],
    }, {
      responses: [
        { topic: 'orders', partitions: [v === 0 ? { partition: 1, errorCode: 0, offsets: ['99'] } : { partition: 1, errorCode: 0, timestamp: '1700000000000', offset: '99' }] },
      ],
    });
  }

  for (const v of range(0, 2)) {
    await checkResponse('FindCoordinator', 'findCoordinator', v, { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 3, host: 'broker-3', port: 19092 }, {
      errorCode: 0,
      coordinator: { nodeId: 3, host: 'broker-3', port: 19092 },
      ...(v >= 1 ? { errorMessage: null } : {}),
    });
  }

  const memberMetadata = Buffer.from([0, 1, 2, 3]);
  for (const v of range(0, 5)) {
    await checkResponse('JoinGroup', 'joinGroup', v, {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 8,
      protocolName: 'RoundRobinAssigner',
      leader: 'member-1',
      memberId: 'member-2',
      members: [{ memberId: 'member-1', groupInstanceId: v >= 5 ? 'inst-1' : null, metadata: memberMetadata }],
    }, {
      errorCode: 0,
      generationId: 8,
      groupProtocol: 'RoundRobinAssigner',
      leaderId: 'member-1',
      memberId: 'member-2',
      members: [{ memberId: 'member-1', memberMetadata, ...(v >= 5 ? { groupInstanceId: 'inst-1' } : {}) }],
    });
  }

  for (const v of range(0, 3)) {
    await checkResponse('SyncGroup', 'syncGroup', v, { throttleTimeMs: 0, errorCode: 0, assignment: memberMetadata }, { errorCode: 0, memberAssignment: memberMetadata });
  }

  for (const v of range(0, 3)) await checkResponse('Heartbeat', 'heartbeat', v, { throttleTimeMs: 0, errorCode: 27 }, { errorCode: 27 });

  for (const v of range(0, 5)) {
    await checkResponse('OffsetCommit', 'offsetCommit', v, { throttleTimeMs: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 22 }] }] }, {
      responses: [{ topic: 'orders', partitions: [{ partition: 0, errorCode: 0 }, { partition: 1, errorCode: 22 }] }],
    });
  }

  for (const v of range(1, 4)) {
    await checkResponse('OffsetFetch', 'offsetFetch', v, {
      throttleTimeMs: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42n, metadata: 'meta', errorCode: 0 }] }],
      errorCode: 0,
    }, {
      responses: [{ topic: 'orders', partitions: [{ partition: 0, offset: '42', metadata: 'meta', errorCode: 0 }] }],
      ...(v >= 2 ? { errorCode: 0 } : {}),
    });
  }

  for (const v of range(0, 3)) {
    await checkResponse('CreateTopics', 'createTopics', v, {
      throttleTimeMs: 0,
      topics: [
        { name: 'b-topic', errorCode: 36, errorMessage: 'exists' },
        { name: 'a-topic', errorCode: 0, errorMessage: null },
      ],
    }, {
      // kafkajs sorts by topic name.
      topicErrors: [
        { topic: 'a-topic', errorCode: 0, ...(v >= 1 ? { errorMessage: null } : {}) },
        { topic: 'b-topic', errorCode: 36, ...(v >= 1 ? { errorMessage: 'exists' } : {}) },
      ],
    });
  }
});
