import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from '../storage/object-store.js';
import { TypedEmitter } from '../controller/typed-emitter.js';
import type { JobRequest, SparkEngine } from './engine.js';
import { JobProcessRecords, type StoppedOrphan } from './job-process-records.js';
import { type JobFailureDetails, PermanentJobError, RetryableJobError } from './job-errors.js';
import { type ProcessExit, type SpawnFn, signalProcessGroup, spawnProcessGroup } from './process-tree.js';
import { DEFAULT_DRIVER_MEMORY, localSparkConf } from './local-spark-conf.js';
import { jobArguments } from './job-arguments.js';
import { type JobReport, readRunReport } from './run-report.js';
import { withUtf8Locale } from './utf8-locale.js';

/** The job's exit code for "the input itself is unusable: never retry" (DESIGN.md). */
export const PERMANENT_EXIT_CODE = 2;

export interface SparkSubmitEngineOptions {
  readonly sparkSubmit: string;
  readonly pysparkPython?: string | undefined;
  /** @default local[*] */
  readonly master?: string;
  readonly pipelinePath: string;
  /** The lake root as Spark sees it: `file:///abs/lake` or `s3a://bucket/prefix`. */
  readonly lakeUri: string;
  /** Where the job writes its report; read back after exit 0. */
  readonly store: ObjectStore;
  /** One `<run-id>.log` per run with the driver's stdout and stderr. */
  readonly logDir: string;
  readonly timeoutMs: number;
  /** SIGTERM first; SIGKILL the tree if it is still alive this much later. @default 10000 */
  readonly killGraceMs?: number;
  readonly env: Readonly<Record<string, string>>;
  /** The driver's heap (`--driver-memory`). @default DEFAULT_DRIVER_MEMORY.job */
  readonly driverMemory?: string;
  readonly sparkConf?: Readonly<Record<string, string>>;
  /** Extra jars for the driver and executors (hadoop-aws for s3a). */
  readonly jars?: readonly string[];
  readonly spawn?: SpawnFn;
  /**
   * Where each running job's process group is recorded, so a controller started after one that
   * was killed stops that one's orphaned jobs. @default `<logDir>/running/`
   */
  readonly processRecords?: JobProcessRecords;
}

export interface SparkSubmitEngineEvents {
  /** A job left running by a controller that is gone (killed) was stopped before this one ran anything. */
  'orphan:stopped': StoppedOrphan;
}

/** How spark-submit runs a script here: master, name, driver memory, Spark settings, jars. */
export type SparkSubmitSettings = Pick<SparkSubmitEngineOptions, 'master' | 'driverMemory' | 'sparkConf' | 'jars'>;

/** spark-submit's arguments before the script (the same for a job and for `curated convert`). */
export function sparkSubmitOptions(o: SparkSubmitSettings, name: string): string[] {
  const local = (o.master ?? 'local[*]').startsWith('local');
  const conf: Record<string, string> = {
    'spark.ui.enabled': 'false',
    ...(local ? localSparkConf() : {}),
    // In local mode the jars are on this machine: put them on the class path instead of
    // copying them (the AWS SDK bundle is 558 MB) into Spark's temp folder on every run.
    ...(local && o.jars?.length ? { 'spark.driver.extraClassPath': o.jars.join(':') } : {}),
    ...o.sparkConf,
  };
  return [
    '--master',
    o.master ?? 'local[*]',
    '--name',
    name,
    '--driver-memory',
    o.driverMemory ?? DEFAULT_DRIVER_MEMORY.job,
    ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    ...(!local && o.jars?.length ? ['--jars', o.jars.join(',')] : []),
  ];
}

/**
 * The local engine: one cold `spark-submit spark-jobs/pipeline.py ...` per file version, started
 * in its own process group so a timeout or shutdown stops the whole tree (bash, JVM, Python).
 */
export class SparkSubmitEngine implements SparkEngine {
  readonly name = 'local' as const;
  readonly events = new TypedEmitter<SparkSubmitEngineEvents>();
  readonly #o: SparkSubmitEngineOptions;
  readonly #spawn: SpawnFn;
  readonly #running = new Set<number>();
  readonly #records: JobProcessRecords;
  #orphansStopped: Promise<void> | undefined;

