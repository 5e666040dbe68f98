import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { ConfigError } from '../errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The only place that reads process.env. Values from `.env` in `cwd` fill in what the real
 * environment does not set (the real environment wins, as with dotenv's defaults); process.env
 * itself is not modified.
 */
export function readEnvironment(cwd: string = process.cwd(), envFile = '.env'): Environment {
  const file = path.resolve(cwd, envFile);
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parse(readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file} cannot be read (${(error as Error).message}). Fix its permissions or remove it.`, { cause: error });
    }
  }
  return Object.freeze({ ...fromFile, ...process.env });
}
