import { createServer } from 'node:net';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { MarkerStore } from '../../src/state/marker.js';
import { checkBucketReachable } from '../../src/storage/s3-bucket-check.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMotoServer();
  await moto.createBucket('lake-bucket');
});
afterAll(async () => moto?.stop());

const cli = (args: string[], env: Record<string, string>) =>
  execa(process.execPath, ['bin/s3-spark-watcher.js', ...args], {
    env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    reject: false,
  });

describe('an S3 lake (moto server)', () => {
  it('marker writes from two controllers merge instead of overwriting each other', async () => {
    const a = new MarkerStore(new S3ObjectStore({ client: moto.s3, bucket: 'lake-bucket', prefix: 'm/' }));
    const b = new MarkerStore(new S3ObjectStore({ client: moto.s3, bucket: 'lake-bucket', prefix: 'm/' }));
    const entry = (etag: string) => ({
      etag,
      size: 1,
      runId: etag,
      engine: 'local',
      finishedAt: '',
      rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
    });
    const keys = Array.from({ length: 12 }, (_, i) => `raw/ds/${i}.parquet`);
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).record(k, entry(`"${i}"`))));
    expect(Object.keys((await a.load()).document.files).sort()).toEqual([...keys].sort());
  });

  it('status lists pending versions under a lake prefix, with ACCESS_KEY/SECRET_KEY', async () => {
    for (const key of [
      'team/raw/orders/a.parquet',
      'team/raw/orders/b.parquet',
      'team/raw/orders/_tmp/c.parquet',
      'raw/orders/outside.parquet',
    ]) {
      await moto.s3.send(new PutObjectCommand({ Bucket: 'lake-bucket', Key: key, Body: 'x' }));
    }
    const result = await cli(['status', '--json'], {
      LAKE: 's3://lake-bucket/team',
      S3_ENDPOINT: moto.endpoint,
      ACCESS_KEY: 'testing',
      SECRET_KEY: 'testing',
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(String(result.stdout))).toMatchObject({
      lake: 's3://lake-bucket/team/',
      datasets: [{ dataset: 'orders', processed: 0, pending: 2 }],
    });
  });

  it('start-up says clearly when the bucket does not exist (exit 2)', async () => {
    const result = await cli(['status'], {
      LAKE: 's3://no-such-bucket',
      S3_ENDPOINT: moto.endpoint,
      ACCESS_KEY: 'testing',
      SECRET_KEY: 'secret-value-123',
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/The bucket "no-such-bucket" does not exist on http:\/\/127\.0\.0\.1:\d+\. Create it, or fix LAKE/u);
    expect(result.stderr).not.toContain('secret-value-123');
    expect(result.stderr).not.toMatch(/\n\s+at /u); // no stack trace
  });

  it('start-up says clearly when the server cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const error = await checkBucketReachable(client, 'lake-bucket', `http://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/u);
  });

  it('start-up says clearly when there are no credentials or no region', async () => {
    const noCredentials = await cli(['status'], {
      LAKE: 's3://lake-bucket',
      S3_ENDPOINT: moto.endpoint,
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(noCredentials.exitCode).toBe(2);
    expect(noCredentials.stderr).toMatch(/No AWS credentials were found\. Set ACCESS_KEY and SECRET_KEY/u);
    const noRegion = await cli(['status'], {
      LAKE: 's3://lake-bucket',
      ACCESS_KEY: 'testing',
      SECRET_KEY: 'testing',
      AWS_REGION: '',
      AWS_DEFAULT_REGION: '',
      AWS_CONFIG_FILE: '/nonexistent',
    });
    expect(noRegion.exitCode).toBe(2);
    expect(noRegion.stderr).toMatch(/No AWS region is set\. Set AWS_REGION/u);
  });
});

describe('an S3 server that checks credentials', () => {
  let strict: MotoServer;
  beforeAll(async () => {
    // moto enforces IAM authentication once INITIAL_NO_AUTH_ACTION_COUNT actions have passed.
    strict = await startMotoServer({ INITIAL_NO_AUTH_ACTION_COUNT: '0' });
  });
  afterAll(async () => strict?.stop());

  it('start-up says the credentials were rejected', async () => {
    const result = await cli(['status'], {
      LAKE: 's3://lake-bucket',
      S3_ENDPOINT: strict.endpoint,
      ACCESS_KEY: 'AKIAWRONGWRONGWRONG',
      SECRET_KEY: 'wrong-secret',
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(
      /The AWS credentials were rejected by .* \(InvalidAccessKeyId\)|Access to bucket "lake-bucket" is denied/u,
    );
    expect(result.stderr).not.toContain('wrong-secret');
  });
});