  constructor(options: SparkSubmitEngineOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`);
    this.#o = options;
    this.#spawn = options.spawn ?? spawnProcessGroup;
    this.#records = options.processRecords ?? new JobProcessRecords(path.join(options.logDir, 'running'));
  }

  /**
   * Once, before the first job: stops the jobs a killed controller left running (see
   * JobProcessRecords), so none of them writes the same outputs as a rerun of its version.
   */
  stopOrphans(signal?: AbortSignal): Promise<void> {
    return (this.#orphansStopped ??= (async () => {
      for (const orphan of await this.#records.stopOrphans(signal)) this.events.emit('orphan:stopped', orphan);
    })());
  }

  /** The exact argument array (no shell ever parses it). */
  commandFor(job: JobRequest): string[] {
    return [
      ...sparkSubmitOptions(this.#o, `s3-spark-watcher ${job.dataset} ${job.runId}`),
      this.#o.pipelinePath,
      ...jobArguments(this.#o.lakeUri, job),
    ];
  }

  async submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    signal?.throwIfAborted();
    await this.stopOrphans(signal);
    await mkdir(this.#o.logDir, { recursive: true });
    const logPath = path.join(this.#o.logDir, `${job.runId}.log`);
    await writeFile(logPath, '', { mode: 0o600 }); // the job appends; a retried run id starts clean
    const env = sparkSubmitEnv(this.#o);
    const child = this.#spawn(this.#o.sparkSubmit, this.commandFor(job), {
      env,
      cwd: path.dirname(this.#o.pipelinePath),
      outputFile: logPath,
    });
    const pid = child.pid;
    if (pid !== undefined) {
      this.#running.add(pid);
      // Best effort: without the record a killed controller's job is not stopped by the next one, but this job runs.
      await this.#records.add(job.runId, pid).catch(() => undefined);
    }

    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    const stop = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let killTimer: NodeJS.Timeout | undefined;
    const onStop = (): void => {
      signalProcessGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalProcessGroup(pid, 'SIGKILL'), this.#o.killGraceMs ?? 10_000);
      killTimer.unref();
    };
    stop.addEventListener('abort', onStop, { once: true });
    let exit;
    try {
      exit = await child.exited;
    } finally {
      stop.removeEventListener('abort', onStop);
      clearTimeout(killTimer);
      // Whatever the job left behind in its group (a Python worker, a daemon) goes with it.
      signalProcessGroup(pid, 'SIGKILL');
      if (pid !== undefined) {
        this.#running.delete(pid);
        await this.#records.remove(job.runId).catch(() => undefined);
      }
    }

    const details = { runId: job.runId, exitCode: exit.exitCode, logPath };
    if (signal?.aborted) {
      throw new RetryableJobError(
        `stopped before it finished (${String(signal.reason instanceof Error ? signal.reason.message : 'shutdown')})`,
        details,
        { cause: signal.reason },
      );
    }
    if (timeout.aborted)
      throw new RetryableJobError(`timed out after ${Math.round(this.#o.timeoutMs / 1000)} s; the process tree was stopped`, details);
    if (exit.startError !== undefined) throw new RetryableJobError(`could not start ${this.#o.sparkSubmit}: ${exit.startError}`, details);

    const logTail = await readTail(logPath);
    if (exit.exitCode === 0) {
      const report = await readRunReport(this.#o.store, job.runId, signal);
      if (report === undefined) throw new RetryableJobError('the job exited 0 but wrote no run report', { ...details, logTail });
      if (report.status !== 'succeeded')
        throw new RetryableJobError(`the job exited 0 but its report says ${report.status}`, { ...details, logTail });
      return report;
    }
    throw exitError(exit, { ...details, logTail });
  }

  async close(): Promise<void> {
    for (const pid of this.#running) signalProcessGroup(pid, 'SIGKILL');
    this.#running.clear();
  }
}

/** spark-submit's environment: UTF-8, the PySpark Python, and no hostname lookup for a local master. */
export function sparkSubmitEnv(o: Pick<SparkSubmitEngineOptions, 'env' | 'pysparkPython' | 'master'>): Record<string, string> {
  const env = withUtf8Locale(o.env);
  if (o.pysparkPython !== undefined) env['PYSPARK_PYTHON'] = env['PYSPARK_DRIVER_PYTHON'] = o.pysparkPython;
  // A local master needs no network name; this spares Spark a hostname lookup and a warning.
  if (o.master?.startsWith('local') !== false) env['SPARK_LOCAL_IP'] ??= '127.0.0.1';
  return env;
}

/** A failed spark-submit run as a typed error: exit 2 is permanent, anything else retryable; the reason from the log. */
export function exitError(
  exit: ProcessExit,
  details: JobFailureDetails & { readonly logTail: string },
): PermanentJobError | RetryableJobError {
  const reason = jobReason(details.logTail) ?? (exit.signal ? `killed by ${exit.signal}` : `exit code ${String(exit.exitCode)}`);
  return exit.exitCode === PERMANENT_EXIT_CODE ? new PermanentJobError(reason, details) : new RetryableJobError(reason, details);
}

/** The job's own one-line reason (`pipeline: permanent: ...`), else the last error-looking line. */
export function jobReason(logTail: string): string | undefined {
  const lines = logTail
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const own = lines.findLast((l) => l.startsWith('pipeline: '));
  if (own !== undefined) return own.replace(/^pipeline: (permanent|retryable): /u, '');
  return lines.findLast((l) => /error|exception/iu.test(l));
}

/** The last lines of a (possibly large) log, reading only its end. */
export async function readTail(file: string, bytes = 16_384, maxLines = 40): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8').split('\n').slice(-maxLines).join('\n');
  } finally {
    await handle.close();
  }
}
