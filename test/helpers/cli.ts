import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

/** Runs the CLI in-process with this environment; returns the exit code and what it printed. */
export async function runCliWithEnv(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd = process.cwd(),
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main({ args, stdout, stderr, cwd, env });
  return { code, out, err };
}

/** Runs the CLI in-process on a local lake; returns the exit code and what it printed. */
export function runCli(lake: string, args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return runCliWithEnv(args, { LAKE: lake }, lake);
}
