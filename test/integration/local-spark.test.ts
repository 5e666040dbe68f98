import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createWatcher, type Watcher } from '../../src/cli/wiring.js';
import type { CuratedTableState } from '../../src/state/curated-tables.js';
import { MARKER_KEY, type MarkerDocument } from '../../src/state/marker.js';
import { deltaHistory, readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

/**
 * The real thing: the controller runs the real spark-submit on the real PySpark job against a
 * local lake made by the demo's generator. One file each step; later steps build on earlier ones.
 */
describe('end to end on a local lake with the real spark-submit', { timeout: 300_000 }, () => {
  let lake: string;
  let watcher: Watcher;
  const marker = async (): Promise<MarkerDocument> => JSON.parse(await readFile(path.join(lake, MARKER_KEY), 'utf8')) as MarkerDocument;
  const parquetParts = async (dir: string): Promise<string[]> =>
    (await readdir(path.join(lake, dir), { recursive: true })).filter((f) => f.endsWith('.parquet'));

  beforeAll(async () => {
    lake = path.join(await tempDir('s3sw-e2e-'), 'lake with space');
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', lake]);
    const config = loadConfig(
      {
        ...process.env,
        LAKE: lake,
        DATASETS_DIR: 'demo/datasets',
        RUN_LOG_DIR: path.join(lake, '..', 'logs'),
        SPARK_MASTER: 'local[1]',
        MAX_CONCURRENT_JOBS: '2',
      },
      { cwd: process.cwd() },
    );
    watcher = await createWatcher(config);
  });
  afterAll(async () => watcher?.close());

  it('processes two datasets into every zone and records them in the marker', async () => {
    const summary = await watcher.reconciler.runPass();
    expect(summary.results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(summary).toMatchObject({ processed: 3, failed: 0 });

    expect(await parquetParts('cleaned/orders/2026/11/01/orders')).not.toEqual([]);
    expect(await parquetParts('quarantine/orders/2026/11/01/orders')).not.toEqual([]);
    expect(await parquetParts('cleaned/customers/customers')).not.toEqual([]);
    expect(existsSync(path.join(lake, 'curated/orders/order_date=2026-11-01'))).toBe(true);

    const curated = await readParquetRows(path.join(lake, 'curated/orders'));
    const ids = curated.map((r) => Number(r['order_id']));
    expect(new Set(ids).size).toBe(ids.length); // one row per key
    // order 1002 came again in the second file with a later order_ts: the latest wins
    expect(curated.find((r) => Number(r['order_id']) === 1002)).toMatchObject({
      amount: '6.50',
      _source_key: 'raw/orders/2026/11/02/orders.parquet',
    });
    // a negative amount and an unknown currency went to quarantine, naming the rules they broke
    const quarantined = await readParquetRows(path.join(lake, 'quarantine/orders/2026/11/01/orders'));
    expect(quarantined.find((r) => Number(r['order_id']) === 1004)?.['_errors']).toContain('amount_non_negative');
    expect(curated.some((r) => Number(r['order_id']) === 1004)).toBe(false);

    const customers = await readParquetRows(path.join(lake, 'cleaned/customers/customers'));
    expect(customers.map((r) => r['customer_name']).sort()).toEqual(['Ada Lovelace', 'Alan Turing', 'Grace Hopper']);

    const files = (await marker()).files;
    expect(Object.keys(files).sort()).toEqual([
      'raw/customers/customers.parquet',
      'raw/orders/2026/11/01/orders.parquet',
      'raw/orders/2026/11/02/orders.parquet',
    ]);
    const entry = files['raw/orders/2026/11/01/orders.parquet'];
    expect(entry?.rows).toEqual({ read: 9, cleaned: 8, quarantined: 4, curated: 4 });
    const report = JSON.parse(await readFile(path.join(lake, 'metadata/runs', `${entry?.runId}.json`), 'utf8')) as Record<string, unknown>;
    // Both orders files ran in one batch (MAX_FILES_PER_JOB's default): its report lists each version with its own outcome and rows.
    expect(report).toMatchObject({ status: 'succeeded', dataset: 'orders' });
    expect(report['files']).toContainEqual(
      expect.objectContaining({ key: 'raw/orders/2026/11/01/orders.parquet', etag: entry?.etag, status: 'succeeded', rows: entry?.rows }),
    );
    expect((report['files'] as unknown[]).length).toBe(2);
  });

  it('submits nothing on a second pass', async () => {
    const summary = await watcher.reconciler.runPass();
    expect(summary).toMatchObject({ processed: 0, failed: 0, upToDate: 3 });
  });

  it('reprocesses only an overwritten file, and fails a fake Parquet file permanently', async () => {
    const before = await marker();
    await execa(venvPython(), [
      '-c',
      'import sys,pyarrow as pa,pyarrow.parquet as pq; pq.write_table(pa.table({"customerName": ["Edsger Dijkstra"], "E-mail": ["ewd@example.org"]}), sys.argv[1])',
      path.join(lake, 'raw/customers/customers.parquet'),
    ]);
    await mkdir(path.join(lake, 'raw/orders/2026/11/03'), { recursive: true });
    await writeFile(path.join(lake, 'raw/orders/2026/11/03/broken.parquet'), 'order_id,amount\n1,2\n');
    const summary = await watcher.reconciler.runPass();
    expect(summary).toMatchObject({ processed: 1, failed: 1, upToDate: 2 });
    const broken = summary.results.find((r) => r.key.endsWith('broken.parquet'));
    expect(broken).toMatchObject({ status: 'failed', permanent: true, deadLettered: true, attempts: 1 });
    expect(broken?.error).toMatch(/parquet/iu);

    const after = await marker();
    expect(after.files['raw/customers/customers.parquet']?.etag).not.toBe(before.files['raw/customers/customers.parquet']?.etag);
    expect(after.files['raw/orders/2026/11/01/orders.parquet']).toEqual(before.files['raw/orders/2026/11/01/orders.parquet']);
    expect(after.files['raw/orders/2026/11/03/broken.parquet']).toBeUndefined();
    const customers = await readParquetRows(path.join(lake, 'cleaned/customers/customers'));
    expect(customers.map((r) => r['customer_name'])).toEqual(['Edsger Dijkstra']);
  });

  it('leaves the marker unchanged for a killed run, and a later pass does it', async () => {
    await execa(venvPython(), [
      '-c',
      'import sys,pyarrow as pa,pyarrow.parquet as pq; pq.write_table(pa.table({"customerName": ["Barbara Liskov"]}), sys.argv[1])',
      path.join(lake, 'raw/customers/more.parquet'),
    ]);
    const stopJobs = new AbortController();
    // Kill it once the driver is really running: its log has output.
    const kill = ({ runId }: { runId: string }): void => {
      const log = path.join(watcher.config.runLogDir, `${runId}.log`);
      void until(
        async () => (await stat(log).catch(() => undefined))?.size !== 0 && existsSync(log),
        'the driver writes its log',
        60_000,
      ).then(() => stopJobs.abort(new Error('test kills the job')));
    };
    watcher.reconciler.events.on('job:started', kill);
    const killed = await watcher.reconciler.runPass({ stopJobs: stopJobs.signal });
    watcher.reconciler.events.off('job:started', kill);
    // the fake Parquet file is dead-lettered (permanent) and passed over, the killed one is pending
    expect(killed.results).toEqual([expect.objectContaining({ key: 'raw/customers/more.parquet', status: 'failed', permanent: false })]);
    expect((await marker()).files['raw/customers/more.parquet']).toBeUndefined();

    const again = await watcher.reconciler.runPass();
    expect(again.results).toEqual([expect.objectContaining({ key: 'raw/customers/more.parquet', status: 'succeeded' })]);
    expect((await marker()).files['raw/customers/more.parquet']).toBeDefined();
  });

  it('`once --json` prints the summary as its last line and exits 0 when nothing failed', async () => {
    await rm(path.join(lake, 'raw/orders/2026/11/03/broken.parquet'));
    const result = await execa(process.execPath, ['bin/s3-spark-watcher.js', 'once', '--json'], {
      env: { LAKE: lake, DATASETS_DIR: 'demo/datasets', LOG_LEVEL: 'warn' },
      reject: false,
    });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout).trim().split('\n').at(-1) ?? '')).toEqual({
      processed: 0,
      failed: 0,
      deadLettered: 0,
      skipped: 0,
      pending: 0,
      upToDate: 4,
    });
  });

  it('`status --json` counts processed and pending versions per dataset', async () => {
    await writeFile(path.join(lake, 'raw/orders/2026/11/04.parquet'), 'not yet processed');
    const result = await execa(process.execPath, ['bin/s3-spark-watcher.js', 'status', '--json'], { env: { LAKE: lake } });
    const status = JSON.parse(String(result.stdout)) as {
      datasets: { dataset: string; processed: number; pending: number; lastSuccess: string; curated: CuratedTableState | null }[];
    };
    expect(status.datasets.map(({ dataset, processed, pending }) => ({ dataset, processed, pending }))).toEqual([
      { dataset: 'customers', processed: 2, pending: 0 },
      { dataset: 'orders', processed: 2, pending: 1 },
    ]);
    expect(status.datasets[0]?.lastSuccess).toBe((await marker()).files['raw/customers/more.parquet']?.finishedAt);
    // Each curated table is a Delta table: its version and latest commit, the run that made it, as delta-rs sees them.
    const customers = await deltaHistory(path.join(lake, 'curated', 'customers'));
    expect(status.datasets[0]?.curated).toEqual({
      format: 'delta',
      version: customers.version,
      committedAt: customers.committedAt,
      operation: customers.operation,
      runId: expect.any(String) as string,
    });
    expect(customers.version).toBeGreaterThan(0); // more.parquet was merged into the table the first file made
    const runId = status.datasets[0]?.curated?.format === 'delta' ? status.datasets[0].curated.runId : null;
    expect(existsSync(path.join(lake, '..', 'logs', `${runId ?? '-'}.log`))).toBe(true); // a run of this controller
  });
});
