import { describe, expect, it } from 'vitest';
import { withEmrUsage } from '../../src/cli/emr-run-usage.js';
import { buildStatus, formatStatus } from '../../src/cli/status-report.js';
import { InflightRecords } from '../../src/engines/emr/inflight.js';
import type { EmrUsage } from '../../src/engines/emr/job-run-usage.js';
import { emptyMarker } from '../../src/state/marker.js';
import type { RunRecord } from '../../src/state/run-history.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = (runId: string, key: string, etag: string | null): RunRecord => ({
  runId,
  key,
  etag,
  dataset: 'orders',
  status: 'succeeded',
  startedAt: '2026-11-28T10:00:00.000Z',
  finishedAt: '2026-11-28T10:01:00.000Z',
  durationMs: 60_000,
  rows: { read: 3, cleaned: 3, quarantined: 0, curated: 3 },
  error: null,
});

describe('status with ENGINE=emr-serverless: what each run was billed', () => {
  it("reads each shown run's usage from its version's in-flight record; an older attempt's run or a run without one shows none", async () => {
    const store = new LocalObjectStore(await tempDir('s3sw-emr-usage-'));
    const usage: EmrUsage = {
      jobRunId: 'jr-2',
      state: 'SUCCESS',
      executionSeconds: 70,
      total: { vCPUHour: 0.05, memoryGBHour: 0.2, storageGBHour: 1 },
      billed: { vCPUHour: 0.125, memoryGBHour: 0.5, storageGBHour: 0 },
    };
    await new InflightRecords(store).write({
      key: 'raw/orders/a.parquet',
      etag: '"e2"',
      attempt: 2,
      runId: 'run-2',
      clientToken: 't',
      applicationId: 'app',
      submittedAt: '2026-11-28T10:00:00.000Z',
      jobRunId: 'jr-2',
      finalState: 'SUCCESS',
      usage,
    });
    const runs = [
      run('run-2', 'raw/orders/a.parquet', '"e2"'),
      run('run-1', 'raw/orders/a.parquet', '"e2"'),
      run('run-0', 'raw/orders/b.parquet', null),
    ];
    const shown = await withEmrUsage(store, runs, 3);
    expect(shown.map((r) => r.emr)).toEqual([usage, null, null]);

    const text = formatStatus(
      buildStatus({
        lake: 'lake',
        marker: emptyMarker(),
        candidates: [],
        runs: shown,
        shownRuns: 3,
        deadLetters: [],
        running: { unknown: 'not asked' },
        curated: new Map(),
      }),
    );
    expect(text).toMatch(/billed vCPU-h\s+GB-h/u);
    expect(text).toMatch(/run-2 .*0\.125\s+0\.500\s+raw\/orders\/a\.parquet/u);
    expect(text).toMatch(/run-1 .*-\s+-\s+raw\/orders\/a\.parquet/u);
  });
});
