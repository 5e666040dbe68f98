import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { SETTINGS, loadConfig } from '../../src/config/config.js';
import { readEnvironment, readEnvironmentWithSource } from '../../src/config/environment.js';
import { tempDir } from '../helpers/temp-dir.js';
import { describeLake, parseLake, sparkLakeUri } from '../../src/config/lake-location.js';
import { ConfigError } from '../../src/errors.js';

const cwd = '/work/project';
const load = (env: Record<string, string>) => loadConfig(env, { cwd });
const problem = (env: Record<string, string>): string => {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('has the original defaults', () => {
    const config = load({ LAKE: './lake' });
    expect(config.lake).toEqual({ kind: 'local', root: '/work/project/lake' });
    expect(config.pollIntervalMs).toBe(60_000);
    expect(config.engine).toBe('auto');
    expect(config.sparkRemote.url).toBe('sc://127.0.0.1:15002');
    expect(config.sparkMaster).toBe('local[*]');
    expect(config.candidateGlob).toBe('**/*.parquet');
  });

  it('reads every setting', () => {
    const config = load({
      LAKE: 'file:///data/my%20lake',
      POLL_INTERVAL_SECONDS: '5',
      MAX_CONCURRENT_JOBS: '3',
      JOB_TIMEOUT_SECONDS: '120',
      SPARK_MASTER: 'local[2]',
      SPARK_DRIVER_MEMORY: '4g',
      SPARK_SUBMIT: 'tools/spark-submit',
      DATASETS_DIR: 'specs',
      LOG_LEVEL: 'DEBUG',
      ENGINE: 'connect',
      SPARK_REMOTE: 'sc://spark.internal',
      MAX_FILES_PER_JOB: '250',
      MAX_BYTES_PER_JOB: '512m',
    });
    expect(config.batchLimits).toEqual({ maxFiles: 250, maxBytes: 512 * 1024 ** 2 });
    expect(config.childEnv['SPARK_REMOTE']).toBeUndefined(); // PySpark would read it in a spark-submit job
    expect(config).toMatchObject({
      engine: 'connect',
      sparkRemote: { host: 'spark.internal', port: 15002, url: 'sc://spark.internal:15002' },
      lake: { kind: 'local', root: '/data/my lake' },
      pollIntervalMs: 5000,
      maxConcurrentJobs: 3,
      jobTimeoutMs: 120_000,
      sparkMaster: 'local[2]',
      sparkDriverMemory: '4g',
      sparkSubmit: '/work/project/tools/spark-submit',
      datasetsDir: '/work/project/specs',
      logLevel: 'debug',
    });
  });

  it('names the variable, the problem and the fix for a bad value', () => {
    expect(problem({ LAKE: './lake', POLL_INTERVAL_SECONDS: 'soon' })).toMatch(
      /POLL_INTERVAL_SECONDS="soon" is not a whole number of seconds.*default 60/u,
    );
    expect(problem({ LAKE: './lake', ENGINE: 'hadoop' })).toMatch(/ENGINE="hadoop" is not an engine.*local/u);
    expect(problem({ LAKE: './lake', SPARK_MASTER: 'local[x' })).toMatch(/SPARK_MASTER/u);
    expect(problem({ LAKE: './lake', SPARK_DRIVER_MEMORY: '4 GB' })).toMatch(
      /SPARK_DRIVER_MEMORY="4 GB" is not a Spark memory size.*2g or 4g/u,
    );
    expect(problem({ LAKE: './lake', SPARK_REMOTE: 'http://localhost:15002' })).toMatch(
      /SPARK_REMOTE=http:\/\/localhost:15002 is not a Spark Connect URL/u,
    );
    expect(problem({ LAKE: './lake', SPARK_REMOTE: 'sc://localhost:99999' })).toMatch(/port 99999 is out of range/u);
    expect(problem({ LAKE: './lake', CANDIDATE_GLOB: '{a,b' })).toMatch(/CANDIDATE_GLOB.*unclosed/u);
    expect(problem({ LAKE: './lake', MAX_FILES_PER_JOB: '0' })).toMatch(/MAX_FILES_PER_JOB="0" is not a whole number of files from 1/u);
    expect(problem({ LAKE: './lake', MAX_BYTES_PER_JOB: '2 TB' })).toMatch(/MAX_BYTES_PER_JOB="2 TB" is not a size.*512m/u);
    expect(problem({})).toMatch(/No lake is set.*LAKE=\.\/lake/u);
  });

  it('reports every problem at once', () => {
    const message = problem({ LAKE: './lake', POLL_INTERVAL_SECONDS: '-1', MAX_CONCURRENT_JOBS: 'many' });
    expect(message).toMatch(/POLL_INTERVAL_SECONDS/u);
    expect(message).toMatch(/MAX_CONCURRENT_JOBS/u);
  });

  it('never prints a secret', () => {
    const message = problem({ LAKE: './lake', SECRET_KEY: 'wJalrXUtnFEMI/K7MDENG', POLL_INTERVAL_SECONDS: 'x' });
    expect(message).toMatch(/SECRET_KEY is set but ACCESS_KEY is not/u);
    expect(message).not.toContain('wJalrXUtnFEMI');
    const config = load({ LAKE: './lake', ACCESS_KEY: 'AKIAEXAMPLE', SECRET_KEY: 'wJalrXUtnFEMI/K7MDENG' });
    expect(JSON.stringify(config.childEnv)).not.toContain('wJalrXUtnFEMI');
  });

  it('keeps BUCKET_NAME meaning s3://$BUCKET_NAME, and reads the S3 settings', () => {
    expect(parseLake('s3://my-bucket/some/prefix', cwd)).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'some/prefix/' });
    const fromBucket = load({ BUCKET_NAME: 'my-bucket', AWS_REGION: 'eu-west-1' });
    expect(fromBucket.lake).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(fromBucket.s3).toEqual({ region: 'eu-west-1', forcePathStyle: false });
    expect(load({ LAKE: 's3://b-1/x', S3_ENDPOINT: 'http://127.0.0.1:9000/' }).s3).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
    expect(problem({ BUCKET_NAME: 'Bad_Bucket' })).toMatch(/not a valid S3 bucket name/u);
    expect(problem({ LAKE: 's3://b-1', S3_ENDPOINT: 'localhost:9000' })).toMatch(/S3_ENDPOINT="localhost:9000" is not a server URL/u);
    const withCredentials = problem({ LAKE: 's3://b-1', S3_ENDPOINT: 'http://minio:s3cr3t-pw@127.0.0.1:9000' });
    expect(withCredentials).toMatch(/S3_ENDPOINT holds credentials \(user:password@host\).*ACCESS_KEY and SECRET_KEY/u);
    expect(withCredentials).not.toContain('s3cr3t-pw');
  });

  it('reads SQS discovery settings and refuses what cannot work', () => {
    const config = load({
      LAKE: 's3://b-1',
      AWS_REGION: 'us-east-1',
      DISCOVERY: 'sqs',
      SQS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/raw-events',
    });
    expect(config).toMatchObject({
      discovery: 'sqs',
      sqs: { queueUrl: expect.stringContaining('raw-events') as unknown, visibilitySeconds: 120 },
      reconcileIntervalMs: 3_600_000,
    });
    expect(problem({ LAKE: 's3://b-1', DISCOVERY: 'sqs' })).toMatch(/DISCOVERY=sqs needs SQS_QUEUE_URL/u);
    expect(problem({ LAKE: './lake', DISCOVERY: 'sqs', SQS_QUEUE_URL: 'http://127.0.0.1:5000/123456789012/q' })).toMatch(
      /needs an S3 lake/u,
    );
    expect(problem({ LAKE: 's3://b-1', DISCOVERY: 'sqs', SQS_QUEUE_URL: 'raw-events' })).toMatch(
      /SQS_QUEUE_URL="raw-events" is not a queue URL/u,
    );
    expect(problem({ LAKE: './lake', DISCOVERY: 'push' })).toMatch(/DISCOVERY="push" is not a discovery mode/u);
  });

  it('gives Spark the lake as a file: URI without percent-encoding', () => {
    expect(sparkLakeUri({ kind: 'local', root: '/data/my lake' })).toBe('file:///data/my lake');
  });

  it('names the lake as a folder, so `watching <lake>raw/` reads right', () => {
    expect(describeLake({ kind: 'local', root: '/data/lake' })).toBe('/data/lake/');
    expect(describeLake({ kind: 'local', root: '/' })).toBe('/');
    expect(describeLake({ kind: 's3', bucket: 'b', prefix: '' })).toBe('s3://b/');
    expect(describeLake({ kind: 's3', bucket: 'b', prefix: 'team/lake/' })).toBe('s3://b/team/lake/');
  });
});

