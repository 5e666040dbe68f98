import { PassThrough } from 'node:stream';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/cli/context.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { main } from '../../src/cli/main.js';
import type { StatusReport } from '../../src/cli/status-report.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { type MetricsServer, startMetricsServer } from '../../src/observability/metrics-server.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import { RunningJobs } from '../../src/observability/running-jobs.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A lake where two versions were processed (with their reports), one failed with a report, one is new. */
async function lakeWithHistory() {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const engine = new ScriptedEngine();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
  });
  await store.put('raw/orders/a.parquet', 'A');
  await store.put('raw/customers/c.parquet', 'C');
  await reconciler.runPass();
  const report = async (runId: string, body: Record<string, unknown>, folder = false) => {
    if (!folder) return store.put(`metadata/runs/${runId}.json`, JSON.stringify({ runId, ...body }));
    // as Spark writes it on an object store: a folder with a part file
    await mkdir(path.join(root, `metadata/runs/${runId}.json`), { recursive: true });
    await writeFile(path.join(root, `metadata/runs/${runId}.json/_SUCCESS`), '');
    await writeFile(path.join(root, `metadata/runs/${runId}.json/part-00000-x.json`), JSON.stringify({ runId, ...body }));
  };
  const rows = { read: 9, cleaned: 8, quarantined: 1, curated: 8 };
  await report('20261128T100000000Z-aaaaaaaaaaaa', {
    key: 'raw/orders/a.parquet',
    dataset: 'orders',
    status: 'succeeded',
    rows,
    startedAt: '2026-11-28T10:00:00.000Z',
    finishedAt: '2026-11-28T10:00:12.500Z',
  });
  await report(
    '20261128T110000000Z-bbbbbbbbbbbb',
    {
      key: 'raw/customers/c.parquet',
      dataset: 'customers',
      status: 'succeeded',
      rows,
      startedAt: '2026-11-28T11:00:00.000Z',
      finishedAt: '2026-11-28T11:00:03.000Z',
    },
    true,
  );
  await report('20261128T120000000Z-cccccccccccc', {
    key: 'raw/orders/broken.parquet',
    dataset: null,
    status: 'failed',
    rows: { read: null, cleaned: null, quarantined: null, curated: null },
    startedAt: '2026-11-28T12:00:00.000Z',
    finishedAt: '2026-11-28T12:00:01.000Z',
    error: { kind: 'permanent', type: 'NotParquet', message: 'raw/orders/broken.parquet is not a Parquet file' },
  });
  await store.put('raw/orders/new.parquet', 'N');
  const marker = (await new MarkerStore(store).load()).document;
  return { root, store, marker };
}

function context(root: string, args: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const ctx: CommandContext = { args, stdout, stderr: new PassThrough(), cwd: root, env: { LAKE: root, ...env } };
  return { ctx, out: () => out };
}

describe('status', () => {
  it('--json: per dataset counts that match the marker, last success and failure, the newest runs first', async () => {
    const { root, marker } = await lakeWithHistory();
    const { ctx, out } = context(root, ['status', '--json', '--runs', '2']);
    expect(await main(ctx)).toBe(0);
    const status = JSON.parse(out()) as StatusReport;
    expect(status.markerUpdatedAt).toBe(marker.updatedAt);
    expect(status.datasets.map(({ dataset, processed, pending, deadLettered }) => ({ dataset, processed, pending, deadLettered }))).toEqual(
      [
        { dataset: 'customers', processed: 1, pending: 0, deadLettered: 0 },
        { dataset: 'orders', processed: 1, pending: 1, deadLettered: 0 },
      ],
    );
    expect(status.datasets.reduce((n, d) => n + d.processed, 0)).toBe(Object.keys(marker.files).length);
    expect(status.datasets[0]?.lastSuccess).toBe(marker.files['raw/customers/c.parquet']?.finishedAt);
    expect(status.datasets[1]?.lastFailure).toEqual({
      at: '2026-11-28T12:00:01.000Z',
      runId: '20261128T120000000Z-cccccccccccc',
      key: 'raw/orders/broken.parquet',
      error: 'raw/orders/broken.parquet is not a Parquet file',
    });
    expect(status.datasets[0]?.lastFailure).toBeNull();
    expect(status.datasets.map((d) => d.curated)).toEqual([null, null]); // the scripted engine writes no table
    // no watch process to ask: running is unknown, not zero
    expect(status.datasets[0]?.running).toBeNull();
    expect(status.running).toEqual({ unknown: expect.stringContaining('METRICS_PORT') });
    expect(status.runs.map((r) => [r.runId, r.status, r.durationMs, r.rows?.read ?? null])).toEqual([
      ['20261128T120000000Z-cccccccccccc', 'failed', 1000, null],
      ['20261128T110000000Z-bbbbbbbbbbbb', 'succeeded', 3000, 9],
    ]);
  });

  it('the table shows the same, readable', async () => {
    const { root } = await lakeWithHistory();
    const { ctx, out } = context(root, ['status']);
    expect(await main(ctx)).toBe(0);
    const text = out();
    expect(text).toMatch(/^dataset\s+processed\s+pending\s+running\s+dead-lettered\s+curated\s+last success\s+last failure$/mu);
    expect(text).toMatch(/^orders\s+1\s+1\s+\?\s+0\s+-\s+\S+\s+2026-11-28T12:00:01.000Z raw\/orders\/broken.parquet: raw\/orders/mu);
    expect(text).toMatch(/^20261128T100000000Z-aaaaaaaaaaaa\s+succeeded\s+12\.5 s\s+9\s+8\s+1\s+8\s+raw\/orders\/a.parquet$/mu);
  });

  it('shows running jobs from the watch process, and dead-lettered versions from the dead-letter view', async () => {
    const { root } = await lakeWithHistory();
    const running = new RunningJobs();
    running.started({ passId: 'p1', runId: 'r1', key: 'raw/orders/new.parquet', etag: '"e"', dataset: 'orders', engine: 'local' });
    const metrics = new WatcherMetrics({ engine: 'local', passIntervalMs: 60_000, processMetrics: false });
    const server = await startMetricsServer({ port: 0, metrics, readiness: new Readiness({ passIntervalMs: 60_000 }), running });
    servers.push(server);
    const { ctx, out } = context(root, ['--json'], { METRICS_PORT: new URL(server.url).port });
    const newEtag = (await new LocalObjectStore(root).head('raw/orders/new.parquet'))?.etag ?? '';
    const dead = async () => [{ key: 'raw/orders/new.parquet', etag: newEtag, dataset: 'orders', reason: 'failed 5 times' }];
    expect(await statusCommand(ctx, () => dead)).toBe(0);
    const status = JSON.parse(out()) as StatusReport;
    expect(status.datasets.find((d) => d.dataset === 'orders')).toMatchObject({ running: 1, deadLettered: 1, pending: 0 });
    expect(status.datasets.find((d) => d.dataset === 'customers')).toMatchObject({ running: 0 });
  });

  it('refuses a bad --runs', async () => {
    const { root } = await lakeWithHistory();
    const { ctx } = context(root, ['status', '--runs', 'many']);
    expect(await main(ctx)).toBe(2);
  });
});
