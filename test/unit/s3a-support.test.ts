import { describe, expect, it } from 'vitest';
import { s3aSparkSettings } from '../../src/engines/s3a-support.js';

describe('Spark settings for an S3 lake', () => {
  it('point S3A at a custom endpoint, path-style, and keep credentials out of the confs', () => {
    const { conf, env } = s3aSparkSettings({
      s3: { region: 'us-east-1', endpoint: 'http://127.0.0.1:5000', forcePathStyle: true },
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret' },
    });
    expect(conf).toEqual({
      'spark.hadoop.fs.s3.impl': 'org.apache.hadoop.fs.s3a.S3AFileSystem',
      'spark.hadoop.fs.s3a.endpoint.region': 'us-east-1',
      'spark.hadoop.fs.s3a.endpoint': 'http://127.0.0.1:5000',
      'spark.hadoop.fs.s3a.connection.ssl.enabled': 'false',
      'spark.hadoop.fs.s3a.path.style.access': 'true',
    });
    expect(JSON.stringify(conf)).not.toContain('very-secret');
    expect(env).toEqual({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret' });
  });

  it('on AWS itself set only the region, and leave credentials to the default chain', () => {
    expect(s3aSparkSettings({ s3: { region: 'eu-west-1', forcePathStyle: false } })).toEqual({
      conf: { 'spark.hadoop.fs.s3.impl': 'org.apache.hadoop.fs.s3a.S3AFileSystem', 'spark.hadoop.fs.s3a.endpoint.region': 'eu-west-1' },
      env: {},
    });
  });
});
