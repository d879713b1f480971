/** Test helpers: a real engine in a temp dir behind a real Kafka broker on 127.0.0.1, and kafkajs clients. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { Sluice } from '../../src/sluice.js';
import { startKafkaServer, type KafkaServer, type KafkaServerOptions } from '../../src/frontends/kafka/server.js';
import type { Logger } from '../../src/engine/types.js';

export interface Broker {
  dir: string;
  engine: Sluice;
  server: KafkaServer;
  port: number;
  warnings: { obj: object; msg?: string }[];
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** Closes server and engine, then opens both again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type BrokerOptions = Partial<Omit<KafkaServerOptions, 'engine'>>;

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'));
  const warnings: { obj: object; msg?: string }[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj, msg) => warnings.push({ obj, msg }),
    error: (obj, msg) => warnings.push({ obj, msg }),
  };
  const open = async (port: number) => {
    const engine = await Sluice.open({ dataDir: dir, owners: 2 });
    try {
      const server = await startKafkaServer({
        engine,
        host: '127.0.0.1',
        port,
        brokerId: 0,
        autoCreateTopics: true,
        defaultPartitions: 1,
        offsetsTopicPartitions: 4,
        logger,
        groupOptions: { initialRebalanceDelayMs: 50, minSessionTimeoutMs: 1000 },
        ...opts,
      });
      return { engine, server };
    } catch (err) {
      await engine.close();
      throw err;
    }
  };
  let { engine, server } = await open(0);
  const b: Broker = {
    dir,
    engine,
    server,
    port: server.address.port,
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
      await b.server.close();
      await b.engine.close();
      ({ engine, server } = await open(b.port));
      b.engine = engine;
      b.server = server;
    },
    async stop() {
      await b.server.close();
      if (b.engine.isOpen) await b.engine.close();
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
