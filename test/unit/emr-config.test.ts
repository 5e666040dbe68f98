import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const cwd = '/work/project';
const EMR = {
  LAKE: 's3://lake-bucket/lake',
  ENGINE: 'emr-serverless',
  EMR_APPLICATION_ID: '00fm4lq8d7u1ab09',
  EMR_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/s3-spark-watcher-job',
};
const problem = (env: Record<string, string>): string => {
  try {
    loadConfig(env, { cwd });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('EMR Serverless configuration', () => {
  it('has defaults: logs under the lake bucket, a 60 minute timeout', () => {
    const config = loadConfig(EMR, { cwd });
    expect(config.engine).toBe('emr-serverless');
    expect(config.emr).toEqual({
      applicationId: '00fm4lq8d7u1ab09',
      executionRoleArn: 'arn:aws:iam::123456789012:role/s3-spark-watcher-job',
      logUri: 's3://lake-bucket/logs/emr/',
      jobTimeoutMinutes: 60,
    });
  });

  it('reads every EMR setting', () => {
    const config = loadConfig(
      {
        ...EMR,
        EMR_SPARK_SUBMIT_PARAMETERS: '--conf spark.executor.cores=2',
        EMR_LOG_URI: 's3://log-bucket/emr',
        EMR_CLOUDWATCH_LOG_GROUP: '/aws/emr-serverless/watcher',
        EMR_JOB_TIMEOUT_MINUTES: '30',
        EMR_ENDPOINT: 'http://127.0.0.1:5000/',
      },
      { cwd },
    );
    expect(config.emr).toEqual({
      applicationId: '00fm4lq8d7u1ab09',
      executionRoleArn: 'arn:aws:iam::123456789012:role/s3-spark-watcher-job',
      sparkSubmitParameters: '--conf spark.executor.cores=2',
      logUri: 's3://log-bucket/emr/',
      cloudWatchLogGroup: '/aws/emr-serverless/watcher',
      jobTimeoutMinutes: 30,
      endpoint: 'http://127.0.0.1:5000',
    });
  });

  it('names each missing or bad EMR setting, and needs an S3 lake', () => {
    const message = problem({ LAKE: './lake', ENGINE: 'emr-serverless', EMR_JOB_TIMEOUT_MINUTES: '2', EMR_LOG_URI: 'logs/' });
    expect(message).toContain('ENGINE=emr-serverless needs an S3 lake');
    expect(message).toContain('needs EMR_APPLICATION_ID');
    expect(message).toContain('needs EMR_EXECUTION_ROLE_ARN');
    expect(message).toContain('EMR_JOB_TIMEOUT_MINUTES="2" is not a whole number of minutes from 5');
    expect(message).toContain('EMR_LOG_URI="logs/" is not an S3 location');
    expect(problem({ ...EMR, EMR_EXECUTION_ROLE_ARN: 'my-role' })).toContain('is not a role ARN');
    expect(problem({ ...EMR, EMR_APPLICATION_ID: 'App ID' })).toContain('is not an application id');
  });

  it('leaves the EMR settings alone for other engines', () => {
    expect(loadConfig({ LAKE: './lake', EMR_APPLICATION_ID: 'Not Checked' }, { cwd }).emr).toBeUndefined();
  });
});
