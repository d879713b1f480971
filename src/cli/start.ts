/** `sluice start`: a Kafka-compatible broker on an embedded engine; its metadata in local files, or in etcd with --etcd. */
import { resolve } from 'node:path';
import pino from 'pino';
import type { CommandDef } from './command.js';
import { UsageError } from './command.js';
import { KAFKA_KEYS_WITHOUT_EFFECT, configFromEnv, readPropertiesFile, resolveBrokerConfig } from './broker-config.js';

export const startCommand: CommandDef = {
  name: 'start',
  summary: 'Run a single-node broker that Kafka clients can use unchanged.',
  usage: 'sluice start [--port PORT] [--host HOST] [--data-dir DIR] [--broker-id ID] [--etcd URLS] [--config FILE] [--metrics-port PORT] [--on-corruption refuse|truncate]',
  details:
    'Settings come from, in order of precedence: flags, SLUICE_CFG_* environment variables\n' +
    '(SLUICE_CFG_LOG_RETENTION_HOURS=1 sets log.retention.hours; other SLUICE_* variables are not read),\n' +
    'the --config properties file (Kafka\'s broker key names; Kafka\'s own server.properties loads, and\n' +
    'keys that do not apply to one node, such as zookeeper.connect or process.roles, are named in one\n' +
    'warning), and defaults. Unknown keys refuse to start. See docs/configuration.md.\n' +
    'Prints one line when ready; SIGINT/SIGTERM flush and shut down cleanly.\n' +
    'Every partition is checked as it opens; a torn tail of its last segment is cut and logged. Invalid data\n' +
    'in an earlier segment refuses to start, naming file and byte: `sluice verify DIR` lists every problem\n' +
    '(read-only), and --on-corruption truncate starts anyway, keeping the data before the first bad batch of\n' +
    'that partition and deleting the rest (logged).\n' +
    'With --etcd (sluice.etcd.endpoints) topics and producer ids live in etcd under sluice.etcd.prefix, and the\n' +
    'broker registers there as broker.id under a lease (broker.session.timeout.ms). For now one broker per prefix:\n' +
    'the start refuses while another live broker is registered under it (replication comes in later releases).',
  options: [
    { name: 'port', type: 'string', short: 'p', value: 'PORT', description: 'TCP port to listen on', default: '9092' },
    { name: 'host', type: 'string', value: 'HOST', description: 'Address to listen on', default: '127.0.0.1' },
    { name: 'data-dir', type: 'string', short: 'd', value: 'DIR', description: 'Where topics are stored (log.dirs)', default: './sluice-data' },
    { name: 'broker-id', type: 'string', value: 'ID', description: 'This broker\'s id (broker.id)', default: '0' },
    { name: 'etcd', type: 'string', value: 'URLS', description: 'Keep the metadata in etcd at these comma-separated http(s) URLs (sluice.etcd.endpoints); unset = local files' },
    { name: 'config', type: 'string', short: 'c', value: 'FILE', description: 'Broker properties file with Kafka key names' },
    { name: 'metrics-port', type: 'string', value: 'PORT', description: 'Serve Prometheus metrics at http://HOST:PORT/metrics (sluice.metrics.port)' },
    { name: 'on-corruption', type: 'string', value: 'POLICY', description: 'Invalid data before a partition\'s last segment: refuse to start, or truncate there (sluice.log.on.corruption)', default: 'refuse' },
    { name: 'log-level', type: 'string', value: 'LEVEL', description: 'Log level: trace, debug, info, warn, error', default: 'info' },
  ],
  async run({ values, stdout }) {
    const flags: Record<string, string> = {};
    const file = typeof values['config'] === 'string' ? readPropertiesFile(values['config']) : {};
    const env = configFromEnv(process.env);
    const host = typeof values['host'] === 'string' ? values['host'] : undefined;
    const port = typeof values['port'] === 'string' ? values['port'] : undefined;
    if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError(`--port expects a number, got "${port}"`);
    if (host !== undefined || port !== undefined) {
      // --host/--port replace parts of the listener the file or environment names, keeping its name.
      const base = resolveBrokerConfig(file, env);
      const h = host ?? base.host;
      flags['listeners'] = `${base.listenerName}://${h.includes(':') ? `[${h}]` : h}:${port ?? base.port}`;
    }
    if (typeof values['data-dir'] === 'string') flags['log.dirs'] = values['data-dir'];
    const brokerIdFlag = values['broker-id'];
    if (typeof brokerIdFlag === 'string') {
      if (!/^\d+$/.test(brokerIdFlag)) throw new UsageError(`--broker-id expects a non-negative number, got "${brokerIdFlag}"`);
      flags['broker.id'] = brokerIdFlag;
      // node.id (KRaft's name) wins over broker.id in the file or environment; the flag wins over both
      if (file['node.id'] !== undefined || env['node.id'] !== undefined) flags['node.id'] = brokerIdFlag;
    }
    if (typeof values['etcd'] === 'string') flags['sluice.etcd.endpoints'] = values['etcd'];
    const metricsPortFlag = values['metrics-port'];
    if (typeof metricsPortFlag === 'string') {
      if (!/^\d+$/.test(metricsPortFlag)) throw new UsageError(`--metrics-port expects a number, got "${metricsPortFlag}"`);
      flags['sluice.metrics.port'] = metricsPortFlag;
    }
    const onCorruption = values['on-corruption'];
    if (typeof onCorruption === 'string') {
      if (onCorruption !== 'refuse' && onCorruption !== 'truncate') throw new UsageError(`--on-corruption expects refuse or truncate, got "${onCorruption}"`);
      flags['sluice.log.on.corruption'] = onCorruption;
    }
    const cfg = resolveBrokerConfig(file, env, flags);

    const level = typeof values['log-level'] === 'string' ? values['log-level'] : 'info';
    // JSON lines for pipes and log shippers; readable lines (pino-pretty) when a person watches the terminal.
    const logger = process.stderr.isTTY
      ? pino({ name: 'sluice', level }, (await import('pino-pretty')).default({ destination: 2, sync: true, singleLine: true, ignore: 'pid,hostname,name' }))
      : pino({ name: 'sluice', level }, pino.destination(2));
    const dataDir = resolve(cfg.dataDir);
    if (cfg.ignoredKeys.length > 0) {
      const why = [...new Set(cfg.ignoredKeys.map((k) => KAFKA_KEYS_WITHOUT_EFFECT.get(k)!))];
      logger.warn({ keys: cfg.ignoredKeys }, `ignoring Kafka settings that do not apply to a single Sluice node: ${cfg.ignoredKeys.join(', ')} (${why.join('; ')})`);
    }
    if (cfg.unservedListeners.length > 0) {
      logger.warn({ listeners: cfg.unservedListeners }, `serving one listener; not serving ${cfg.unservedListeners.join(', ')}`);
    }

    const { startNode } = await import('../node/node.js');
    const node = await startNode({
      engine: {
        dataDir,
        owners: cfg.ownerThreads,
        ringBytes: cfg.ringBytes,
        topicDefaults: cfg.topicDefaults,
        defaultPartitions: cfg.defaultPartitions,
        maintenanceIntervalMs: cfg.maintenanceIntervalMs,
        producerIdExpirationMs: cfg.producerIdExpirationMs,
        onCorruption: cfg.onCorruption,
        logger,
      },
      logger,
      brokerId: cfg.brokerId,
      offsetsTopicPartitions: cfg.offsetsTopicPartitions,
      groups: cfg.group,
      kafka: {
        host: cfg.host,
        port: cfg.port,
        advertisedHost: cfg.advertisedHost,
        ...(cfg.advertisedPort !== null ? { advertisedPort: cfg.advertisedPort } : {}),
        autoCreateTopics: cfg.autoCreateTopics,
        defaultPartitions: cfg.defaultPartitions,
        socketRequestMaxBytes: cfg.socketRequestMaxBytes,
        queuedMaxRequestBytes: cfg.queuedMaxRequestBytes,
        connectionsMaxIdleMs: cfg.connectionsMaxIdleMs,
        requestReadTimeoutMs: cfg.requestReadTimeoutMs,
        maxConnections: cfg.maxConnections,
        maxConnectionsPerIp: cfg.maxConnectionsPerIp,
        brokerConfig: cfg.entries,
      },
      ...(cfg.metricsPort !== null ? { metrics: { host: cfg.host, port: cfg.metricsPort } } : {}),
      ...(cfg.etcd !== null ? { etcd: { endpoints: cfg.etcd.endpoints, prefix: cfg.etcd.prefix, sessionTimeoutMs: cfg.brokerSessionTimeoutMs } } : {}),
    });
    const { host: boundHost, port: boundPort } = node.kafka!.address;
    const where = cfg.etcd !== null ? `, metadata in etcd ${cfg.etcd.endpoints.join(',')} under ${cfg.etcd.prefix}, broker.id ${node.brokerId}` : '';
    // The handlers go in before the ready line: a supervisor may signal as soon as it reads it, and until a
    // handler is installed SIGTERM's default action kills the process without a clean close.
    return await new Promise<number>((resolveExit) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        void (async () => {
          try {
            await node.close();
            logger.info({}, 'stopped cleanly');
            resolveExit(0);
          } catch (e) {
            logger.error({ err: e }, 'error during shutdown');
            resolveExit(1);
          }
        })();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      stdout.write(`sluice: listening on ${boundHost}:${boundPort} (data in ${dataDir}${where})\n`);
    });
  },
};
