import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REQUIREMENTS_PATH, VENV_DIR, VENV_PYTHON } from '../config/project-paths.js';
import { isVenvCurrent, requirementsHash, writeVenvStamp } from '../engines/venv-stamp.js';
import { PrerequisiteError } from '../errors.js';
import { runTool } from './run-tool.js';

export interface PythonEnvOptions {
  readonly env: Readonly<Record<string, string>>;
  /** Show pip's own progress (a person at a terminal), or keep quiet and show output only on failure. */
  readonly quiet: boolean;
  readonly say: (line: string) => void;
}

/**
 * Makes sure `.venv` exists with the pinned requirements (PySpark, pyarrow, pytest). Re-runs pip
 * only when spark-jobs/requirements.txt changed since the last successful install.
 */
export async function ensurePythonEnv(options: PythonEnvOptions): Promise<void> {
  const wanted = await requirementsHash(REQUIREMENTS_PATH).catch((error: unknown) => {
    throw new PrerequisiteError(`${REQUIREMENTS_PATH} is missing: this checkout is incomplete.`, { cause: error });
  });
  if (await isVenvCurrent(VENV_DIR, REQUIREMENTS_PATH)) return;

  const run = (file: string, args: string[], what: string): Promise<void> => runTool(file, args, what, options);

  if (!existsSync(VENV_PYTHON)) {
    const python = options.env['PYTHON'] ?? 'python3';
    await checkPython(python, options.env);
    options.say(`Creating the project's Python virtualenv in ${VENV_DIR} ...`);
    await run(python, ['-m', 'venv', VENV_DIR], 'Creating the virtualenv').catch((error: unknown) => {
      throw new PrerequisiteError(
        `Could not create a virtualenv with ${python}. On Debian/Ubuntu install the venv module: \`apt-get install python3-venv\`.`,
        { cause: error },
      );
    });
  }
  options.say(
    `Installing the pinned PySpark and job dependencies from ${path.relative(process.cwd(), REQUIREMENTS_PATH)} (about 450 MB the first time) ...`,
  );
  await run(
    VENV_PYTHON,
    ['-m', 'pip', 'install', '--disable-pip-version-check', ...(options.quiet ? ['--quiet'] : []), '-r', REQUIREMENTS_PATH],
    'pip install',
  );
  await writeVenvStamp(VENV_DIR, wanted);
  options.say('Python environment ready.');
}

async function checkPython(python: string, env: Readonly<Record<string, string>>): Promise<void> {
  const hint =
    'Install Python 3.10 or newer (Debian/Ubuntu: `apt-get install python3 python3-venv`; macOS: `brew install python@3.11`), or set PYTHON to one.';
  const result = await execa(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { env, extendEnv: false, reject: false });
  if (result.failed) throw new PrerequisiteError(`Python was not found (${python}). ${hint}`);
  const [major = 0, minor = 0] = String(result.stdout).trim().split('.').map(Number);
  if (major < 3 || (major === 3 && minor < 10)) throw new PrerequisiteError(`${python} is Python ${major}.${minor}. ${hint}`);
}
