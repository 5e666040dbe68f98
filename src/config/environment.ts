import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { ConfigError } from '../errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** Which settings came from the `.env` file (not overridden by the real environment), to name it in errors. */
export interface EnvFileSource {
  readonly path: string;
  readonly names: ReadonlySet<string>;
}

/**
 * The only place that reads process.env. Values from `.env` in `cwd` fill in what the real
 * environment does not set (the real environment wins, as with dotenv's defaults); process.env
 * itself is not modified.
 */
export function readEnvironment(cwd: string = process.cwd(), envFile = '.env'): Environment {
  return readEnvironmentWithSource(cwd, envFile).env;
}

/** readEnvironment, and which of its values came from the `.env` file. */
export function readEnvironmentWithSource(cwd: string = process.cwd(), envFile = '.env'): { env: Environment; envFile: EnvFileSource } {
  const file = path.resolve(cwd, envFile);
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parse(readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file} cannot be read (${(error as Error).message}). Fix its permissions or remove it.`, { cause: error });
    }
  }
  const names = new Set(Object.keys(fromFile).filter((name) => process.env[name] === undefined));
  return { env: Object.freeze({ ...fromFile, ...process.env }), envFile: { path: file, names } };
}
