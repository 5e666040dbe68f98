import { DELTA_SPARK_CONF, EMR_DELTA_JARS } from '../delta-support.js';
import type { Configuration, RetryPolicy, StartJobRunCommandInput } from '@aws-sdk/client-emr-serverless';
import type { JobRequest } from '../engine.js';
import { jobArguments } from '../job-arguments.js';
import { keyHash } from './client-token.js';

/** Everything StartJobRun needs besides the job itself; fixed for one engine. */
export interface EmrRequestSettings {
  readonly applicationId: string;
  readonly executionRoleArn: string;
  /** The lake root as EMR sees it: `s3://bucket` or `s3://bucket/prefix` (no trailing `/`). */
  readonly lakeUri: string;
  /** Keys of the uploaded artifacts, relative to the lake root. */
  readonly entryPointKey: string;
  readonly pyFilesKey: string;
  /** Extra `spark-submit` parameters (EMR_SPARK_SUBMIT_PARAMETERS), appended after the engine's own. */
  readonly sparkSubmitParameters?: string;
  /** `s3://bucket/logs/emr/`: where EMR writes driver and executor logs. */
  readonly logUri: string;
  readonly cloudWatchLogGroup?: string;
  readonly executionTimeoutMinutes: number;
  /** StartJobRun fields the engine does not set itself (EMR_JOB_RUN_OVERRIDES), passed through as they are. */
  readonly overrides?: EmrJobRunOverrides;
}

/**
 * The StartJobRun fields a user may add (EMR_JOB_RUN_OVERRIDES): EMR's own retry policy, and
 * application configuration (spark-defaults and the like). Everything else in the request is the
 * engine's: the job contract, the idempotency token, the name and tags it finds runs by.
 */
export interface EmrJobRunOverrides {
  readonly retryPolicy?: RetryPolicy;
  readonly applicationConfiguration?: Configuration[];
}
export const JOB_RUN_OVERRIDE_FIELDS = ['retryPolicy', 'applicationConfiguration'] as const;

/** The job run's name: how a restarted controller finds a run it started but did not record (ListJobRuns). */
export function jobRunName(dataset: string, runId: string): string {
  return `s3-spark-watcher ${dataset} ${runId}`.slice(0, 256);
}

/**
 * Curated tables are Delta Lake tables: the release image's own Delta jars (EMR 7.0 and later
 * ship them under /usr/share/aws/delta/lib/, not on the class path) and the settings that load
 * them, as EMR's guide to Delta Lake on EMR Serverless gives them.
 */
export const EMR_DELTA_PARAMETERS: readonly string[] = [
  '--conf',
  `spark.jars=${EMR_DELTA_JARS.join(',')}`,
  ...Object.entries(DELTA_SPARK_CONF).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
];

/** One attempt at one job: its run id (names the report) and its idempotency token. */
export interface EmrAttempt {
  readonly runId: string;
  readonly clientToken: string;
}

/** Characters EMR Serverless accepts in tag values; anything else becomes `_`. */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9 /_.:=+@-]/gu, '_').slice(0, 256);
}

/**
 * The StartJobRun request for one attempt: the job contract's arguments (DESIGN.md) with s3://
 * URIs, the code from `artifacts/<hash>/`, S3 (and CloudWatch) logs, a timeout, and tags that
 * say which file it is for. A pure function: the same inputs give the same request.
 */
export function buildStartJobRunInput(settings: EmrRequestSettings, job: JobRequest, attempt: EmrAttempt): StartJobRunCommandInput {
  const uri = (key: string): string => `${settings.lakeUri}/${key}`;
  const sparkSubmitParameters = [
    '--py-files',
    uri(settings.pyFilesKey),
    ...EMR_DELTA_PARAMETERS,
    settings.sparkSubmitParameters?.trim() ?? '',
  ]
    .filter((p) => p !== '')
    .join(' ');
  return {
    applicationId: settings.applicationId,
    clientToken: attempt.clientToken,
    executionRoleArn: settings.executionRoleArn,
    name: jobRunName(job.dataset, attempt.runId),
    jobDriver: {
      sparkSubmit: {
        entryPoint: uri(settings.entryPointKey),
        entryPointArguments: jobArguments(settings.lakeUri, job, attempt.runId),
        sparkSubmitParameters,
      },
    },
    configurationOverrides: {
      ...(settings.overrides?.applicationConfiguration !== undefined
        ? { applicationConfiguration: settings.overrides.applicationConfiguration }
        : {}),
      monitoringConfiguration: {
        s3MonitoringConfiguration: { logUri: settings.logUri },
        ...(settings.cloudWatchLogGroup !== undefined
          ? { cloudWatchLoggingConfiguration: { enabled: true, logGroupName: settings.cloudWatchLogGroup } }
          : {}),
      },
    },
    executionTimeoutMinutes: settings.executionTimeoutMinutes,
    ...(settings.overrides?.retryPolicy !== undefined ? { retryPolicy: settings.overrides.retryPolicy } : {}),
    tags: {
      app: 's3-spark-watcher',
      dataset: tagValue(job.dataset),
      'key-hash': keyHash(job.key),
      'run-id': tagValue(attempt.runId),
    },
  };
}

/** Where EMR Serverless puts the driver's stderr of a job run under the S3 log URI. */
export function driverLogUri(logUri: string, applicationId: string, jobRunId: string): string {
  return `${logUri.replace(/\/?$/u, '/')}applications/${applicationId}/jobs/${jobRunId}/SPARK_DRIVER/stderr.gz`;
}