describe('the documentation', () => {
  it('serves metrics only when METRICS_PORT is set, on 127.0.0.1 unless METRICS_HOST says otherwise', () => {
    expect(load({ LAKE: './lake' }).metrics).toBeUndefined();
    expect(load({ LAKE: './lake', METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(load({ LAKE: './lake', METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(problem({ LAKE: './lake', METRICS_PORT: '99999' })).toMatch(/METRICS_PORT="99999" is not a TCP port/u);
    expect(problem({ LAKE: './lake', METRICS_PORT: '9464', METRICS_HOST: 'a b' })).toMatch(/METRICS_HOST="a b"/u);
  });

  it('lists every setting in the README configuration table', async () => {
    const readme = await readFile('README.md', 'utf8');
    for (const s of SETTINGS) expect(readme, s.name).toContain(`| \`${s.name}\` |`);
  });
});

describe('.env', () => {
  it('fills in what the environment does not set, and a bad value in it is named', async () => {
    const dir = await tempDir();
    await writeFile(`${dir}/.env`, 'LAKE=./from-dotenv\nPOLL_INTERVAL_SECONDS=ten\nS3SW_TEST_ONLY=file\n');
    vi.stubEnv('S3SW_TEST_ONLY', 'environment');
    try {
      const env = readEnvironment(dir);
      expect(env['S3SW_TEST_ONLY']).toBe('environment');
      expect(() => loadConfig(env, { cwd: dir })).toThrow(/POLL_INTERVAL_SECONDS="ten"/u);
      expect(loadConfig({ ...env, POLL_INTERVAL_SECONDS: '10' }, { cwd: dir }).lake).toEqual({ kind: 'local', root: `${dir}/from-dotenv` });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('names the .env file for a bad value that came from it, not for one the environment set', async () => {
    const dir = await tempDir();
    await writeFile(`${dir}/.env`, 'LAKE=./lake\nPOLL_INTERVAL_SECONDS=ten\nMAX_ATTEMPTS=many\n');
    vi.stubEnv('MAX_ATTEMPTS', 'lots');
    try {
      const { env, envFile } = readEnvironmentWithSource(dir);
      expect(() => loadConfig(env, { cwd: dir, envFile })).toThrow(
        new RegExp(`POLL_INTERVAL_SECONDS="ten" \\(in ${dir}/\\.env\\) is not a whole number[^\\n]*\\n.*MAX_ATTEMPTS="lots" is not`, 'u'),
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
