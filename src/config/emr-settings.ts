import { type EmrJobRunOverrides, JOB_RUN_OVERRIDE_FIELDS } from '../engines/emr/emr-request.js';
import type { LakeLocation } from './lake-location.js';

/** Where and how the EMR Serverless engine runs jobs (ENGINE=emr-serverless). */
export interface EmrSettings {
  readonly applicationId: string;
  readonly executionRoleArn: string;
  /** Appended to the engine's own `--py-files ...`. */
  readonly sparkSubmitParameters?: string;
  /** `s3://bucket/prefix/` (ends with `/`). @default s3://<lake bucket>/logs/emr/ */
  readonly logUri: string;
  readonly cloudWatchLogGroup?: string;
  /** EMR's executionTimeoutMinutes, and the controller cancels a run not finished by then. @default 60 */
  readonly jobTimeoutMinutes: number;
  /** StartJobRun fields passed through (EMR_JOB_RUN_OVERRIDES): retryPolicy, applicationConfiguration. */
  readonly jobRunOverrides?: EmrJobRunOverrides;
  /** CancelJobRun's shutdownGracePeriodInSeconds (EMR_CANCEL_GRACE_SECONDS). @default EMR's own */
  readonly cancelGraceSeconds?: number;
  /** An EMR Serverless-compatible server (moto) instead of AWS. */
  readonly endpoint?: string;
}

/** How config.ts reads one setting: its value, how to show it in an error, a bounded whole number. */
export interface SettingReaders {
  readonly value: (name: string) => string | undefined;
  readonly shown: (name: string) => string;
  readonly integer: (name: string, fallback: number, min: number, max: number, unit: string) => number;
}

/**
 * EMR passes `sparkSubmitParameters` to spark-submit split on spaces, with no shell: quotes stay
 * in the values and a quoted value with a space inside becomes two parameters.
 */
const SPLIT_ON_SPACES =
  'EMR Serverless splits sparkSubmitParameters on spaces and runs no shell, so quotes are kept and a value with a space becomes two parameters';

