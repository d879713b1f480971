import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_LOG_CONFIG, logConfigToEntries, parseLogConfig } from '../../src/storage/config.js';
import { LeaderEpochCache } from '../../src/storage/leader-epoch.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { config, makeBatch, rmDir, tempDir } from './helpers.js';

test('parseLogConfig: Kafka names, defaults, validation naming the key, round trip', () => {
  assert.equal(DEFAULT_LOG_CONFIG.segmentBytes, 1073741824);
  assert.equal(DEFAULT_LOG_CONFIG.maxMessageBytes, 1048588);
  const c = parseLogConfig({
    'segment.bytes': '1048576',
    'retention.ms': '-1',
    'cleanup.policy': 'compact,delete',
    'min.cleanable.dirty.ratio': '0.25',
    'message.timestamp.type': 'LogAppendTime',
    'flush.messages': '9223372036854775807',
    'compression.type': 'zstd',
    'min.insync.replicas': '2',
    'unclean.leader.election.enable': 'false',
  });
  assert.deepEqual([c.segmentBytes, c.retentionMs, c.cleanupPolicy, c.minCleanableDirtyRatio, c.messageTimestampType], [1048576, -1, { delete: true, compact: true }, 0.25, 'LogAppendTime']);
  const e = logConfigToEntries(c);
  assert.equal(e['flush.messages'], '9223372036854775807');
  assert.equal(e['cleanup.policy'], 'delete,compact');
  assert.equal(e['compression.type'], 'zstd');
  assert.deepEqual(parseLogConfig(e), c);
  const bad: Array<[string, string]> = [
    ['segment.bytes', '13'],
    ['segment.bytes', 'abc'],
    ['retention.ms', '-2'],
    ['cleanup.policy', 'shred'],
    ['min.cleanable.dirty.ratio', '1.5'],
    ['message.timestamp.type', 'Now'],
    ['compression.type', 'brotli'],
    ['no.such.key', '1'],
    ['max.message.bytes', '1e3'],
  ];
  for (const [k, v] of bad) {
    assert.throws(() => parseLogConfig({ [k]: v }), (err: unknown) => err instanceof ConfigError && err.key === k && err.code === 'INVALID_CONFIG', `${k}=${v}`);
  }
  assert.throws(() => PartitionLog.open({ dir: '/nonexistent-never', config: { ...DEFAULT_LOG_CONFIG, segmentBytes: 5 } }), ConfigError);
});

test('leader epoch cache: Kafka checkpoint format, OffsetsForLeaderEpoch answers, truncation', () => {
  const dir = tempDir();
  try {
    const log = PartitionLog.open({ dir, config: config() });
    log.append(makeBatch(5), { assignOffsets: true, leaderEpoch: 0 });
    log.append(makeBatch(5), { assignOffsets: true, leaderEpoch: 0 });
    log.append(makeBatch(5), { assignOffsets: true, leaderEpoch: 2 });
    log.assignEpoch(4, log.logEndOffset);
    log.append(makeBatch(5), { assignOffsets: true, leaderEpoch: 4 });
    assert.equal(fs.readFileSync(path.join(dir, 'leader-epoch-checkpoint'), 'utf8'), '0\n3\n0 0\n2 10\n4 15\n');
    assert.deepEqual(log.endOffsetForEpoch(4), { epoch: 4, endOffset: 20n });
    assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 2, endOffset: 15n });
    assert.deepEqual(log.endOffsetForEpoch(3), { epoch: 2, endOffset: 15n });
    assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 10n });
    assert.deepEqual(log.endOffsetForEpoch(7), { epoch: -1, endOffset: -1n });
    assert.deepEqual(log.endOffsetForEpoch(-1), { epoch: -1, endOffset: -1n });
    log.truncateTo(15n);
    assert.deepEqual(log.leaderEpochEntries, [{ epoch: 0, startOffset: 0n }, { epoch: 2, startOffset: 10n }]);
    assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 2, endOffset: log.logEndOffset });
    log.setHighWatermark(log.logEndOffset);
    log.deleteRecordsBefore(7n);
    assert.deepEqual(log.leaderEpochEntries, [{ epoch: 0, startOffset: 7n }, { epoch: 2, startOffset: 10n }]);
    // a conflicting assignment removes later entries, as Kafka
    log.assignEpoch(1, 9n);
    assert.deepEqual(log.leaderEpochEntries, [{ epoch: 0, startOffset: 7n }, { epoch: 1, startOffset: 9n }]);
    log.close();
    assert.deepEqual(LeaderEpochCache.load(path.join(dir, 'leader-epoch-checkpoint')).entries, [{ epoch: 0, startOffset: 7n }, { epoch: 1, startOffset: 9n }]);
    fs.writeFileSync(path.join(dir, 'leader-epoch-checkpoint'), '0\n2\n1 5\n');
    assert.throws(() => PartitionLog.open({ dir, config: config() }), /leader epoch checkpoint/);
  } finally {
    rmDir(dir);
  }
});
