import { parseArgs } from 'node:util';
import { SECRET_VARIABLES } from '../../config/config.js';
import { checkJava } from '../../engines/spark-install.js';
import { ensurePythonEnv } from '../python-env.js';
import { type CommandContext, writeLine } from '../context.js';

export const setupHelp = `setup [--quiet] make .venv with the pinned PySpark (only when needed) and check Java`;

export async function setupCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: [...ctx.args], options: { quiet: { type: 'boolean', default: false } }, strict: true });
  const env = childEnv(ctx);
  const say = (line: string): void => writeLine(ctx.stderr, line);
  await ensurePythonEnv({ env, quiet: values.quiet, say });
  const java = await checkJava(env);
  if (!values.quiet) say(`Ready: ${java}, PySpark in .venv.`);
  return 0;
}

/** The environment for helper processes: this one, less the secrets. */
export function childEnv(ctx: CommandContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && !SECRET_VARIABLES.has(k)) env[k] = v;
  return env;
}
