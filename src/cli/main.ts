import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../config/project-paths.js';
import { ConfigError, MarkerCorruptError, PrerequisiteError, describeError } from '../errors.js';
import { SETTINGS } from '../config/config.js';

/** The settings' names in --help, in one column with two spaces after the longest. */
const NAME_WIDTH = Math.max(...SETTINGS.map((s) => s.name.length)) + 2;
import { type CommandContext, defaultContext, writeLine } from './context.js';
import { curatedCommand, curatedHelp } from './commands/curated.js';
import { deadLetterCommand, deadLetterHelp } from './commands/dead-letter.js';
import { markerCommand, markerHelp } from './commands/marker.js';
import { demoCommand, demoHelp } from './commands/demo.js';
import { onceCommand, onceHelp } from './commands/once.js';
import { setupCommand, setupHelp } from './commands/setup.js';
import { sparkConnectCommand, sparkConnectHelp } from './commands/spark-connect.js';
import { statusCommand, statusHelp } from './commands/status.js';
import { watchCommand, watchHelp } from './commands/watch.js';

const COMMANDS: Record<string, (ctx: CommandContext) => Promise<number>> = {
  watch: watchCommand,
  once: onceCommand,
  status: statusCommand,
  setup: setupCommand,
  demo: demoCommand,
  'spark-connect': sparkConnectCommand,
  'dead-letter': deadLetterCommand,
  marker: markerCommand,
  curated: curatedCommand,
};

function help(): string {
  return `s3-spark-watcher — run a PySpark job for new Parquet file versions under raw/ (one per version, or batches of them)

Usage: s3-spark-watcher <command> [options]

Commands:
  ${[watchHelp, onceHelp, statusHelp, deadLetterHelp, markerHelp, curatedHelp, setupHelp, demoHelp, sparkConnectHelp].join('\n  ')}

Configuration comes from the environment and ./.env:
${SETTINGS.map((s) => `  ${s.name.padEnd(NAME_WIDTH)}${s.meaning} (default: ${s.default})`).join('\n')}

Exit codes: 0 done, 1 a job or pass failed, 2 bad configuration or a missing prerequisite.`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs a command; returns the exit code. Expected failures are one clear message, never a stack trace. */
export async function main(ctx: CommandContext): Promise<number> {
  const [command, ...rest] = ctx.args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    writeLine(command === undefined ? ctx.stderr : ctx.stdout, help());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    writeLine(ctx.stdout, version());
    return 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    writeLine(
      ctx.stderr,
      `s3-spark-watcher: unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(', ')}; --help for more.`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(ctx.stdout, help());
    return 0;
  }
  try {
    return await run({ ...ctx, args: rest });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PrerequisiteError) {
      writeLine(ctx.stderr, `s3-spark-watcher: ${error.message}`);
      return 2;
    }
    if (error instanceof MarkerCorruptError) {
      writeLine(ctx.stderr, `s3-spark-watcher: ${error.message}`);
      return 1;
    }
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      writeLine(ctx.stderr, `s3-spark-watcher ${command}: ${error.message}. See --help.`);
      return 2;
    }
    writeLine(ctx.stderr, `s3-spark-watcher: ${describeError(error)}`);
    if (ctx.env['LOG_LEVEL'] === 'debug' && error instanceof Error) writeLine(ctx.stderr, error.stack ?? '');
    return 1;
  }
}

/** The process entry point used by bin/s3-spark-watcher.js. */
export async function run(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let ctx: CommandContext;
  try {
    ctx = defaultContext(argv);
  } catch (error) {
    writeLine(process.stderr, `s3-spark-watcher: ${describeError(error)}`);
    process.exitCode = 2;
    return;
  }
  process.exitCode = await main(ctx);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
