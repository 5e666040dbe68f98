import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CancelJobRunCommand,
  EMRServerlessClient,
  EMRServerlessServiceException,
  GetApplicationCommand,
  GetJobRunCommand,
  ListJobRunsCommand,
  type JobRunState,
  StartApplicationCommand,
  StartJobRunCommand,
  type StartJobRunCommandInput,
} from '@aws-sdk/client-emr-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import type { RehearsalRuntime } from '../../src/engines/emr/rehearsal-runtimes.js';
import { type SpawnedProcess, signalProcessGroup, spawnProcessGroup } from '../../src/engines/process-tree.js';
import { processesMentioning } from './processes.js';
import { until } from './until.js';

export interface RehearsalOptions {
  readonly s3: S3Client;
  readonly applicationId: string;
  /** The application's release (GetApplication and GetJobRun answer with it), e.g. `emr-7.12.0`. */
  readonly releaseLabel: string;
  /**
   * The release family's runtime (src/engines/emr/rehearsal-runtimes.ts): its spark-submit runs
   * the job, its python is the job's PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON, as the release's
   * default Python is on EMR.
   */
  readonly runtime: Pick<RehearsalRuntime, 'sparkSubmit' | 'python'>;
  /** That Spark's s3a jars, and the Spark settings that point s3a (and s3://) at the S3 server. */
  readonly jars: readonly string[];
  /** A jar's path in the release image -> its copy here (requireRehearsalRuntime's imageJars): what `spark.jars` may name. */
  readonly imageJars: Readonly<Record<string, string>>;
  readonly sparkConf: Readonly<Record<string, string>>;
  /** The job's environment: credentials for s3a. */
  readonly env: Readonly<Record<string, string>>;
  readonly workDir: string;
}

/** One job run as the rehearsal ran it. */
export interface RehearsedRun {
  readonly jobRunId: string;
  readonly runId: string;
  readonly request: StartJobRunCommandInput;
  /** The local spark-submit arguments the request became. */
  readonly command: readonly string[];
  readonly logFile: string;
  readonly createdAt: Date;
  state: JobRunState;
  stateDetails?: string;
  process: SpawnedProcess;
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/u.exec(uri);
  if (!m?.[1] || !m[2]) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

/** The last (up to 3) distinct exception lines of a driver log: `ImportError: cannot import name ...`. */
function lastExceptions(log: string): string[] {
  const lines = log.split('\n').filter((l) => /^(?:[\w.]+\.)?\w*(?:Error|Exception)(?::|$)/u.test(l.trim()));
  return [...new Set(lines.map((l) => l.trim()))].slice(-3);
}

function serviceError(name: string, message: string): EMRServerlessServiceException {
  return new EMRServerlessServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

/**
 * A test double of the AWS side of EMR Serverless, for the rehearsal: an EMR Serverless client whose
 * StartJobRun runs the request's `sparkSubmit` (entry point, arguments, `--py-files`, confs) with the
 * release family's spark-submit and Python (PySpark 3.5 on Python 3.9 for emr-7.x) against the S3 server — the code pulled from the bucket where the engine put
 * it, `s3://` read through S3A — and whose GetJobRun and CancelJobRun report on and stop that
 * process. StartJobRun is idempotent on clientToken, like EMR's.
 */
export class EmrRehearsal {
  readonly client = new EMRServerlessClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' },
  });
  readonly runs = new Map<string, RehearsedRun>();
  readonly #o: RehearsalOptions;
  #next = 0;

