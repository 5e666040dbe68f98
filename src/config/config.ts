import path from 'node:path';
import type { RetryPolicy } from '../controller/backoff.js';
import type { BatchLimits } from '../controller/batches.js';
import { ENGINE_NAMES, type EngineName } from '../engines/engine.js';
import { DEFAULT_DRIVER_MEMORY } from '../engines/local-spark-conf.js';
import { DEFAULT_CANDIDATE_GLOB, globToRegExp } from '../discovery/candidates.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_SPARK_REMOTE, type SparkRemote, parseSparkRemote } from '../engines/connect/spark-remote.js';
import type { EnvFileSource, Environment } from './environment.js';
import { DEFAULT_BATCH_LIMITS, formatBytes, parseBytes } from './batch-settings.js';
import { type EmrSettings, emrSettings } from './emr-settings.js';
import { type LakeLocation, bucketNameProblem, parseLake } from './lake-location.js';

export const DISCOVERY_MODES = ['poll', 'sqs'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Environment variables whose values are never printed, in errors or logs. */
export const SECRET_VARIABLES = new Set(['ACCESS_KEY', 'SECRET_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
/**
 * Not passed on to Spark: the engine hands credentials over as AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY; and PySpark reads SPARK_REMOTE itself, which would turn a local
 * spark-submit job into a Spark Connect client.
 */
const CONTROLLER_ONLY_VARIABLES = new Set(['ACCESS_KEY', 'SECRET_KEY', 'SPARK_REMOTE']);

/** Everything the watcher is told, validated. Built once at start-up by loadConfig. */
export interface Config {
  readonly lake: LakeLocation;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** How to reach S3; used when the lake is on S3. */
  readonly s3: S3Settings;
  /** @default 60 s (POLL_INTERVAL_SECONDS) */
  readonly pollIntervalMs: number;
  /** How `watch` learns of new files. @default poll */
  readonly discovery: DiscoveryMode;
  /** With DISCOVERY=sqs: the queue that receives the bucket's S3 event notifications. */
  readonly sqs?: { readonly queueUrl: string; readonly visibilitySeconds: number };
  /** With DISCOVERY=sqs: a full relisting this often. @default 3600 s */
  readonly reconcileIntervalMs: number;
  /** @default auto: Spark Connect when SPARK_REMOTE answers, else spark-submit */
  readonly engine: EngineName;
  /** The Spark Connect server of ENGINE=connect and auto. @default sc://127.0.0.1:15002 */
  readonly sparkRemote: SparkRemote;
  /** undefined: the project's own PySpark (.venv), else spark-submit on PATH. */
  readonly sparkSubmit?: string;
  /** @default local[*] */
  readonly sparkMaster: string;
  /** `--driver-memory` of the local spark-submit jobs and of the Spark Connect server the tool starts (else each one's default). */
  readonly sparkDriverMemory: string | undefined;
  /** @default 2 */
  readonly maxConcurrentJobs: number;
  /** How many pending versions of one dataset one job takes (MAX_FILES_PER_JOB, MAX_BYTES_PER_JOB). */
  readonly batchLimits: BatchLimits;
  /** @default 3600 s */
  readonly jobTimeoutMs: number;
  /** On SIGTERM/SIGINT running jobs may finish for this long, then they are stopped. @default 30 s */
  readonly shutdownGraceMs: number;
  /** Folder of `<dataset>.json` specs; undefined: none. */
  readonly datasetsDir?: string;
  /** @default info */
  readonly logLevel: LogLevel;
  /** undefined: json unless stderr is a terminal. */
  readonly logFormat?: 'json' | 'pretty';
  /** Which keys under raw/ are candidates. @default `**\/*.parquet` */
  readonly candidateGlob: string;
  /** Where each run's driver output goes. @default ./logs/runs */
  readonly runLogDir: string;
  /** Run history older than this is pruned (RUN_HISTORY_DAYS); undefined (`0`): kept. @default 30 days */
  readonly runHistoryKeepMs?: number;
  /** Retries of retryable job failures. @default 3 attempts, waits from 10 s to 300 s */
  readonly retry: RetryPolicy;
  /** A controller's claim on a dataset lives this long unless renewed (every third of it). @default 120 s */
  readonly claimTtlMs: number;
  /** The environment Spark processes start with: this one, less ACCESS_KEY and SECRET_KEY. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** With ENGINE=emr-serverless. */
  readonly emr?: EmrSettings;
  /** `/metrics`, `/healthz`, `/readyz` of `watch`; undefined (METRICS_PORT unset): no server. */
  readonly metrics?: MetricsSettings;
}

export interface MetricsSettings {
  readonly port: number;
  /** @default 127.0.0.1 */
  readonly host: string;
}

export interface S3Settings {
  /** undefined: the SDK's own region chain (AWS_DEFAULT_REGION, the profile). */
  readonly region?: string;
  /** An S3-compatible server instead of AWS (MinIO, moto, LocalStack). */
  readonly endpoint?: string;
  /** @default true when an endpoint is set */
  readonly forcePathStyle: boolean;
}

interface Setting {
  readonly name: string;
  readonly default: string;
  readonly meaning: string;
}

/** The configuration table of the README is this list. */
/** RUN_HISTORY_DAYS when unset. */
export const DEFAULT_RUN_HISTORY_DAYS = 30;

export const SETTINGS: readonly Setting[] = [
  { name: 'LAKE', default: '(none)', meaning: 'Lake root: `s3://bucket[/prefix]`, `file:///abs/path` or a folder path' },
  { name: 'BUCKET_NAME', default: '(none)', meaning: 'Original name: alone, means `LAKE=s3://$BUCKET_NAME`' },
  { name: 'ACCESS_KEY', default: '(none)', meaning: 'AWS access key id (else the SDK default chain); never logged' },
  { name: 'SECRET_KEY', default: '(none)', meaning: 'AWS secret access key; never logged' },
  { name: 'AWS_REGION', default: "the SDK's chain; us-east-1 with S3_ENDPOINT", meaning: 'Region of the bucket' },
  {
    name: 'S3_ENDPOINT',
    default: '(AWS)',
    meaning: 'URL of an S3-compatible server (MinIO, moto); path-style addressing; no credentials in it',
  },
  { name: 'S3_FORCE_PATH_STYLE', default: 'true with S3_ENDPOINT', meaning: '`true` or `false`' },
  { name: 'POLL_INTERVAL_SECONDS', default: '60', meaning: 'Seconds between passes in `watch`' },
  { name: 'DISCOVERY', default: 'poll', meaning: '`poll` (list raw/ every interval) or `sqs` (S3 event notifications)' },
  { name: 'SQS_QUEUE_URL', default: '(none)', meaning: 'With `DISCOVERY=sqs`: the queue the bucket notifies' },
  {
    name: 'SQS_VISIBILITY_TIMEOUT_SECONDS',
    default: '120',
    meaning: 'How long a received message stays hidden; extended while its job runs',
  },
  {
    name: 'RECONCILE_INTERVAL_SECONDS',
    default: '3600',
    meaning: 'With `DISCOVERY=sqs`: a full relisting this often (event delivery is not guaranteed)',
  },
  {
    name: 'ENGINE',
    default: 'auto',
    meaning: '`auto` (Spark Connect while `SPARK_REMOTE` answers, else `local`), `local` (spark-submit per file), `connect`',
  },
  { name: 'SPARK_REMOTE', default: DEFAULT_SPARK_REMOTE, meaning: 'The Spark Connect server of `connect` and `auto` (`sc://host:port`)' },
  { name: 'SPARK_SUBMIT', default: '.venv/bin/spark-submit, else on PATH', meaning: 'The spark-submit to run' },
  { name: 'SPARK_MASTER', default: 'local[*]', meaning: 'Spark master for the local engine' },
  {
    name: 'SPARK_DRIVER_MEMORY',
    default: `${DEFAULT_DRIVER_MEMORY.job} for a \`local\` job, ${DEFAULT_DRIVER_MEMORY.connectServer} for \`spark-connect start\``,
    meaning: 'Heap of the Spark drivers the tool starts, e.g. `8g`',
  },
  { name: 'MAX_CONCURRENT_JOBS', default: '2', meaning: 'Jobs at once (never two of one dataset)' },
  {
    name: 'MAX_FILES_PER_JOB',
    default: String(DEFAULT_BATCH_LIMITS.maxFiles),
    meaning: 'One job takes up to this many pending versions of one dataset, oldest first (`1`: a job per file)',
  },
  {
    name: 'MAX_BYTES_PER_JOB',
    default: formatBytes(DEFAULT_BATCH_LIMITS.maxBytes),
    meaning: 'And at most this much raw input (bytes, or with `k`/`m`/`g`: KiB, MiB, GiB); a bigger file gets a job of its own',
  },
  { name: 'JOB_TIMEOUT_SECONDS', default: '3600', meaning: 'A job running longer is killed (whole process tree) and retried later' },
  { name: 'SHUTDOWN_GRACE_SECONDS', default: '30', meaning: 'On SIGTERM/SIGINT, how long running jobs may finish before they are stopped' },
  { name: 'DATASETS_DIR', default: './datasets if it exists', meaning: 'Folder of `<dataset>.json` specs' },
  { name: 'CANDIDATE_GLOB', default: '**/*.parquet', meaning: 'Which keys below raw/ are candidates (case-insensitive)' },
  { name: 'RUN_LOG_DIR', default: './logs/runs', meaning: 'Per-run Spark driver logs' },
  {
    name: 'RUN_HISTORY_DAYS',
    default: String(DEFAULT_RUN_HISTORY_DAYS),
    meaning:
      'Run reports, batch manifests and driver logs of runs older than this are pruned (hourly, after a pass); those the marker, a dead letter or an attempt names are kept; `0`: keep all',
  },
  { name: 'LOG_LEVEL', default: 'info', meaning: `One of ${LOG_LEVELS.join(', ')}` },
  { name: 'LOG_FORMAT', default: 'json unless a terminal', meaning: '`json` or `pretty`' },
  { name: 'PYTHON', default: 'python3', meaning: 'The Python that `setup` makes .venv with' },
  // EMR Serverless (ENGINE=emr-serverless)
  {
    name: 'EMR_APPLICATION_ID',
    default: '(none)',
    meaning: 'With `ENGINE=emr-serverless`: the EMR Serverless application (type Spark) jobs run on',
  },
  {
    name: 'EMR_EXECUTION_ROLE_ARN',
    default: '(none)',
    meaning: "With `ENGINE=emr-serverless`: the jobs' IAM role (deploy/iam/emr-job-role-policy.json)",
  },
  {
    name: 'EMR_SPARK_SUBMIT_PARAMETERS',
    default: '(none)',
    meaning: 'Extra spark-submit parameters for EMR jobs, e.g. `--conf spark.executor.cores=2`',
  },
  { name: 'EMR_LOG_URI', default: 's3://<lake bucket>/logs/emr/', meaning: "Where EMR writes the jobs' driver and executor logs" },
  { name: 'EMR_CLOUDWATCH_LOG_GROUP', default: '(none)', meaning: 'Also send EMR job logs to this CloudWatch Logs group' },
  {
    name: 'EMR_JOB_TIMEOUT_MINUTES',
    default: '60',
    meaning: "An EMR job run longer is cancelled (EMR's executionTimeoutMinutes and the controller's own deadline)",
  },
  {
    name: 'EMR_JOB_RUN_OVERRIDES',
    default: '(none)',
    meaning:
      'JSON with StartJobRun fields passed through as they are: `retryPolicy` and `applicationConfiguration`, e.g. `{"retryPolicy":{"maxAttempts":2}}`',
  },
  {
    name: 'EMR_CANCEL_GRACE_SECONDS',
    default: "(EMR's own)",
    meaning: "CancelJobRun's `shutdownGracePeriodInSeconds` when the controller cancels a run (timeout, shutdown), 0 to 3600",
  },
  { name: 'EMR_ENDPOINT', default: '(AWS)', meaning: 'URL of an EMR Serverless-compatible server (moto) instead of AWS' },
  // Observability
  {
    name: 'METRICS_PORT',
    default: '(off)',
    meaning: '`watch` serves `/metrics`, `/healthz`, `/readyz` and `/jobs` on this port (0: a free one, logged)',
  },
  { name: 'METRICS_HOST', default: '127.0.0.1', meaning: 'Address the metrics server binds to (`0.0.0.0` in a container)' },
  // Retries and dead letters
  {
    name: 'MAX_ATTEMPTS',
    default: '3',
    meaning: 'Attempts per file version, across restarts; then it is dead-lettered (a permanent failure at once)',
  },
  { name: 'RETRY_BASE_SECONDS', default: '10', meaning: 'Wait after the first retryable failure: from this to twice this, with jitter' },
  { name: 'RETRY_MAX_SECONDS', default: '300', meaning: 'The wait doubles after each failure, up to this' },
  // Replicas
  {
    name: 'CLAIM_TTL_SECONDS',
    default: '120',
    meaning:
      "Several controllers may share a lake: each claims a dataset while it runs one of its versions, renewing every third of this; a dead controller's claim is taken over after it",
  },
];

/**
 * Validates the environment into a Config. Every problem is collected, then reported in one
 * ConfigError that names each variable, what is wrong and how to fix it; secret values never appear.
 */
export function loadConfig(env: Environment, options: { cwd: string; exists?: (p: string) => boolean; envFile?: EnvFileSource }): Config {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  // A value from .env names the file: that is where to fix it.
  const shown = (name: string): string =>
    (SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name])) +
    (options.envFile?.names.has(name) ? ` (in ${options.envFile.path})` : '');
  const integer = (name: string, fallback: number, min: number, max: number, unit: string): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/u.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${shown(name)} is not a whole number of ${unit} from ${min} to ${max}; set it to one (default ${fallback}).`);
      return fallback;
    }
    return Number(raw);
  };

  let lake: LakeLocation | undefined;
  const lakeValue = value('LAKE');
  const bucket = value('BUCKET_NAME');
  if (lakeValue !== undefined) {
    const parsed = parseLake(lakeValue, options.cwd);
    if (typeof parsed === 'string') problems.push(`LAKE=${shown('LAKE')}: ${parsed}.`);
    else lake = parsed;
  } else if (bucket !== undefined) {
    const problem = bucketNameProblem(bucket);
    if (problem !== undefined) problems.push(`BUCKET_NAME=${shown('BUCKET_NAME')}: ${problem}.`);
    else lake = { kind: 's3', bucket, prefix: '' };
  } else {
    problems.push(
      'No lake is set. Set LAKE to a folder (LAKE=./lake) or an S3 location (LAKE=s3://bucket/prefix), or BUCKET_NAME to a bucket.',
    );
  }
  const accessKeyId = value('ACCESS_KEY');
  const secretAccessKey = value('SECRET_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push(
      `${accessKeyId === undefined ? 'SECRET_KEY' : 'ACCESS_KEY'} is set but ${accessKeyId === undefined ? 'ACCESS_KEY' : 'SECRET_KEY'} is not; set both, or neither to use the AWS default credential chain.`,
    );
  }

  const endpoint = value('S3_ENDPOINT');
  if (endpoint !== undefined && /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/iu.test(endpoint)) {
    // Not echoed: the value holds a secret. A URL reaches command lines (s3a settings) and logs.
    problems.push(
      'S3_ENDPOINT holds credentials (user:password@host): remove them from the URL, and set ACCESS_KEY and SECRET_KEY (or the AWS credential chain) instead.',
    );
  } else if (endpoint !== undefined && !/^https?:\/\/[^/\s]+\/?$/u.test(endpoint)) {
    problems.push(`S3_ENDPOINT=${shown('S3_ENDPOINT')} is not a server URL; use http(s)://host[:port], e.g. http://127.0.0.1:9000.`);
  }
  const pathStyle = value('S3_FORCE_PATH_STYLE')?.toLowerCase();
  if (pathStyle !== undefined && pathStyle !== 'true' && pathStyle !== 'false') {
    problems.push(`S3_FORCE_PATH_STYLE=${shown('S3_FORCE_PATH_STYLE')} must be true or false.`);
  }
  const region = value('AWS_REGION') ?? value('AWS_DEFAULT_REGION') ?? (endpoint !== undefined ? 'us-east-1' : undefined);
  if (region !== undefined && !/^[a-z0-9-]+$/u.test(region)) {
    problems.push(`AWS_REGION=${shown('AWS_REGION')} is not a region name; use one like eu-west-1.`);
  }
  const s3: S3Settings = {
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/$/u, '') } : {}),
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : pathStyle === 'true',
  };

  const pollSeconds = integer('POLL_INTERVAL_SECONDS', 60, 1, 86_400, 'seconds');
  const discovery = (value('DISCOVERY') ?? 'poll').toLowerCase();
  if (!(DISCOVERY_MODES as readonly string[]).includes(discovery)) {
    problems.push(`DISCOVERY=${shown('DISCOVERY')} is not a discovery mode; use poll or sqs.`);
  }
  const queueUrl = value('SQS_QUEUE_URL');
  const visibilitySeconds = integer('SQS_VISIBILITY_TIMEOUT_SECONDS', 120, 30, 43_200, 'seconds');
  const reconcileSeconds = integer('RECONCILE_INTERVAL_SECONDS', 3600, 10, 7 * 86_400, 'seconds');
  if (discovery === 'sqs') {
    if (queueUrl === undefined)
      problems.push("DISCOVERY=sqs needs SQS_QUEUE_URL, the URL of the queue that receives the bucket's S3 event notifications.");
    else if (!/^https?:\/\/\S+\/\d+\/[\w-]+$/u.test(queueUrl)) {
      problems.push(
        `SQS_QUEUE_URL=${shown('SQS_QUEUE_URL')} is not a queue URL; it looks like https://sqs.<region>.amazonaws.com/<account>/<queue>.`,
      );
    }
    if (lake?.kind === 'local')
      problems.push('DISCOVERY=sqs needs an S3 lake (LAKE=s3://...); a local folder sends no events. Use DISCOVERY=poll.');
  }
  const engineValue = value('ENGINE') ?? 'auto';
  if (!(ENGINE_NAMES as readonly string[]).includes(engineValue)) {
    problems.push(`ENGINE=${shown('ENGINE')} is not an engine of this build; use one of: ${ENGINE_NAMES.join(', ')}.`);
  }
  let sparkRemote = parseSparkRemote(DEFAULT_SPARK_REMOTE);
  try {
    sparkRemote = parseSparkRemote(value('SPARK_REMOTE') ?? DEFAULT_SPARK_REMOTE);
  } catch (error) {
    problems.push((error as Error).message + '.');
  }
  const maxConcurrentJobs = integer('MAX_CONCURRENT_JOBS', 2, 1, 64, 'jobs');
  const maxFilesPerJob = integer('MAX_FILES_PER_JOB', DEFAULT_BATCH_LIMITS.maxFiles, 1, 100_000, 'files');
  const maxBytesValue = value('MAX_BYTES_PER_JOB');
  let maxBytesPerJob = DEFAULT_BATCH_LIMITS.maxBytes;
  if (maxBytesValue !== undefined) {
    const parsed = parseBytes(maxBytesValue);
    if (parsed === undefined || parsed < 1) {
      problems.push(
        `MAX_BYTES_PER_JOB=${shown('MAX_BYTES_PER_JOB')} is not a size; give bytes, or a number with k, m or g (KiB, MiB, GiB), e.g. 512m (default ${formatBytes(DEFAULT_BATCH_LIMITS.maxBytes)}).`,
      );
    } else maxBytesPerJob = parsed;
  }
  const jobTimeoutSeconds = integer('JOB_TIMEOUT_SECONDS', 3600, 10, 7 * 86_400, 'seconds');
  const shutdownGraceSeconds = integer('SHUTDOWN_GRACE_SECONDS', 30, 0, 86_400, 'seconds');
  const logLevel = (value('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL=${shown('LOG_LEVEL')} is not a level; use one of ${LOG_LEVELS.join(', ')}.`);
  }
  const logFormat = value('LOG_FORMAT')?.toLowerCase();
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') {
    problems.push(`LOG_FORMAT=${shown('LOG_FORMAT')} is not a format; use json or pretty, or unset it.`);
  }
  const candidateGlob = value('CANDIDATE_GLOB') ?? DEFAULT_CANDIDATE_GLOB;
  try {
    globToRegExp(candidateGlob);
  } catch (error) {
    problems.push(`CANDIDATE_GLOB=${shown('CANDIDATE_GLOB')}: ${(error as Error).message}.`);
  }
  const sparkSubmit = value('SPARK_SUBMIT');
  const sparkMaster = value('SPARK_MASTER') ?? 'local[*]';
  if (!/^(local(\[(\*|\d+)(,\d+)?\])?|spark:\/\/\S+|yarn|k8s:\/\/\S+)$/u.test(sparkMaster)) {
    problems.push(
      `SPARK_MASTER=${shown('SPARK_MASTER')} is not a Spark master URL; use local[*], local[N], spark://host:port, yarn or k8s://...`,
    );
  }
  const sparkDriverMemory = value('SPARK_DRIVER_MEMORY');
  if (sparkDriverMemory !== undefined && !/^[1-9]\d*[kmgt]$/iu.test(sparkDriverMemory)) {
    problems.push(
      `SPARK_DRIVER_MEMORY=${shown('SPARK_DRIVER_MEMORY')} is not a Spark memory size; use a number and a unit, such as 512m, 2g or 4g.`,
    );
  }
  // Retries and dead letters (issue 7)
  const maxAttempts = integer('MAX_ATTEMPTS', 3, 1, 100, 'attempts');
  const retryBaseSeconds = integer('RETRY_BASE_SECONDS', 10, 0, 86_400, 'seconds');
  const retryMaxSeconds = integer('RETRY_MAX_SECONDS', 300, 0, 86_400, 'seconds');
  if (retryBaseSeconds > retryMaxSeconds) {
    problems.push(
      `RETRY_BASE_SECONDS=${shown('RETRY_BASE_SECONDS')} is more than RETRY_MAX_SECONDS=${JSON.stringify(String(retryMaxSeconds))}; the first wait cannot be longer than the longest, so lower the base or raise the maximum.`,
    );
  }
  const runHistoryDays = integer('RUN_HISTORY_DAYS', DEFAULT_RUN_HISTORY_DAYS, 0, 36_500, 'days');
  const claimTtlSeconds = integer('CLAIM_TTL_SECONDS', 120, 3, 86_400, 'seconds');
  const exists = options.exists ?? (() => false);
  const datasetsValue = value('DATASETS_DIR');
  const defaultDatasets = path.resolve(options.cwd, 'datasets');
  const datasetsDir =
    datasetsValue !== undefined ? path.resolve(options.cwd, datasetsValue) : exists(defaultDatasets) ? defaultDatasets : undefined;

  const emr = engineValue === 'emr-serverless' ? emrSettings({ value, shown, integer }, lake, problems) : undefined;
  const metrics = metricsSettings(value, shown, problems);

  if (problems.length > 0 || lake === undefined) {
    throw new ConfigError(
      problems.length === 1
        ? `configuration error: ${problems[0]}`
        : `configuration errors:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !CONTROLLER_ONLY_VARIABLES.has(k)) childEnv[k] = v;

  return {
    lake,
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    s3,
    pollIntervalMs: pollSeconds * 1000,
    discovery: discovery as DiscoveryMode,
    ...(discovery === 'sqs' && queueUrl !== undefined ? { sqs: { queueUrl, visibilitySeconds } } : {}),
    reconcileIntervalMs: reconcileSeconds * 1000,
    engine: engineValue as EngineName,
    sparkRemote,
    ...(sparkSubmit !== undefined
      ? { sparkSubmit: path.isAbsolute(sparkSubmit) || !sparkSubmit.includes('/') ? sparkSubmit : path.resolve(options.cwd, sparkSubmit) }
      : {}),
    sparkMaster,
    sparkDriverMemory,
    maxConcurrentJobs,
    batchLimits: { maxFiles: maxFilesPerJob, maxBytes: maxBytesPerJob },
    jobTimeoutMs: jobTimeoutSeconds * 1000,
    shutdownGraceMs: shutdownGraceSeconds * 1000,
    ...(datasetsDir !== undefined ? { datasetsDir } : {}),
    logLevel: logLevel as LogLevel,
    ...(logFormat === 'json' || logFormat === 'pretty' ? { logFormat } : {}),
    candidateGlob,
    runLogDir: path.resolve(options.cwd, value('RUN_LOG_DIR') ?? 'logs/runs'),
    ...(runHistoryDays > 0 ? { runHistoryKeepMs: runHistoryDays * 86_400_000 } : {}),
    retry: { maxAttempts, baseDelayMs: retryBaseSeconds * 1000, maxDelayMs: retryMaxSeconds * 1000 },
    claimTtlMs: claimTtlSeconds * 1000,
    childEnv,
    ...(emr !== undefined ? { emr } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
  };
}

/** METRICS_PORT (off unless set) and METRICS_HOST (loopback unless set). */
function metricsSettings(
  value: (name: string) => string | undefined,
  shown: (name: string) => string,
  problems: string[],
): MetricsSettings | undefined {
  const port = value('METRICS_PORT');
  const host = value('METRICS_HOST') ?? '127.0.0.1';
  if (!/^[\w.:-]+$/u.test(host)) problems.push(`METRICS_HOST=${shown('METRICS_HOST')} is not a host name or address; use e.g. 0.0.0.0.`);
  if (port === undefined) return undefined;
  if (!/^\d+$/u.test(port) || Number(port) > 65_535) {
    problems.push(
      `METRICS_PORT=${shown('METRICS_PORT')} is not a TCP port; use a number from 1 to 65535 (0: any free port), or unset it to serve no metrics.`,
    );
    return undefined;
  }
  return { port: Number(port), host };
}
