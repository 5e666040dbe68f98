import { existsSync } from 'node:fs';
import type winston from 'winston';
import { type Config, loadConfig } from '../config/config.js';
import { type EnvFileSource, type Environment, readEnvironmentWithSource } from '../config/environment.js';
import { createLogger } from '../observability/logger.js';
import { printable } from '../observability/printable.js';

/** What every command gets: its streams, the environment, and how to make a Config and a logger. */
export interface CommandContext {
  readonly args: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Environment;
  /** The `.env` file and the settings taken from it, so a bad value's message names the file. */
  readonly envFile?: EnvFileSource;
}

export function configFrom(ctx: CommandContext, overrides: Record<string, string> = {}): Config {
  const envFile = ctx.envFile && { path: ctx.envFile.path, names: new Set([...ctx.envFile.names].filter((n) => !(n in overrides))) };
  return loadConfig({ ...ctx.env, ...overrides }, { cwd: ctx.cwd, exists: existsSync, ...(envFile ? { envFile } : {}) });
}

/** Log lines go to stderr, or to `stream` (a progress line's, which keeps them above the line). */
export function loggerFor(ctx: CommandContext, config: Config, stream: NodeJS.WritableStream = ctx.stderr): winston.Logger {
  return createLogger({ level: config.logLevel, stream, ...(config.logFormat ? { format: config.logFormat } : {}) });
}

export function defaultContext(args: readonly string[]): CommandContext {
  const { env, envFile } = readEnvironmentWithSource(process.cwd());
  return { args, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env, envFile };
}

/** Writes a line of output; control characters a key or message may hold are escaped (`printable`). */
export function writeLine(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${printable(text)}\n`);
}
