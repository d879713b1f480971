/**
 * The `sluice` command table. Help text and the CLI reference in docs/ are generated from these
 * definitions, so a flag is described in exactly one place.
 */
import { parseArgs } from 'node:util';

export interface OptionDef {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help, e.g. "PORT". */
  value?: string;
  description: string;
  default?: string | boolean;
  multiple?: boolean;
}

export interface CommandDef {
  name: string;
  summary: string;
  usage: string;
  options: OptionDef[];
  /** Extra help paragraphs. */
  details?: string;
  /** A command group's subcommands, so `sluice <group> <sub> --help` can print the subcommand's own help. */
  subcommands?: readonly CommandDef[];
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A usage mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandArgs(def: CommandDef, argv: string[]): Pick<CommandContext, 'values' | 'positionals'> {
  const options: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const o of def.options) {
    options[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as CommandContext['values'], positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!);
  }
}

export function formatCommandHelp(def: CommandDef): string {
  const lines = [`Usage: ${def.usage}`, '', def.summary];
  if (def.details) lines.push('', def.details);
  if (def.options.length) {
    lines.push('', 'Options:');
    const rows = def.options.map((o) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
      const dflt = o.default !== undefined ? ` (default: ${String(o.default)})` : '';
      return [flag, `${o.description}${dflt}`] as const;
    });
    const width = Math.max(...rows.map((r) => r[0].length)) + 2;
    for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  }
  lines.push('  -h, --help'.padEnd(0), '');
  return lines.join('\n');
}
