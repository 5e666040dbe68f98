import { describe, expect, it } from 'vitest';
import { clientTokenFor } from '../../src/engines/emr/client-token.js';
import { buildStartJobRunInput, driverLogUri } from '../../src/engines/emr/emr-request.js';

const settings = {
  applicationId: 'app1',
  executionRoleArn: 'arn:aws:iam::123456789012:role/job',
  lakeUri: 's3://bucket',
  entryPointKey: 'artifacts/h/pipeline.py',
  pyFilesKey: 'artifacts/h/watcher_job.zip',
  logUri: 's3://bucket/logs/emr/',
  executionTimeoutMinutes: 60,
};

describe('the StartJobRun request', () => {
  it('has no --spec without a spec, and tag values EMR accepts whatever the dataset is called', () => {
    const input = buildStartJobRunInput(
      settings,
      { runId: 'r1', key: 'raw/ventes été/x.parquet', etag: '"e"', dataset: 'ventes été' },
      { runId: 'r1', clientToken: 't' },
    );
    expect(input.jobDriver?.sparkSubmit?.entryPointArguments).toEqual([
      '--lake',
      's3://bucket',
      '--key',
      'raw/ventes été/x.parquet',
      '--etag',
      '"e"',
      '--run-id',
      'r1',
    ]);
    expect(input.tags?.['dataset']).toBe('ventes _t_');
    expect(input.configurationOverrides?.monitoringConfiguration?.cloudWatchLoggingConfiguration).toBeUndefined();
  });

  it('is the same for the same inputs (a pure function), so a retried call is the same call', () => {
    const job = { runId: 'r1', key: 'raw/a.parquet', etag: '"e"', dataset: 'default' };
    expect(buildStartJobRunInput(settings, job, { runId: 'r1', clientToken: 't' })).toEqual(
      buildStartJobRunInput(settings, job, { runId: 'r1', clientToken: 't' }),
    );
  });

  it('client tokens: stable for lake, key, ETag and attempt; different when any changes; within EMR limits', () => {
    const t = clientTokenFor('s3://b/lake', 'raw/a.parquet', '"e"', 1);
    expect(t).toMatch(/^[0-9a-f]{64}$/u);
    expect(clientTokenFor('s3://b/lake', 'raw/a.parquet', '"e"', 1)).toBe(t);
    expect(
      new Set([
        t,
        clientTokenFor('s3://b/lake', 'raw/a.parquet', '"e"', 2),
        clientTokenFor('s3://b/lake', 'raw/a.parquet', '"f"', 1),
        clientTokenFor('s3://b/lake', 'raw/b.parquet', '"e"', 1),
        // Two lakes sharing one application: another prefix, another bucket.
        clientTokenFor('s3://b/other-lake', 'raw/a.parquet', '"e"', 1),
        clientTokenFor('s3://c/lake', 'raw/a.parquet', '"e"', 1),
      ]).size,
    ).toBe(6);
    expect(() => clientTokenFor('s3://b/lake', 'raw/a.parquet', '"e"', 0)).toThrow(RangeError);
  });

  it('the driver log of a run is under the log URI', () => {
    expect(driverLogUri('s3://b/logs', 'app1', 'jr1')).toBe('s3://b/logs/applications/app1/jobs/jr1/SPARK_DRIVER/stderr.gz');
  });
});
