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

/** A Delta table's latest version and commit, as delta-rs (no Spark) reads its log. */
export async function deltaHistory(table: string): Promise<{ version: number; committedAt: string; operation: string }> {
  const { stdout } = await execa(venvPython(), [
    '-c',
    `import json, os, sys, datetime
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
last = t.history(1)[0]
at = datetime.datetime.fromtimestamp(last["timestamp"] / 1000, datetime.timezone.utc)
sys.stdout.write(json.dumps({"version": t.version(), "committedAt": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "operation": last["operation"]}))
sys.stdout.flush()
os._exit(0)  # as read_parquet.py: delta-rs may abort in the interpreter's teardown`,
    table,
  ]);
  return JSON.parse(stdout) as { version: number; committedAt: string; operation: string };
}
