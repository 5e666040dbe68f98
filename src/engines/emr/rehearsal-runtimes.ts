import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT, REQUIREMENTS_PATH, SPARK_JOBS_DIR, VENV_DIR } from '../../config/project-paths.js';
import { PrerequisiteError } from '../../errors.js';
import { EMR_DELTA_JARS, deltaJars } from '../delta-support.js';
import { s3aJars } from '../s3a-support.js';
import { isVenvCurrent } from '../venv-stamp.js';
import { RELEASE_FAMILIES, type ReleaseFamily } from './release-families.js';

/**
 * Where the EMR rehearsal runs a release family's jobs: a virtualenv with that family's PySpark on
 * the family's `rehearsalPython`, so job code that the release's runtime cannot run fails here
 * too. emr-spark-8.x runs on the project's own `.venv` (PySpark 4.0, Python 3.11); emr-7.x on
 * `.venv-emr7` (PySpark 3.5 and py4j only, on Python 3.9), made by `setup --emr-runtimes`.
 */
export interface RehearsalRuntime {
  readonly family: ReleaseFamily;
  readonly venvDir: string;
  readonly python: string;
  readonly sparkSubmit: string;
  /** The pinned requirements the venv is made from (its stamp records them). */
  readonly requirements: string;
  /** The command that installs it, for errors. */
  readonly setupCommand: string;
}

const EMR_RUNTIMES_SETUP = 'npx s3-spark-watcher setup --emr-runtimes';

const VENVS: Readonly<Record<string, { dir: string; requirements: string }>> = {
  'emr-7.x': { dir: path.join(PROJECT_ROOT, '.venv-emr7'), requirements: path.join(SPARK_JOBS_DIR, 'requirements-emr7.txt') },
  'emr-spark-8.x': { dir: VENV_DIR, requirements: REQUIREMENTS_PATH },
};

export function rehearsalRuntime(family: ReleaseFamily): RehearsalRuntime {
  const venv = VENVS[family.name];
  if (venv === undefined) throw new Error(`no rehearsal runtime is declared for ${family.name}`);
  return {
    family,
    venvDir: venv.dir,
    python: path.join(venv.dir, 'bin', 'python'),
    sparkSubmit: path.join(venv.dir, 'bin', 'spark-submit'),
    requirements: venv.requirements,
    setupCommand: EMR_RUNTIMES_SETUP,
  };
}

/** Every family's runtime, in RELEASE_FAMILIES order. */
export function rehearsalRuntimes(): RehearsalRuntime[] {
  return RELEASE_FAMILIES.map(rehearsalRuntime);
}

/** True for the runtimes `setup --emr-runtimes` makes (not the project's own .venv). */
export function isSeparateRuntime(runtime: RehearsalRuntime): boolean {
  return runtime.venvDir !== VENV_DIR;
}

/**
 * The Pythons a runtime may run on: exactly the family's rehearsal Python in a venv made for the
 * rehearsal; any Python the release ships when the rehearsal uses the project's own .venv (made
 * from the machine's python3).
 */
export function acceptedPythons(runtime: RehearsalRuntime): readonly string[] {
  return isSeparateRuntime(runtime) ? [runtime.family.rehearsalPython] : runtime.family.shippedPythons;
}

/**
 * The runtime's s3a jars, once it is installed and current (stamp matches its requirements file);
 * otherwise a PrerequisiteError naming the setup command to run.
 */
export async function requireRehearsalRuntime(runtime: RehearsalRuntime): Promise<RehearsalJars> {
  const what = `The ${runtime.family.name} rehearsal runs on Spark ${runtime.family.sparkLine} with Python ${runtime.family.rehearsalPython} in ${path.relative(PROJECT_ROOT, runtime.venvDir)}`;
  if (!existsSync(runtime.sparkSubmit) || !(await isVenvCurrent(runtime.venvDir, runtime.requirements))) {
    throw new PrerequisiteError(
      `${what}, which is not installed or not current with ${path.relative(PROJECT_ROOT, runtime.requirements)}. Run \`${runtime.setupCommand}\`.`,
    );
  }
  const minor = await pythonMinorOf(runtime.python);
  if (minor === undefined || !acceptedPythons(runtime).includes(minor)) {
    throw new PrerequisiteError(
      `${what}, but its python is ${minor ?? 'not runnable'}. ${
        isSeparateRuntime(runtime)
          ? `Run \`${runtime.setupCommand}\` (it makes the venv again).`
          : `Make .venv again from a Python ${runtime.family.rehearsalPython}: remove .venv, then \`PYTHON=python${runtime.family.rehearsalPython} ${runtime.setupCommand}\`.`
      }`,
    );
  }
  try {
    const delta = deltaJars(runtime.sparkSubmit);
    return { jars: s3aJars(runtime.sparkSubmit), imageJars: Object.fromEntries(EMR_DELTA_JARS.map((image, i) => [image, delta[i] ?? ''])) };
  } catch (error) {
    throw new PrerequisiteError(`${what}, whose s3a or Delta Lake jars are missing. Run \`${runtime.setupCommand}\`.`, { cause: error });
  }
}

/** What the rehearsal adds to the runtime's Spark: the s3a jars, and the local copies of the jars a release image ships. */
export interface RehearsalJars {
  readonly jars: string[];
  /** A jar's path in the EMR image (EMR_DELTA_JARS) -> the same release's jar here, from Maven Central. */
  readonly imageJars: Readonly<Record<string, string>>;
}

/** `3.9` for a Python 3.9.x; undefined when it does not run. */
export async function pythonMinorOf(python: string): Promise<string | undefined> {
  const probe = await execa(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { reject: false, stdin: 'ignore' });
  return probe.failed ? undefined : String(probe.stdout).trim();
}
