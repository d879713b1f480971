/** The library producer over the Kafka wire (`KafkaProduceTarget`), against a real broker. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Producer } from '../../src/client/producer.js';
import { SluiceError } from '../../src/errors.js';
import { KafkaClient } from '../../src/kafka-client/client.js';
import { KafkaProtocolError } from '../../src/kafka-client/errors.js';
import { KafkaProduceTarget, producerErrorOf } from '../../src/kafka-client/produce-target.js';
import { KafkaErrors } from '../../src/kafka-protocol/error-codes.js';
import { decodeBatches } from '../../src/record/batch.js';
import type { DecodedBatch } from '../../src/record/types.js';
import { startBroker, type Broker } from '../brokers.js';

function batchesOf(b: Broker, topic: string, partition: number): DecodedBatch[] {
  const r = b.engine.read(topic, partition, 0n, { maxBytes: 1 << 20 });
  return decodeBatches(r.records);
}

describe('Producer over the wire', () => {
  let broker: Broker;
  let client: KafkaClient;
  before(async () => {
    broker = await startBroker();
    client = await KafkaClient.connect({ bootstrap: `127.0.0.1:${broker.port}` });
  });
  after(async () => {
    client?.close();
    await broker?.stop();
  });

  it('is idempotent by default: batches carry its producer id and per-partition sequences', async () => {
    await broker.engine.createTopic('wire-idem', { partitions: 2 });
    const p = new Producer(new KafkaProduceTarget(client), { batchSize: 200 });
    const sent = await p.send({ topic: 'wire-idem', messages: Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await p.close();
    const pid = p.producerIdAndEpoch;
    assert.ok(pid !== null);
    for (const partition of [0, 1]) {
      const mine = sent.filter((m) => m.partition === partition);
      const batches = batchesOf(broker, 'wire-idem', partition);
      assert.ok(batches.length > 1, 'several batches per partition');
      let seq = 0;
      for (const b of batches) {
        assert.equal(b.producerId, pid.producerId);
        assert.equal(b.producerEpoch, pid.producerEpoch);
        assert.equal(b.baseSequence, seq);
        seq += b.records.length;
      }
      assert.equal(seq, mine.length);
      assert.deepEqual(
        mine.map((m) => m.offset),
        mine.map((_, i) => BigInt(i)),
      );
    }
  });

  it('answers broker errors with the producer\'s SluiceError codes, keeping the broker\'s message', async () => {
    await broker.engine.createTopic('wire-small', { partitions: 1, configs: { 'max.message.bytes': '1000' } });
    const p = new Producer(new KafkaProduceTarget(client));
    const err = await p.send({ topic: 'wire-small', messages: [{ value: 'x'.repeat(5000) }] }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'RECORD_TOO_LARGE');
    assert.match(err.message, /^Produce wire-small-0: MESSAGE_TOO_LARGE: /);
    assert.ok(err.cause instanceof KafkaProtocolError);
    // Not written: the partition's numbering restarts where it was, and the next send goes through.
    const [m] = await p.send({ topic: 'wire-small', messages: [{ value: 'small' }] });
    assert.equal(m!.offset, 0n);
    assert.equal(batchesOf(broker, 'wire-small', 0)[0]!.baseSequence, 0);
    await p.close();

    const unknown = new Producer(new KafkaProduceTarget(client));
    await assert.rejects(unknown.send({ topic: 'wire-nowhere', messages: [{ value: 'x' }] }), (e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('auto-creates the topic when asked; acks 0 and 1 are not idempotent', async () => {
    const p = new Producer(new KafkaProduceTarget(client, { autoCreate: true }), { acks: 1 });
    const [m] = await p.send({ topic: 'wire-auto', messages: [{ value: 'a' }] });
    assert.equal(m!.offset, 0n);
    assert.equal(p.idempotent, false);
    await p.close();
    assert.equal(batchesOf(broker, 'wire-auto', 0)[0]!.producerId, -1n);
  });

  it('maps Kafka codes in one table; codes without a Sluice meaning stay KafkaProtocolErrors', () => {
    const timedOut = producerErrorOf(new KafkaProtocolError(KafkaErrors.REQUEST_TIMED_OUT, 'Produce t-0'));
    assert.ok(timedOut instanceof SluiceError && timedOut.code === 'TIMEOUT');
    const seq = producerErrorOf(new KafkaProtocolError(KafkaErrors.OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert.ok(seq instanceof SluiceError && seq.code === 'OUT_OF_ORDER_SEQUENCE');
    const denied = new KafkaProtocolError(KafkaErrors.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(producerErrorOf(denied), denied);
    const other = new Error('x');
    assert.equal(producerErrorOf(other), other);
  });
});
