import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hadoopVersionOf, s3aSparkSettings, sparkJarsDir } from '../../src/engines/s3a-support.js';
import { tempDir } from '../helpers/temp-dir.js';

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

describe('the Hadoop of a spark-submit, which picks its s3a jars', () => {
  it('is read from the pyspark of the virtualenv the spark-submit is in, not of a venv whose name it starts with', async () => {
    const root = await tempDir('s3sw-venvs-');
    const venv = async (name: string, python: string, hadoop: string) => {
      const jars = path.join(root, name, 'lib', python, 'site-packages', 'pyspark', 'jars');
      await mkdir(jars, { recursive: true });
      await writeFile(path.join(jars, `hadoop-client-api-${hadoop}.jar`), '');
      await mkdir(path.join(root, name, 'bin'), { recursive: true });
      await writeFile(path.join(root, name, 'bin', 'spark-submit'), '');
      return path.join(root, name, 'bin', 'spark-submit');
    };
    const spark40 = await venv('.venv', 'python3.11', '3.4.1');
    const spark35 = await venv('.venv-emr7', 'python3.9', '3.3.4');
    const hadoopOf = (sparkSubmit: string) => {
      const dir = sparkJarsDir(sparkSubmit);
      return dir === undefined ? undefined : hadoopVersionOf(dir);
    };
    expect(hadoopOf(spark40)).toBe('3.4.1');
    expect(hadoopOf(spark35)).toBe('3.3.4');
  });
});
