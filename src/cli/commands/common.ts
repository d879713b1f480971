/** Shared pieces of the client commands: subcommand groups, the broker connection, flag parsing, tables. */
import type { CommandContext, CommandDef, OptionDef } from '../command.js';
import { UsageError, formatCommandHelp } from '../command.js';
import { KafkaClient } from '../../kafka-client/client.js';
import { envNameOf } from '../broker-config.js';

export type Values = CommandContext['values'];

/** A subcommand of a command group (`sluice topics create`). */
export interface SubcommandDef {
  name: string;
  summary: string;
  usage: string;
  options: OptionDef[];
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}

export const BOOTSTRAP_OPTION: OptionDef = {
  name: 'bootstrap-server',
  type: 'string',
  short: 'b',
  value: 'HOST:PORT',
  description: 'Broker to connect to (comma-separated list allowed)',
  default: '127.0.0.1:9092, or the address in SLUICE_CFG_ADVERTISED_LISTENERS / SLUICE_CFG_LISTENERS when set',
};

/**
 * The broker the tools talk to without --bootstrap-server: the one `sluice start` would run in the same
 * environment, so a shell that exports SLUICE_CFG_LISTENERS for the broker needs no flag on every command.
 */
export function defaultBootstrap(env: NodeJS.ProcessEnv = process.env): string {
  const listener = env[envNameOf('advertised.listeners')] || env[envNameOf('listeners')];
  const m = listener ? /^(?:[A-Za-z_]+:\/\/)?\[?([^\]]*?)\]?:(\d+)$/.exec(listener.split(',')[0]!.trim()) : null;
  if (!m || Number(m[2]) === 0) return '127.0.0.1:9092'; // port 0: the bound port is not knowable here
  // a wildcard listener accepts local connections
  const host = m[1] === '' || m[1] === '0.0.0.0' || m[1] === '::' ? '127.0.0.1' : m[1]!;
  return `${host.includes(':') ? `[${host}]` : host}:${Number(m[2])}`;
}

export const CLIENT_ID_OPTION: OptionDef = {
  name: 'client-id',
  type: 'string',
  value: 'ID',
  description: 'Client id sent to the broker',
  default: 'sluice-cli',
};

/**
 * Builds one CommandDef from subcommands. The parser sees the union of their options; `run` then rejects
 * options that do not belong to the chosen subcommand. `sluice <group> --help` shows every subcommand's usage
 * and the options; `sluice <group> <sub> --help` (main.ts, through `subcommands`) and
 * `sluice <group> help <sub>` show one subcommand's.
 */
export function defineGroup(group: { name: string; summary: string; details?: string; subcommands: SubcommandDef[] }): CommandDef {
  const options: OptionDef[] = [];
  for (const s of group.subcommands) {
    for (const o of s.options) {
      const prev = options.find((x) => x.name === o.name);
      if (!prev) options.push(o);
      else if (prev.type !== o.type || prev.short !== o.short || prev.multiple !== o.multiple) {
        throw new Error(`option --${o.name} differs between subcommands of ${group.name}`);
      }
    }
  }
  const subList = group.subcommands.map((s) => `  ${s.usage}\n      ${s.summary}`).join('\n');
  const details = [
    'Subcommands:',
    subList,
    '',
    `Run \`sluice ${group.name} <subcommand> --help\` for one subcommand's options.`,
    ...(group.details ? ['', group.details] : []),
  ].join('\n');
  return {
    name: group.name,
    summary: group.summary,
    usage: `sluice ${group.name} <${group.subcommands.map((s) => s.name).join('|')}> [options]`,
    details,
    options,
    subcommands: group.subcommands.map(subcommandAsCommand),
    async run(ctx) {
      const [subName, ...rest] = ctx.positionals;
      if (subName === 'help') {
        const target = rest[0] === undefined ? undefined : group.subcommands.find((s) => s.name === rest[0]);
        if (rest[0] !== undefined && !target) throw new UsageError(`unknown subcommand "${rest[0]}"`);
        ctx.stdout.write(target ? formatCommandHelp(subcommandAsCommand(target)) : formatCommandHelp(this));
        return 0;
      }
      if (subName === undefined) throw new UsageError(`missing subcommand (${group.subcommands.map((s) => s.name).join(', ')})`);
      const sub = group.subcommands.find((s) => s.name === subName);
      if (!sub) throw new UsageError(`unknown subcommand "${subName}" (${group.subcommands.map((s) => s.name).join(', ')})`);
      for (const [k, v] of Object.entries(ctx.values)) {
        if (v === undefined || k === 'help') continue;
        if (!sub.options.some((o) => o.name === k)) throw new UsageError(`option --${k} does not apply to "${group.name} ${sub.name}"`);
      }
      try {
        return await sub.run({ ...ctx, positionals: rest });
      } catch (e) {
        if (e instanceof UsageError) throw new UsageError(`${sub.name}: ${e.message}`);
        throw e;
      }
    },
  };
}

function subcommandAsCommand(s: SubcommandDef): CommandDef {
  return { name: s.name, summary: s.summary, usage: s.usage, options: s.options, ...(s.details ? { details: s.details } : {}), run: s.run };
}

/** Connects to the broker named by --bootstrap-server. */
export async function connect(values: Values, opts: { requestTimeoutMs?: number } = {}): Promise<KafkaClient> {
  const bootstrap = str(values, 'bootstrap-server') ?? defaultBootstrap();
  return KafkaClient.connect({
    bootstrap,
    clientId: str(values, 'client-id') ?? 'sluice-cli',
    connectTimeoutMs: 10_000,
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
  });
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(values: Values, fn: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = await connect(values);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(values: Values, name: string): boolean {
  return values[name] === true;
}

export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** An integer flag within [min, max]; undefined when absent. */
export function int(values: Values, name: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const s = str(values, name);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s.trim())) throw new UsageError(`--${name} expects an integer, got "${s}"`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = opts.max !== undefined ? `${opts.min ?? '-inf'}..${opts.max}` : `>= ${opts.min}`;
    throw new UsageError(`--${name} must be an integer ${range}, got "${s}"`);
  }
  return n;
}

/** A non-negative offset flag as a bigint. */
export function offsetFlag(values: Values, name: string): bigint | undefined {
  const s = str(values, name);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s.trim())) throw new UsageError(`--${name} expects a non-negative integer offset, got "${s}"`);
  return BigInt(s.trim());
}

/** An ISO-8601 date-time (or ms since the epoch) as ms. */
export function timeFlag(values: Values, name: string): bigint | undefined {
  const s = str(values, name);
  if (s === undefined) return undefined;
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} expects an ISO-8601 date-time (e.g. 2024-05-01T12:00:00Z) or epoch ms, got "${s}"`);
  return BigInt(ms);
}

/** `k=v` pairs (repeatable flag) as a record. */
export function keyValues(values: Values, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list(values, name)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--${name} expects KEY=VALUE, got "${kv}"`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Exactly one positional argument (e.g. TOPIC). */
export function onePositional(ctx: CommandContext, what: string): string {
  if (ctx.positionals.length === 0) throw new UsageError(`missing ${what} argument`);
  if (ctx.positionals.length > 1) throw new UsageError(`unexpected argument "${ctx.positionals[1]}"`);
  return ctx.positionals[0]!;
}

export function noPositionals(ctx: CommandContext): void {
  if (ctx.positionals.length > 0) throw new UsageError(`unexpected argument "${ctx.positionals[0]}"`);
}

/** Left-aligned text table with a header row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
