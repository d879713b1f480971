/** The `sluice` command: subcommands, help, exit codes (0 ok, 1 failure, 2 usage), one-line errors. */
import { readFileSync } from 'node:fs';
import type { CommandDef } from './command.js';
import { UsageError, formatCommandHelp, parseCommandArgs } from './command.js';
import { startCommand } from './start.js';
import { topicsCommand } from './commands/topics.js';
import { produceCommand } from './commands/produce.js';
import { consumeCommand } from './commands/consume.js';
import { groupsCommand } from './commands/groups.js';
import { perfCommand } from './commands/perf.js';
import { dumpLogCommand } from './commands/dump-log.js';
import { verifyCommand } from './commands/verify.js';
import { SluiceError } from '../errors.js';

export const COMMANDS: CommandDef[] = [startCommand, topicsCommand, produceCommand, consumeCommand, groupsCommand, perfCommand, dumpLogCommand, verifyCommand];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: sluice <command> [options]',
    '',
    'Sluice: a Kafka-compatible streaming log for Node.js.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `sluice <command> --help` for a command\'s options.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return main([...rest, '--help']); // `sluice help topics create`
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const def = COMMANDS.find((c) => c.name === name);
  if (!def) {
    process.stderr.write(`sluice: unknown command "${name}" (see sluice --help)\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseCommandArgs(def, rest);
    if (values['help']) {
      // `sluice topics create --help`: the subcommand's own options, not the whole group's
      const sub = def.subcommands?.find((s) => s.name === positionals[0]);
      process.stdout.write(formatCommandHelp(sub ?? def));
      return 0;
    }
    return await def.run({ values, positionals, stdout: process.stdout, stderr: process.stderr });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sluice ${name}: ${e.message} (see sluice ${name} --help)\n`);
      return 2;
    }
    const msg = e instanceof SluiceError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`sluice ${name}: ${msg}\n`);
    return 1;
  }
}
