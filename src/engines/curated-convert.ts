import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RetryableJobError } from './job-errors.js';
import { type SpawnFn, signalProcessGroup, spawnProcessGroup } from './process-tree.js';
import { type SparkSubmitSettings, exitError, readTail, sparkSubmitEnv, sparkSubmitOptions } from './spark-submit-engine.js';

/** What `spark-jobs/curated_convert.py` says it did (its last stdout line). */
export interface CuratedConversion {
  readonly dataset: string;
  /** The table's URI as Spark saw it. */
  readonly table: string;
  /** False: it was a Delta table already, and nothing was done. */
  readonly converted: boolean;
  /** The Delta table's version afterwards. */
  readonly version: number;
  /** Its rows, counted before and after the conversion (the same, or the run failed). */
  readonly rows: number;
  readonly partitionBy: readonly string[];
  /** The Spark SQL that converted it; null when nothing was done. */
  readonly statement: string | null;
}

export interface CuratedConvertOptions extends SparkSubmitSettings {
  readonly sparkSubmit: string;
  readonly pysparkPython: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  /** `spark-jobs/curated_convert.py`. */
  readonly scriptPath: string;
  /** The lake root as Spark sees it. */
  readonly lakeUri: string;
  readonly dataset: string;
  readonly runId: string;
  /** The driver's output goes here. */
  readonly logPath: string;
  readonly spawn?: SpawnFn;
}

const RESULT_PREFIX = 'curated_convert: ';

/**
 * Runs the conversion of `curated/<dataset>/` to a Delta Lake table on local Spark (spark-submit
 * in its own process group, stopped whole when `signal` aborts). Exit 2: PermanentJobError (no
 * table, or one that cannot be converted); anything else that is not success: RetryableJobError.
 */
export async function convertCuratedTable(o: CuratedConvertOptions, signal?: AbortSignal): Promise<CuratedConversion> {
  signal?.throwIfAborted();
  await mkdir(path.dirname(o.logPath), { recursive: true });
  await writeFile(o.logPath, '', { mode: 0o600 });
  const env = sparkSubmitEnv(o);
  const args = [
    ...sparkSubmitOptions(o, `s3-spark-watcher curated convert ${o.dataset}`),
    o.scriptPath,
    ...['--lake', o.lakeUri, '--dataset', o.dataset, '--run-id', o.runId],
  ];
  const child = (o.spawn ?? spawnProcessGroup)(o.sparkSubmit, args, { env, cwd: path.dirname(o.scriptPath), outputFile: o.logPath });
  const stop = (): void => signalProcessGroup(child.pid, 'SIGTERM');
  signal?.addEventListener('abort', stop, { once: true });
  let exit;
  try {
    exit = await child.exited;
  } finally {
    signal?.removeEventListener('abort', stop);
    signalProcessGroup(child.pid, 'SIGKILL'); // whatever it left in its group goes with it
  }
  const details = { runId: o.runId, exitCode: exit.exitCode, logPath: o.logPath };
  if (signal?.aborted) {
    const why = signal.reason instanceof Error ? signal.reason.message : 'stopped';
    throw new RetryableJobError(`stopped before it finished (${why})`, details, { cause: signal.reason });
  }
  if (exit.startError !== undefined) throw new RetryableJobError(`could not start ${o.sparkSubmit}: ${exit.startError}`, details);
  if (exit.exitCode === 0) {
    const line = (await readFile(o.logPath, 'utf8')).split('\n').findLast((l) => l.startsWith(RESULT_PREFIX));
    if (line !== undefined) return JSON.parse(line.slice(RESULT_PREFIX.length)) as CuratedConversion;
  }
  const logTail = await readTail(o.logPath);
  if (exit.exitCode === 0) throw new RetryableJobError('it exited 0 but printed no result', { ...details, logTail });
  throw exitError(exit, { ...details, logTail });
}
