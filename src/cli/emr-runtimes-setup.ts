import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/project-paths.js';
import { type RehearsalRuntime, isSeparateRuntime, pythonMinorOf, rehearsalRuntimes } from '../engines/emr/rehearsal-runtimes.js';
import { isVenvCurrent, requirementsHash, writeVenvStamp } from '../engines/venv-stamp.js';
import { PrerequisiteError } from '../errors.js';
import { findPython } from './find-python.js';
import { runTool } from './run-tool.js';
import { ensureDeltaJars } from './delta-jars-setup.js';
import { ensureS3aJars } from './s3a-jars-setup.js';

export interface EmrRuntimesOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly quiet: boolean;
  readonly say: (line: string) => void;
}

/**
 * Makes the rehearsal runtime of every EMR release family that does not run on the project's
 * .venv (emr-7.x: `.venv-emr7`, PySpark 3.5 and py4j on Python 3.9), and the s3a jars of its
 * Spark's Hadoop. pip runs only when the venv's stamp does not match its requirements file.
 * The project's .venv and its jars (emr-spark-8.x) are the caller's (ensurePythonEnv, ensureS3aJars).
 */
export async function ensureEmrRuntimes(options: EmrRuntimesOptions): Promise<RehearsalRuntime[]> {
  const made: RehearsalRuntime[] = [];
  for (const runtime of rehearsalRuntimes().filter(isSeparateRuntime)) {
    await ensureRuntimeVenv(runtime, options);
    const s3a = rel(await ensureS3aJars({ ...options, sparkSubmit: runtime.sparkSubmit }));
    const delta = rel(await ensureDeltaJars({ ...options, sparkSubmit: runtime.sparkSubmit }));
    options.say(
      `${runtime.family.name} rehearsal runtime ready in ${rel(runtime.venvDir)}; s3a jars in ${s3a}; Delta Lake jars in ${delta}`,
    );
    made.push(runtime);
  }
  return made;
}

function rel(p: string): string {
  return path.relative(PROJECT_ROOT, p);
}

async function ensureRuntimeVenv(runtime: RehearsalRuntime, options: EmrRuntimesOptions): Promise<void> {
  const wanted = await requirementsHash(runtime.requirements).catch((error: unknown) => {
    throw new PrerequisiteError(`${runtime.requirements} is missing: this checkout is incomplete.`, { cause: error });
  });
  const minor = runtime.family.rehearsalPython;
  if ((await isVenvCurrent(runtime.venvDir, runtime.requirements)) && (await pythonMinorOf(runtime.python)) === minor) return;

  // Made afresh each time its requirements change: the venv must hold exactly what they pin.
  const { python, version } = await findPython(
    minor,
    `The ${runtime.family.name} rehearsal runtime (${rel(runtime.venvDir)})`,
    options.env,
  );
  if (existsSync(runtime.venvDir)) await rm(runtime.venvDir, { recursive: true, force: true });
  options.say(`Creating ${rel(runtime.venvDir)} for the ${runtime.family.name} rehearsal from Python ${version} (${python}) ...`);
  await runTool(python, ['-m', 'venv', runtime.venvDir], `Creating ${rel(runtime.venvDir)}`, options);
  options.say(
    `Installing ${rel(runtime.requirements)} into it (PySpark ${runtime.family.sparkLine} and py4j only; about 320 MB the first time) ...`,
  );
  // pyspark 3.5 is an sdist: --use-pep517 builds it into a wheel that pip caches (the next venv
  // installs in seconds instead of running setup.py install again), and leaves nothing else behind.
  await runTool(
    runtime.python,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--use-pep517',
      ...(options.quiet ? ['--quiet'] : []),
      '-r',
      runtime.requirements,
    ],
    `pip install into ${rel(runtime.venvDir)}`,
    options,
  );
  await writeVenvStamp(runtime.venvDir, wanted);
}
