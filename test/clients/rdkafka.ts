/**
 * Loads the librdkafka Node binding (@confluentinc/kafka-javascript, node-rdkafka's API) when installed, with
 * the few types the tests and bench/wire-librdkafka.ts use declared here: the package is installed by
 * scripts/install-test-deps.sh (it builds librdkafka from source), not by `npm install`, so nothing may
 * import it statically.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

export const BINDING_PACKAGE = '@confluentinc/kafka-javascript';

export interface RdError extends Error {
  code: number;
}
export interface RdMetadata {
  orig_broker_id: number;
  orig_broker_name: string;
  brokers: { id: number; host: string; port: number }[];
  topics: { name: string; partitions: { id: number; leader: number; replicas: number[]; isrs: number[] }[] }[];
}
export type RdHeaders = Record<string, string | Buffer>[];
export interface RdTopicPartitionOffset {
  topic: string;
  partition: number;
  offset: number;
  error?: RdError;
}
export interface RdDeliveryReport extends RdTopicPartitionOffset {
  key?: Buffer | string | null;
  value?: Buffer | null;
  size: number;
  timestamp?: number;
  opaque?: unknown;
}
export interface RdMessage extends RdTopicPartitionOffset {
  value: Buffer | null;
  key?: Buffer | string | null;
  size: number;
  timestamp?: number;
  headers?: RdHeaders;
}
export type RdConfig = Record<string, string | number | boolean>;

export interface RdClient extends EventEmitter {
  connect(options?: { timeout?: number }, cb?: (err: RdError | null, md: RdMetadata) => void): this;
  disconnect(cb?: (err: unknown) => void): this;
  isConnected(): boolean;
  getMetadata(options: { topic?: string; allTopics?: boolean; timeout?: number }, cb: (err: RdError | null, md: RdMetadata) => void): void;
  queryWatermarkOffsets(topic: string, partition: number, timeout: number, cb: (err: RdError | null, o: { lowOffset: number; highOffset: number }) => void): void;
}
export interface RdProducer extends RdClient {
  produce(topic: string, partition: number | null, value: Buffer | null, key?: Buffer | string | null, timestamp?: number | null, opaque?: unknown, headers?: RdHeaders): boolean;
  setPollInterval(ms: number): this;
  poll(): this;
  flush(timeout: number, cb: (err: RdError | null) => void): this;
}
export interface RdConsumer extends RdClient {
  subscribe(topics: string[]): this;
  assignments(): { topic: string; partition: number }[];
  consume(): void;
  consume(n: number, cb: (err: RdError | null, messages: RdMessage[]) => void): void;
  commitSync(tp: RdTopicPartitionOffset | RdTopicPartitionOffset[] | null): this;
  committed(toppars: { topic: string; partition: number }[], timeout: number, cb: (err: RdError | null, tps: RdTopicPartitionOffset[]) => void): this;
  setDefaultConsumeTimeout(ms: number): void;
}
export interface RdAdmin {
  createTopic(topic: { topic: string; num_partitions: number; replication_factor: number }, timeout: number, cb: (err: RdError | null) => void): void;
  disconnect(): void;
}
export interface RdModule {
  Producer: new (conf: RdConfig, topicConf?: RdConfig) => RdProducer;
  KafkaConsumer: new (conf: RdConfig, topicConf?: RdConfig) => RdConsumer;
  AdminClient: { create(conf: RdConfig): RdAdmin };
  librdkafkaVersion: string;
  features: string[];
}

export type BindingLoad = { ok: true; rd: RdModule; version: string } | { ok: false; reason: string };

/** The binding, or why it cannot be used (not installed, or built but failing to load). */
export function loadBinding(): BindingLoad {
  const require = createRequire(import.meta.url);
  try {
    const rd = require(BINDING_PACKAGE) as RdModule;
    const version = (require(`${BINDING_PACKAGE}/package.json`) as { version: string }).version;
    return { ok: true, rd, version };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${BINDING_PACKAGE}'`)) {
      return { ok: false, reason: `${BINDING_PACKAGE} not installed; run scripts/install-test-deps.sh` };
    }
    return { ok: false, reason: `${BINDING_PACKAGE} does not load (${(e as Error).message.split('\n')[0]}); run scripts/install-test-deps.sh` };
  }
}

/** Connects a client, resolving once it is ready. */
export function connect<T extends RdClient>(client: T, timeoutMs = 15_000): Promise<T> {
  return new Promise((res, rej) => {
    client.connect({ timeout: timeoutMs }, (err) => (err ? rej(err) : res(client)));
  });
}

/** Disconnects (a consumer leaves its group and commits first); rejects if that takes over `timeoutMs`. */
export function disconnect(client: RdClient, timeoutMs = 20_000): Promise<void> {
  return new Promise((res, rej) => {
    if (!client.isConnected()) return res();
    const timer = setTimeout(() => rej(new Error(`librdkafka client did not disconnect within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    client.disconnect(() => {
      clearTimeout(timer);
      res();
    });
  });
}

/**
 * A file whose native clients failed to close would keep its test process alive forever; after its tests,
 * give them `graceMs` and then end the process (keeping the runner's exit code).
 */
export function exitIfStuck(graceMs = 15_000): void {
  setTimeout(() => {
    process.stderr.write(`# librdkafka clients still open ${graceMs} ms after the last test; exiting\n`);
    process.exit(process.exitCode ?? 1);
  }, graceMs).unref();
}

export function metadata(client: RdClient, opts: { topic?: string; allTopics?: boolean; timeout?: number } = {}): Promise<RdMetadata> {
  return new Promise((res, rej) => client.getMetadata({ timeout: 10_000, ...opts }, (err, md) => (err ? rej(err) : res(md))));
}

export function createTopic(admin: RdAdmin, topic: string, partitions: number): Promise<void> {
  return new Promise((res, rej) =>
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 10_000, (err) => (err ? rej(err) : res())),
  );
}

export function flush(p: RdProducer, timeoutMs = 30_000): Promise<void> {
  return new Promise((res, rej) => p.flush(timeoutMs, (err) => (err ? rej(err) : res())));
}
