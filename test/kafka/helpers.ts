/** Test helpers: a real node (engine in a temp dir, Kafka broker on 127.0.0.1) assembled in-process, and kafkajs clients. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { SluiceEngine } from '../../src/engine/engine.js';
import type { KafkaServer } from '../../src/frontends/kafka/server.js';
import { startNode, type KafkaListenerOptions, type SluiceNode } from '../../src/node/node.js';
import type { Logger } from '../../src/engine/types.js';

export interface Broker {
  dir: string;
  node: SluiceNode;
  engine: SluiceEngine;
  server: KafkaServer;
  port: number;
  warnings: { obj: object; msg?: string }[];
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** Closes the node, then starts it again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type BrokerOptions = Partial<KafkaListenerOptions>;

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'));
  const warnings: { obj: object; msg?: string }[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj, msg) => warnings.push({ obj, msg }),
    error: (obj, msg) => warnings.push({ obj, msg }),
  };
  const open = (port: number): Promise<SluiceNode> =>
    startNode({
      engine: { dataDir: dir, owners: 2 },
      logger,
      brokerId: 0,
      offsetsTopicPartitions: 4,
      groups: { initialRebalanceDelayMs: 50, minSessionTimeoutMs: 1000 },
      kafka: { host: '127.0.0.1', port, autoCreateTopics: true, defaultPartitions: 1, ...opts },
    });
  const node = await open(0);
  const b: Broker = {
    dir,
    node,
    engine: node.engine,
    server: node.kafka!,
    port: node.kafka!.address.port,
    warnings,
    kafka(config = {}) {
      return new Kafka({
        clientId: 'sluice-test',
        brokers: [`127.0.0.1:${b.port}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 1000 },
        ...config,
      });
    },
    async restart() {
      await b.node.close();
      b.node = await open(b.port);
      b.engine = b.node.engine;
      b.server = b.node.kafka!;
    },
    async stop() {
      await b.node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return b;
}

/** Polls `cond` every 20 ms until it is true or `timeoutMs` passes. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