  constructor(options: RehearsalOptions) {
    this.#o = options;
    const emr = mockClient(this.client);
    emr.on(GetApplicationCommand).callsFake(() => ({
      application: {
        applicationId: options.applicationId,
        name: 'rehearsal',
        arn: `arn:aws:emr-serverless:us-east-1:123456789012:/applications/${options.applicationId}`,
        releaseLabel: options.releaseLabel,
        type: 'Spark',
        state: 'STARTED',
        createdAt: new Date(),
        updatedAt: new Date(),
      },
    }));
    emr.on(StartApplicationCommand).resolves({});
    emr.on(StartJobRunCommand).callsFake((input: StartJobRunCommandInput) => this.#start(input));
    emr.on(GetJobRunCommand).callsFake(({ jobRunId }: { jobRunId: string }) => {
      const run = this.runs.get(jobRunId);
      if (run === undefined) throw serviceError('ResourceNotFoundException', `job run ${jobRunId} not found`);
      return {
        jobRun: {
          applicationId: options.applicationId,
          jobRunId,
          arn: 'arn',
          createdBy: 'rehearsal',
          createdAt: new Date(),
          updatedAt: new Date(),
          executionRole: run.request.executionRoleArn,
          state: run.state,
          stateDetails: run.stateDetails ?? '',
          releaseLabel: options.releaseLabel,
          jobDriver: run.request.jobDriver,
        },
      };
    });
    // Every run, as EMR lists them (a restarted controller looks for the run of an intent by name).
    emr.on(ListJobRunsCommand).callsFake(() => ({
      jobRuns: [...this.runs.values()].map((run) => ({
        applicationId: options.applicationId,
        id: run.jobRunId,
        name: run.request.name,
        arn: 'arn',
        createdBy: 'rehearsal',
        createdAt: run.createdAt,
        updatedAt: new Date(),
        executionRole: run.request.executionRoleArn,
        state: run.state,
        stateDetails: run.stateDetails ?? '',
        releaseLabel: options.releaseLabel,
      })),
    }));
    emr.on(CancelJobRunCommand).callsFake(({ jobRunId }: { jobRunId: string }) => {
      const run = this.runs.get(jobRunId);
      if (run === undefined) throw serviceError('ResourceNotFoundException', `job run ${jobRunId} not found`);
      if (run.state === 'SUCCESS' || run.state === 'FAILED' || run.state === 'CANCELLED')
        throw serviceError('ValidationException', `job run ${jobRunId} is ${run.state}`);
      run.state = 'CANCELLING';
      signalProcessGroup(run.process.pid, 'SIGTERM');
      setTimeout(() => signalProcessGroup(run.process.pid, 'SIGKILL'), 5000).unref();
      return { applicationId: options.applicationId, jobRunId };
    });
  }

  /** The one run started for this run id (the contract's --run-id). */
  runFor(runId: string): RehearsedRun | undefined {
    return [...this.runs.values()].find((r) => r.runId === runId);
  }

  /** Resolves once the job's driver is up (its log has output). */
  async whenRunning(runId: string): Promise<void> {
    await until(
      async () => {
        const run = this.runFor(runId);
        return run !== undefined && ((await stat(run.logFile).catch(() => undefined))?.size ?? 0) > 0;
      },
      `${runId} runs`,
      120_000,
    );
  }

  /** Processes of rehearsed runs that are still alive. */
  async leftovers(): Promise<number> {
    return (await Promise.all([...this.runs.values()].map((r) => processesMentioning(r.runId)))).flat().length;
  }

  async close(): Promise<void> {
    for (const run of this.runs.values()) signalProcessGroup(run.process.pid, 'SIGKILL');
    await Promise.all([...this.runs.values()].map((r) => r.process.exited));
    this.client.destroy();
  }

  async #download(uri: string, file: string): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const out = await this.#o.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await writeFile(file, await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    return file;
  }

