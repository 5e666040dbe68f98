import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { VENV_PYTHON } from '../../src/config/project-paths.js';

/** The project's venv Python; integration tests need it and say how to get it rather than skip. */
export function venvPython(): string {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(`${VENV_PYTHON} is missing: run \`npx s3-spark-watcher setup\` (or bash .ci/run) before the integration tests`);
  }
  return VENV_PYTHON;
}

/** Rows of a Parquet folder, read back with pyarrow. */
export async function readParquetRows(folder: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await execa(venvPython(), [path.resolve('test/helpers/read_parquet.py'), folder]);
  return JSON.parse(stdout) as Record<string, unknown>[];
}
