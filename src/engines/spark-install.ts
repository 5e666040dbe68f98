import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { VENV_PYTHON, VENV_SPARK_SUBMIT } from '../config/project-paths.js';
import { PrerequisiteError } from '../errors.js';

export interface SparkInstall {
  readonly sparkSubmit: string;
  /** The Python the driver runs under (the venv's, so PySpark and the job's imports are found). */
  readonly pysparkPython?: string;
}

const SETUP_HINT = 'Run `npx s3-spark-watcher setup` (makes .venv with the pinned PySpark), or set SPARK_SUBMIT to a spark-submit.';

/** Finds spark-submit: SPARK_SUBMIT, else the project's .venv, else PATH. */
export function resolveSparkInstall(configured: string | undefined, env: Readonly<Record<string, string>>): SparkInstall {
  if (configured !== undefined) {
    const file = configured.includes('/') ? configured : findOnPath(configured, env['PATH']);
    if (file === undefined || !isExecutable(file)) {
      throw new PrerequisiteError(`SPARK_SUBMIT=${configured} is not an executable file. ${SETUP_HINT}`);
    }
    return { sparkSubmit: file, ...(env['PYSPARK_PYTHON'] ? { pysparkPython: env['PYSPARK_PYTHON'] } : {}) };
  }
  if (isExecutable(VENV_SPARK_SUBMIT)) return { sparkSubmit: VENV_SPARK_SUBMIT, pysparkPython: VENV_PYTHON };
  const onPath = findOnPath('spark-submit', env['PATH']);
  if (onPath !== undefined) return { sparkSubmit: onPath, ...(env['PYSPARK_PYTHON'] ? { pysparkPython: env['PYSPARK_PYTHON'] } : {}) };
  throw new PrerequisiteError(`No Spark found: no .venv/bin/spark-submit and no spark-submit on PATH. ${SETUP_HINT}`);
}

/** Spark 4 needs Java 17 or newer; say so plainly instead of letting spark-submit fail obscurely. */
export async function checkJava(env: Readonly<Record<string, string>>): Promise<string> {
  const java = env['JAVA_HOME'] ? path.join(env['JAVA_HOME'], 'bin', 'java') : 'java';
  const hint =
    'Install Java 17 (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) and put it on PATH or set JAVA_HOME.';
  let output: string;
  try {
    const result = await execa(java, ['-version'], { env, extendEnv: false, reject: false, timeout: 30_000 });
    if (result.failed && result.exitCode === undefined) throw result;
    output = `${result.stderr}\n${result.stdout}`;
  } catch (error) {
    throw new PrerequisiteError(`Java was not found (${java}). ${hint}`, { cause: error });
  }
  const m = /version "(\d+)(?:\.(\d+))?/u.exec(output);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= 17))
    throw new PrerequisiteError(`Spark 4 needs Java 17 or newer; ${java} is ${m ? `Java ${major}` : 'of unknown version'}. ${hint}`);
  return `Java ${major}`;
}

function findOnPath(name: string, pathValue: string | undefined): string | undefined {
  for (const dir of (pathValue ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return existsSync(file);
  } catch {
    return false;
  }
}