  async #start(input: StartJobRunCommandInput): Promise<{ applicationId: string; jobRunId: string; arn: string }> {
    const same = [...this.runs.values()].find((r) => r.request.clientToken === input.clientToken);
    if (same !== undefined) return { applicationId: this.#o.applicationId, jobRunId: same.jobRunId, arn: 'arn' };
    const driver = input.jobDriver?.sparkSubmit;
    if (driver?.entryPoint === undefined) throw serviceError('ValidationException', 'jobDriver.sparkSubmit.entryPoint is required');
    const args = driver.entryPointArguments ?? [];
    const runId = args[args.indexOf('--run-id') + 1] ?? '';
    this.#next += 1;
    const jobRunId = `rehearsal${String(this.#next).padStart(8, '0')}`;
    const dir = path.join(this.#o.workDir, jobRunId);
    await mkdir(dir, { recursive: true });

    // EMR splits sparkSubmitParameters on spaces (no shell: no quotes, no escapes), so does this.
    // --py-files s3://... become local copies; every other parameter passes through as it is.
    const params = (driver.sparkSubmitParameters ?? '').split(' ').filter((p) => p !== '');
    const passThrough: string[] = [];
    for (let i = 0; i < params.length; i += 1) {
      const p = params[i] ?? '';
      if (p === '--py-files') {
        const uris = (params[++i] ?? '').split(',');
        const local = await Promise.all(uris.map((u) => this.#download(u, path.join(dir, path.basename(parseS3Uri(u).key)))));
        passThrough.push('--py-files', local.join(','));
      } else if (p === '--conf' && params[i + 1]?.startsWith('spark.jars=') === true) {
        // Jars of the release image (EMR's own Delta Lake) are this machine's copies of the same
        // release; any other path passes as it is, and spark-submit fails on it as EMR would.
        const jars = (params[++i] ?? '').slice('spark.jars='.length).split(',');
        passThrough.push('--conf', `spark.jars=${jars.map((j) => this.#o.imageJars[j] ?? j).join(',')}`);
      } else passThrough.push(p);
    }
    const entryPoint = await this.#download(driver.entryPoint, path.join(dir, path.basename(parseS3Uri(driver.entryPoint).key)));
    const command = [
      '--master',
      'local[1]',
      '--conf',
      'spark.ui.enabled=false',
      '--conf',
      'spark.sql.shuffle.partitions=2',
      '--conf',
      `spark.driver.extraClassPath=${this.#o.jars.join(':')}`,
      ...Object.entries(this.#o.sparkConf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
      ...passThrough,
      entryPoint,
      ...args,
    ];
    const logFile = path.join(dir, 'driver.log');
    await writeFile(logFile, '');
    const python = this.#o.runtime.python;
    const child = spawnProcessGroup(this.#o.runtime.sparkSubmit, command, {
      env: { ...this.#o.env, PYSPARK_PYTHON: python, PYSPARK_DRIVER_PYTHON: python, SPARK_LOCAL_IP: '127.0.0.1' },
      cwd: dir,
      outputFile: logFile,
    });
    const run: RehearsedRun = {
      jobRunId,
      runId,
      request: input,
      command,
      logFile,
      createdAt: new Date(),
      state: 'RUNNING',
      process: child,
    };
    this.runs.set(jobRunId, run);
    void child.exited.then(async (exit) => {
      signalProcessGroup(child.pid, 'SIGKILL'); // whatever the driver left in its group
      if (run.state === 'CANCELLING') run.state = 'CANCELLED';
      else if (exit.exitCode === 0) run.state = 'SUCCESS';
      else {
        // Like EMR's stateDetails: the exit code and the last exceptions of the driver's log, so
        // a job that dies before writing its report (an ImportError on the release's Python) says why.
        const exceptions = lastExceptions(await readFile(logFile, 'utf8').catch(() => ''));
        run.stateDetails =
          `Job failed, please check complete logs in configured logging destination. ExitCode: ${exit.exitCode ?? exit.signal ?? exit.startError}.` +
          (exceptions.length > 0 ? ` Last few exceptions: ${exceptions.join('\n')}` : '');
        run.state = 'FAILED';
      }
    });
    return { applicationId: this.#o.applicationId, jobRunId, arn: 'arn' };
  }
}
