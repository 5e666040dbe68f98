import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import type { Config } from '../../config/config.js';
import { SPARK_JOBS_DIR } from '../../config/project-paths.js';
import type { LakeLocation } from '../../config/lake-location.js';
import { ConfigError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { EmrServerlessEngine } from './emr-serverless-engine.js';

/** The lake root as EMR jobs see it (EMRFS): `s3://bucket` or `s3://bucket/prefix`. */
export function emrLakeUri(lake: Extract<LakeLocation, { kind: 's3' }>): string {
  return `s3://${lake.bucket}${lake.prefix === '' ? '' : `/${lake.prefix.replace(/\/$/u, '')}`}`;
}

/** The EMR Serverless engine of ENGINE=emr-serverless, after checking its application (exists, type Spark, a supported release). */
export async function createEmrEngine(config: Config, store: ObjectStore, signal?: AbortSignal): Promise<EmrServerlessEngine> {
  if (config.emr === undefined || config.lake.kind !== 's3')
    throw new ConfigError('ENGINE=emr-serverless needs EMR_APPLICATION_ID, EMR_EXECUTION_ROLE_ARN and an S3 lake');
  const client = new EMRServerlessClient({
    ...(config.s3.region !== undefined ? { region: config.s3.region } : {}),
    ...(config.emr.endpoint !== undefined ? { endpoint: config.emr.endpoint } : {}),
    ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
  });
  const engine = new EmrServerlessEngine({
    client,
    ownsClient: true,
    store,
    settings: {
      applicationId: config.emr.applicationId,
      executionRoleArn: config.emr.executionRoleArn,
      lakeUri: emrLakeUri(config.lake),
      logUri: config.emr.logUri,
      executionTimeoutMinutes: config.emr.jobTimeoutMinutes,
      ...(config.emr.sparkSubmitParameters !== undefined ? { sparkSubmitParameters: config.emr.sparkSubmitParameters } : {}),
      ...(config.emr.cloudWatchLogGroup !== undefined ? { cloudWatchLogGroup: config.emr.cloudWatchLogGroup } : {}),
      ...(config.emr.jobRunOverrides !== undefined ? { overrides: config.emr.jobRunOverrides } : {}),
    },
    ...(config.emr.cancelGraceSeconds !== undefined ? { cancelGraceSeconds: config.emr.cancelGraceSeconds } : {}),
    sparkJobsDir: SPARK_JOBS_DIR,
    timeoutMs: config.emr.jobTimeoutMinutes * 60_000,
  });
  try {
    await engine.validate(signal);
  } catch (error) {
    await engine.close();
    throw error;
  }
  return engine;
}
