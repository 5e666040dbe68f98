import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/cli/status-report.js';
import { COMMON_LOG_FIELDS, LOG_EVENT_FIELDS } from '../../src/observability/log-events.js';
import { MARKER_KEY, type MarkerDocument } from '../../src/state/marker.js';
import { scrape } from '../helpers/prometheus.js';
import { venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

type Line = Record<string, unknown>;

/**
 * `watch` as it runs in production: its own process, JSON logs on stderr, metrics on a port, one
 * real spark-submit. /metrics is scraped while the job runs and after it, `status --json` is
 * compared with the marker, and every log line of the run is checked.
 */
describe('watch with METRICS_PORT, one real Spark job', { timeout: 180_000 }, () => {
  let stop: (() => Promise<unknown>) | undefined;
  afterAll(async () => stop?.());

  it('counts the run on /metrics during and after it, is ready, logs JSON only, and status --json matches the marker', async () => {
    const root = await tempDir('s3sw-obs-');
    const lake = path.join(root, 'lake');
    await execa(venvPython(), [
      '-c',
      'import os,sys,pyarrow as pa,pyarrow.parquet as pq; os.makedirs(os.path.dirname(sys.argv[1])); pq.write_table(pa.table({"Order ID": [1, 2, 2], "amount": [" 3.5", "N/A", "N/A"]}), sys.argv[1])',
      path.join(lake, 'raw/orders/2026/orders.parquet'),
    ]);
    const env = {
      LAKE: lake,
      METRICS_PORT: '0',
      POLL_INTERVAL_SECONDS: '1',
      LOG_LEVEL: 'debug',
      SPARK_MASTER: 'local[1]',
      RUN_LOG_DIR: path.join(root, 'runs'),
      PATH: process.env['PATH'] ?? '',
      ...(process.env['JAVA_HOME'] ? { JAVA_HOME: process.env['JAVA_HOME'] } : {}),
    };
    const watch = execa(process.execPath, ['bin/s3-spark-watcher.js', 'watch'], { env, extendEnv: false, reject: false, buffer: false });
    stop = async () => {
      watch.kill('SIGKILL');
      await watch;
    };
    let stderr = '';
    watch.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = (): Line[] =>
      stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line);
    const seen = (event: string): Line | undefined => lines().find((l) => l['event'] === event);

    await until(() => seen('metrics:listening') !== undefined, 'the metrics server listens', 60_000);
    const url = String(seen('metrics:listening')?.['url']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/u);

    // during the run
    await until(() => seen('job:started') !== undefined, 'the job starts', 60_000);
    const during = await scrape(`${url}/metrics`);
    expect(during.get('s3sw_files_discovered_total')).toBe(1);
    expect(during.get('s3sw_jobs_submitted_total')).toBe(1);
    // the job takes seconds, so it is running; were it already done, it would be counted as such
    expect([during.get('s3sw_running_jobs'), during.get('s3sw_jobs_succeeded_total')]).toContainEqual(1);
    expect((during.get('s3sw_running_jobs') ?? 0) + (during.get('s3sw_jobs_succeeded_total') ?? 0)).toBe(1);

    // after it
    await until(async () => (await scrape(`${url}/metrics`)).get('s3sw_jobs_succeeded_total') === 1, 'the job succeeds', 150_000);
    // The gauge drops when the job succeeds, before its pass ends: wait for a pass that has finished too.
    await until(
      async () => {
        const m = await scrape(`${url}/metrics`);
        return m.get('s3sw_pending_versions') === 0 && (m.get('s3sw_last_successful_pass_timestamp_seconds') ?? 0) > 0;
      },
      'a finished pass sees nothing pending',
      30_000,
    );
    const after = await scrape(`${url}/metrics`);
    expect(after.get('s3sw_files_discovered_total')).toBe(1);
    expect(after.get('s3sw_jobs_submitted_total')).toBe(1);
    expect(after.get('s3sw_jobs_failed_total{kind="permanent"}')).toBe(0);
    expect(after.get('s3sw_jobs_failed_total{kind="retryable"}')).toBe(0);
    expect(after.get('s3sw_jobs_retried_total')).toBe(0);
    expect(after.get('s3sw_files_dead_lettered_total')).toBe(0);
    expect(after.get('s3sw_running_jobs')).toBe(0);
    expect(after.get('s3sw_marker_entries')).toBe(1);
    expect(after.get('s3sw_job_duration_seconds_count{outcome="succeeded"}')).toBe(1);
    expect(after.get('s3sw_job_duration_seconds_sum{outcome="succeeded"}')).toBeGreaterThan(1);
    expect(after.get('s3sw_last_successful_pass_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // status --json, asking the running watcher for its jobs
    const marker = JSON.parse(await readFile(path.join(lake, MARKER_KEY), 'utf8')) as MarkerDocument;
    const entry = marker.files['raw/orders/2026/orders.parquet'];
    const status = JSON.parse(
      String(
        (
          await execa(process.execPath, ['bin/s3-spark-watcher.js', 'status', '--json'], {
            env: { LAKE: lake, METRICS_PORT: new URL(url).port },
            extendEnv: false,
          })
        ).stdout,
      ),
    ) as StatusReport;
    expect(status.datasets).toEqual([
      {
        dataset: 'orders',
        processed: 1,
        pending: 0,
        running: 0,
        deadLettered: 0,
        lastSuccess: entry?.finishedAt,
        lastFailure: null,
        // curated is a Delta table the run created: version 0, committed by that run
        curated: expect.objectContaining({ format: 'delta', version: 0, operation: 'WRITE', runId: entry?.runId }),
      },
    ]);
    expect(status.runs).toEqual([
      expect.objectContaining({ runId: entry?.runId, key: 'raw/orders/2026/orders.parquet', status: 'succeeded', rows: entry?.rows }),
    ]);

    // a clean stop, and every line of the run is JSON with its event's fields
    watch.kill('SIGTERM');
    expect((await watch).exitCode).toBe(0);
    const all = lines();
    for (const line of all) {
      for (const field of COMMON_LOG_FIELDS) expect(line, `${field} in ${JSON.stringify(line)}`).toHaveProperty(field);
      const fields = LOG_EVENT_FIELDS[line['event'] as keyof typeof LOG_EVENT_FIELDS] ?? [];
      for (const field of fields) expect(line, `${field} in ${JSON.stringify(line)}`).toHaveProperty(field);
    }
    const job = all.filter((l) => String(l['event']).startsWith('job:'));
    expect(job.map((l) => [l['event'], l['runId'], l['attempt']])).toEqual([
      ['job:started', entry?.runId, 1],
      ['job:succeeded', entry?.runId, 1],
    ]);
    expect(job[1]).toMatchObject({ dataset: 'orders', engine: 'local', rows: entry?.rows });
    expect(all.at(-1)).toMatchObject({ event: 'watch:stopped' });
  });
});
