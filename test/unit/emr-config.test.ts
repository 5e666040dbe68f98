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
        EMR_JOB_RUN_OVERRIDES:
          '{"retryPolicy":{"maxAttempts":2},"applicationConfiguration":[{"classification":"spark-defaults","properties":{"spark.driver.extraJavaOptions":"-Da=1 -Db=2"}}]}',
        EMR_CANCEL_GRACE_SECONDS: '90',
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
      jobRunOverrides: {
        retryPolicy: { maxAttempts: 2 },
        applicationConfiguration: [{ classification: 'spark-defaults', properties: { 'spark.driver.extraJavaOptions': '-Da=1 -Db=2' } }],
      },
      cancelGraceSeconds: 90,
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

  it('refuses what EMR would split on spaces: quotes or tabs in EMR_SPARK_SUBMIT_PARAMETERS, whitespace in the lake prefix', () => {
    for (const params of [
      '--conf spark.driver.extraJavaOptions="-Da=1 -Db=2"',
      "--conf 'spark.x=a b'",
      '--conf\tspark.x=1',
      '--conf a\\ b',
    ]) {
      const message = problem({ ...EMR, EMR_SPARK_SUBMIT_PARAMETERS: params });
      expect(message, params).toContain('EMR_SPARK_SUBMIT_PARAMETERS=');
      expect(message, params).toContain('splits sparkSubmitParameters on spaces');
      expect(message, params).toContain('EMR_JOB_RUN_OVERRIDES');
    }
    expect(problem({ ...EMR, LAKE: 's3://lake-bucket/my lake' })).toMatch(
      /LAKE="s3:\/\/lake-bucket\/my lake" has whitespace in its prefix.*--py-files s3:\/\/lake-bucket\/my lake\/artifacts/u,
    );
    // Spaces between parameters are what EMR splits on: fine.
    expect(
      loadConfig({ ...EMR, EMR_SPARK_SUBMIT_PARAMETERS: '--conf spark.executor.cores=2  --conf spark.executor.memory=4g' }, { cwd }).emr,
    ).toBeDefined();
  });

  it('EMR_JOB_RUN_OVERRIDES: only the fields left to the user, in their shapes; EMR_CANCEL_GRACE_SECONDS a bounded number', () => {
    const cases: Array<[string, string]> = [
      ['{', 'EMR_JOB_RUN_OVERRIDES: not JSON'],
      ['[1]', 'not a JSON object'],
      ['{"jobDriver":{}}', 'jobDriver cannot be set here'],
      ['{"clientToken":"x","retryPolicy":{"maxAttempts":2}}', 'clientToken cannot be set here'],
      ['{"retryPolicy":{"maxAttempts":0}}', 'retryPolicy.maxAttempts must be a whole number >= 1'],
      ['{"retryPolicy":{"tries":2}}', 'retryPolicy.tries is not a retry policy field'],
      ['{"applicationConfiguration":{"classification":"spark-defaults"}}', 'applicationConfiguration must be a list'],
      ['{"applicationConfiguration":[{"properties":{}}]}', 'applicationConfiguration[0] must be an object with a "classification"'],
      [
        '{"applicationConfiguration":[{"classification":"spark-defaults","properties":{"a":1}}]}',
        'properties must map names to string values',
      ],
    ];
    for (const [value, expected] of cases) expect(problem({ ...EMR, EMR_JOB_RUN_OVERRIDES: value }), value).toContain(expected);
    expect(problem({ ...EMR, EMR_CANCEL_GRACE_SECONDS: '-1' })).toContain(
      'EMR_CANCEL_GRACE_SECONDS="-1" is not a whole number of seconds from 0 to 3600',
    );
  });

  it('leaves the EMR settings alone for other engines', () => {
    expect(loadConfig({ LAKE: './lake', EMR_APPLICATION_ID: 'Not Checked' }, { cwd }).emr).toBeUndefined();
  });
});