/** The EMR_* settings, checked; each problem is added to `problems`. */
export function emrSettings(read: SettingReaders, lake: LakeLocation | undefined, problems: string[]): EmrSettings | undefined {
  const { value, shown, integer } = read;
  if (lake !== undefined && lake.kind !== 's3')
    problems.push('ENGINE=emr-serverless needs an S3 lake (LAKE=s3://bucket/prefix): EMR Serverless cannot read a local folder.');
  if (lake?.kind === 's3' && /\s/u.test(lake.prefix))
    problems.push(
      `LAKE=${shown('LAKE')} has whitespace in its prefix; with ENGINE=emr-serverless the job code is passed as --py-files s3://${lake.bucket}/${lake.prefix}artifacts/... and ${SPLIT_ON_SPACES}. Use a prefix without spaces.`,
    );
  const applicationId = value('EMR_APPLICATION_ID');
  if (applicationId === undefined)
    problems.push(
      'ENGINE=emr-serverless needs EMR_APPLICATION_ID, the id of an EMR Serverless Spark application (aws emr-serverless list-applications).',
    );
  else if (!/^[0-9a-z]{1,64}$/u.test(applicationId))
    problems.push(
      `EMR_APPLICATION_ID=${shown('EMR_APPLICATION_ID')} is not an application id (lowercase letters and digits, e.g. 00fm4lq8d7u1ab09).`,
    );
  const executionRoleArn = value('EMR_EXECUTION_ROLE_ARN');
  if (executionRoleArn === undefined)
    problems.push(
      'ENGINE=emr-serverless needs EMR_EXECUTION_ROLE_ARN, the IAM role the jobs run as (see deploy/iam/emr-job-role-policy.json).',
    );
  else if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/u.test(executionRoleArn))
    problems.push(
      `EMR_EXECUTION_ROLE_ARN=${shown('EMR_EXECUTION_ROLE_ARN')} is not a role ARN; it looks like arn:aws:iam::123456789012:role/name.`,
    );
  const sparkSubmitParameters = value('EMR_SPARK_SUBMIT_PARAMETERS');
  if (sparkSubmitParameters !== undefined) {
    if (/[\r\n]/u.test(sparkSubmitParameters)) problems.push('EMR_SPARK_SUBMIT_PARAMETERS must be one line.');
    else if (/["'\\\t]/u.test(sparkSubmitParameters))
      problems.push(
        `EMR_SPARK_SUBMIT_PARAMETERS=${shown('EMR_SPARK_SUBMIT_PARAMETERS')} has quotes, a backslash or a tab: ${SPLIT_ON_SPACES}. Give each --conf a value without spaces, or set such a property in EMR_JOB_RUN_OVERRIDES (applicationConfiguration, classification spark-defaults).`,
      );
  }
  const logValue = value('EMR_LOG_URI');
  if (logValue !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?$/u.test(logValue))
    problems.push(`EMR_LOG_URI=${shown('EMR_LOG_URI')} is not an S3 location; use s3://bucket/prefix/.`);
  const logUri = logValue !== undefined ? logValue.replace(/\/?$/u, '/') : lake?.kind === 's3' ? `s3://${lake.bucket}/logs/emr/` : '';
  const cloudWatchLogGroup = value('EMR_CLOUDWATCH_LOG_GROUP');
  if (cloudWatchLogGroup !== undefined && !/^[\w/#.-]{1,512}$/u.test(cloudWatchLogGroup))
    problems.push(`EMR_CLOUDWATCH_LOG_GROUP=${shown('EMR_CLOUDWATCH_LOG_GROUP')} is not a log group name.`);
  const jobTimeoutMinutes = integer('EMR_JOB_TIMEOUT_MINUTES', 60, 5, 10_080, 'minutes');
  const jobRunOverrides = parseOverrides(value('EMR_JOB_RUN_OVERRIDES'), problems);
  const cancelGraceSeconds =
    value('EMR_CANCEL_GRACE_SECONDS') === undefined ? undefined : integer('EMR_CANCEL_GRACE_SECONDS', 120, 0, 3600, 'seconds');
  const endpoint = value('EMR_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+\/?$/u.test(endpoint))
    problems.push(`EMR_ENDPOINT=${shown('EMR_ENDPOINT')} is not a server URL; use http(s)://host[:port].`);
  if (applicationId === undefined || executionRoleArn === undefined) return undefined;
  return {
    applicationId,
    executionRoleArn,
    ...(sparkSubmitParameters !== undefined ? { sparkSubmitParameters } : {}),
    logUri,
    ...(cloudWatchLogGroup !== undefined ? { cloudWatchLogGroup } : {}),
    jobTimeoutMinutes,
    ...(jobRunOverrides !== undefined ? { jobRunOverrides } : {}),
    ...(cancelGraceSeconds !== undefined ? { cancelGraceSeconds } : {}),
    ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/$/u, '') } : {}),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One EMR Serverless `Configuration`: a classification, string properties, nested configurations. */
function configurationProblem(c: unknown, where: string): string | undefined {
  if (!isObject(c) || typeof c['classification'] !== 'string' || c['classification'] === '')
    return `${where} must be an object with a "classification" (e.g. "spark-defaults")`;
  const properties = c['properties'];
  if (properties !== undefined && (!isObject(properties) || !Object.values(properties).every((v) => typeof v === 'string')))
    return `${where}.properties must map names to string values`;
  const nested = c['configurations'];
  if (nested === undefined) return undefined;
  if (!Array.isArray(nested)) return `${where}.configurations must be a list`;
  for (const [i, n] of nested.entries()) {
    const problem = configurationProblem(n, `${where}.configurations[${i}]`);
    if (problem !== undefined) return problem;
  }
  const extra = Object.keys(c).filter((k) => !['classification', 'properties', 'configurations'].includes(k));
  return extra.length > 0 ? `${where} has unknown fields ${extra.join(', ')}` : undefined;
}

/** EMR_JOB_RUN_OVERRIDES: a JSON object with only the StartJobRun fields the engine leaves to the user. */
function parseOverrides(raw: string | undefined, problems: string[]): EmrJobRunOverrides | undefined {
  if (raw === undefined) return undefined;
  const fail = (why: string): undefined => {
    problems.push(
      `EMR_JOB_RUN_OVERRIDES: ${why}. It is a JSON object with ${JOB_RUN_OVERRIDE_FIELDS.join(' and/or ')}, e.g. {"retryPolicy":{"maxAttempts":2}}.`,
    );
    return undefined;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed)) return fail('not a JSON object');
  const unknown = Object.keys(parsed).filter((k) => !(JOB_RUN_OVERRIDE_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    return fail(
      `${unknown.join(', ')} cannot be set here (the engine sets the job driver, token, name, tags, role, logs and timeout itself)`,
    );
  const retryPolicy = parsed['retryPolicy'];
  if (retryPolicy !== undefined) {
    if (!isObject(retryPolicy)) return fail('retryPolicy must be an object');
    for (const [k, v] of Object.entries(retryPolicy)) {
      if (!['maxAttempts', 'maxFailedAttemptsPerHour'].includes(k)) return fail(`retryPolicy.${k} is not a retry policy field`);
      if (!Number.isInteger(v) || (v as number) < 1) return fail(`retryPolicy.${k} must be a whole number >= 1`);
    }
  }
  const applicationConfiguration = parsed['applicationConfiguration'];
  if (applicationConfiguration !== undefined) {
    if (!Array.isArray(applicationConfiguration)) return fail('applicationConfiguration must be a list of configurations');
    for (const [i, c] of applicationConfiguration.entries()) {
      const problem = configurationProblem(c, `applicationConfiguration[${i}]`);
      if (problem !== undefined) return fail(problem);
    }
  }
  return parsed as EmrJobRunOverrides;
}
