import path from 'node:path';
import { parseArgs } from 'node:util';
import { SECRET_VARIABLES } from '../../config/config.js';
import { checkJava } from '../../engines/spark-install.js';
import { ensureDeltaJars } from '../delta-jars-setup.js';
import { ensureEmrRuntimes } from '../emr-runtimes-setup.js';
import { ensurePythonEnv } from '../python-env.js';
import { ensureS3aJars } from '../s3a-jars-setup.js';
import { type CommandContext, writeLine } from '../context.js';

export const setupHelp = `setup [--s3] [--emr-runtimes] [--quiet]
                make .venv with the pinned PySpark (only when needed), check Java, and fetch
                the Delta Lake jars curated tables need (Maven Central, or MAVEN_REPOSITORY_URL);
                --s3 also fetches hadoop-aws and the AWS SDK for s3:// lakes (Maven);
                --emr-runtimes (implies --s3) also makes what the EMR rehearsal tests run each
                release family on: .venv-emr7 (emr-7.x: PySpark 3.5 and py4j only, on Python 3.9,
                found as PYTHON39, python3.9 on PATH or ~/.pyenv/versions/3.9.*) and its s3a and Delta jars`;

export async function setupCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args: [...ctx.args],
    options: {
      quiet: { type: 'boolean', default: false },
      s3: { type: 'boolean', default: false },
      'emr-runtimes': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const env = childEnv(ctx);
  const say = (line: string): void => writeLine(ctx.stderr, line);
  await ensurePythonEnv({ env, quiet: values.quiet, say });
  const java = await checkJava(env);
  const delta = await ensureDeltaJars({ env, say });
  if (!values.quiet) say(`Delta Lake jars in ${path.relative(process.cwd(), delta)}`);
  const emrRuntimes = values['emr-runtimes'];
  if (values.s3 || emrRuntimes) say(`s3a jars in ${await ensureS3aJars({ env, quiet: values.quiet, say })}`);
  if (emrRuntimes) await ensureEmrRuntimes({ env, quiet: values.quiet, say });
  if (!values.quiet) say(`Ready: ${java}, PySpark in .venv${emrRuntimes ? ', the EMR rehearsal runtimes' : ''}.`);
  return 0;
}

/** The environment for helper processes: this one, less the secrets. */
export function childEnv(ctx: CommandContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && !SECRET_VARIABLES.has(k)) env[k] = v;
  return env;
}
