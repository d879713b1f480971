/** `sluice start --metrics-port`: the real binary serves /metrics next to the Kafka listener. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSluice } from '../cli/cli-helpers.js';
import { deadPort, spawnSluiceStart } from '../brokers.js';
import { Scrape } from './scrape.js';

test('sluice start --metrics-port serves Prometheus metrics; the ready line is unchanged; SIGTERM stops both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-cli-'));
  try {
    writeFileSync(join(dir, 'broker.properties'), 'sluice.owner.threads=2\n');
    const port = await deadPort();
    const metricsPort = await deadPort();
    const dataDir = join(dir, 'data');
    const b = await spawnSluiceStart(['--port', String(port), '--data-dir', dataDir, '--config', join(dir, 'broker.properties'), '--metrics-port', String(metricsPort), '--log-level', 'warn']);
    try {
      assert.equal(b.ready, `sluice: listening on 127.0.0.1:${port} (data in ${dataDir})\n`);
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      const s = await Scrape.from(url);
      for (const owner of [0, 1]) {
        assert.equal(s.value('sluice_owner_ring_used_bytes', { owner, ring: 'append' }), 0);
        assert.equal(s.value('sluice_owner_flush_duration_seconds_count', { owner }), s.value('sluice_owner_flush_duration_seconds_bucket', { owner, le: '+Inf' }));
      }
      assert.ok(s.all('sluice_partition_high_watermark', { topic: '__consumer_offsets' }).length > 0, 'the offsets topic the broker created');
      assert.equal(s.value('sluice_connections_open'), 0);
      assert.equal(s.all('process_resident_memory_bytes').length, 1);
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/`)).status, 404);
    } finally {
      const { code, stderr } = await b.stop();
      assert.equal(code, 0, stderr);
    }
    // The same port from the environment (SLUICE_CFG_<KEY>), after a clean restart on the same data.
    const again = await spawnSluiceStart(['--port', String(port), '--data-dir', dataDir, '--config', join(dir, 'broker.properties'), '--log-level', 'warn'], {
      SLUICE_CFG_SLUICE_METRICS_PORT: String(metricsPort),
    });
    try {
      const s = await Scrape.from(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(s.value('sluice_owner_partitions', { owner: 0 }) + s.value('sluice_owner_partitions', { owner: 1 }), s.all('sluice_partition_log_end_offset').length);
    } finally {
      assert.equal((await again.stop()).code, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sluice start refuses a bad --metrics-port', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-cli-'));
  try {
    const { code, stderr } = await runSluice(['start', '--port', '0', '--data-dir', join(dir, 'data'), '--metrics-port', 'nine']);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--metrics-port expects a number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
