import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/cli/status-report.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ClaimStore } from '../../src/state/claims.js';
import { runCliWithEnv } from '../helpers/cli.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

const SPEC = {
  columns: { order_id: 'bigint', amount: 'int', order_ts: 'timestamp' },
  keys: ['order_id'],
  orderBy: ['order_ts'],
  partitionBy: [{ name: 'order_date', expr: 'to_date(order_ts)' }],
};

/** `curated convert` on a real lake: a Parquet curated table made by a real run becomes a Delta table in place. */
describe('curated convert <dataset>', { timeout: 240_000 }, () => {
  it('converts a Parquet curated table in place, keeping its rows, only while no controller holds the dataset', async () => {
    const root = await tempDir('s3sw-convert-');
    const lake = path.join(root, 'lake');
    const specs = path.join(root, 'datasets');
    await mkdir(specs);
    await writeFile(path.join(specs, 'orders.json'), JSON.stringify({ ...SPEC, tableFormat: 'parquet' }));
    await execa(venvPython(), [
      '-c',
      'import os,sys,datetime as d,pyarrow as pa,pyarrow.parquet as pq; os.makedirs(os.path.dirname(sys.argv[1])); ' +
        'pq.write_table(pa.table({"order_id": [1, 2, 3], "amount": [10, 20, 30], "order_ts": [d.datetime(2026, 11, 1, 9), d.datetime(2026, 11, 1, 10), d.datetime(2026, 11, 2, 9)]}), sys.argv[1])',
      path.join(lake, 'raw/orders/a.parquet'),
    ]);
    const env = {
      ...process.env,
      LAKE: lake,
      DATASETS_DIR: specs,
      RUN_LOG_DIR: path.join(root, 'logs'),
      SPARK_MASTER: 'local[1]',
    } as Record<string, string>;
    const cli = (args: string[]): ReturnType<typeof runCliWithEnv> => runCliWithEnv(args, env);

    // Nothing to convert yet: refused by name.
    const none = await cli(['curated', 'convert', 'orders']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('there is no curated table at curated/orders/');

    expect((await cli(['once', '--json'])).code).toBe(0);
    const curated = path.join(lake, 'curated/orders');
    const dataFiles = async (): Promise<string[]> =>
      (await readdir(curated, { recursive: true })).filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log')).sort();
    const filesBefore = await dataFiles();
    const rowsBefore = (await readParquetRows(curated))
      .map((r) => [Number(r['order_id']), Number(r['amount']), String(r['order_date'])])
      .sort();
    expect(rowsBefore).toEqual([
      [1, 10, '2026-11-01'],
      [2, 20, '2026-11-01'],
      [3, 30, '2026-11-02'],
    ]);

    // The spec still says parquet: converting would make its next run fail, so it is refused.
    const parquetSpec = await cli(['curated', 'convert', 'orders']);
    expect(parquetSpec.code).toBe(2);
    expect(parquetSpec.err).toContain('says tableFormat "parquet"');
    await writeFile(path.join(specs, 'orders.json'), JSON.stringify(SPEC));

    // A live controller holds the dataset: refused, naming it; the table is untouched.
    const claims = new ClaimStore(new LocalObjectStore(lake), { ttlMs: 60_000, owner: 'other-host/1/abc' });
    const held = await claims.acquire({ dataset: 'orders', key: 'raw/orders/b.parquet', etag: 'e' });
    if (!held.acquired) throw new Error('the test could not take the claim');
    const busy = await cli(['curated', 'convert', 'orders']);
    expect(busy.code).toBe(1);
    expect(busy.err).toContain('orders is claimed by other-host/1/abc (running raw/orders/b.parquet)');
    expect(await dataFiles()).toEqual(filesBefore);
    await claims.release(held.claim);

    const converted = await cli(['curated', 'convert', 'orders', '--json']);
    expect(converted.code, converted.err).toBe(0);
    const result = JSON.parse(converted.out.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(result).toMatchObject({ dataset: 'orders', converted: true, version: 0, rows: 3, partitionBy: ['order_date'] });
    expect(String(result['statement'])).toMatch(
      /^CONVERT TO DELTA parquet\.`file:.*\/curated\/orders` PARTITIONED BY \(`order_date` date\)$/u,
    );
    // In place: the same data files, now a Delta table that a reader outside Spark (delta-rs) reads whole.
    expect(await dataFiles()).toEqual(filesBefore);
    const rowsAfter = (await readParquetRows(curated))
      .map((r) => [Number(r['order_id']), Number(r['amount']), String(r['order_date'])])
      .sort();
    expect(rowsAfter).toEqual(rowsBefore);
    // status names the conversion, and the claim is free again.
    const status = JSON.parse((await cli(['status', '--json'])).out) as StatusReport;
    expect(status.datasets.find((d) => d.dataset === 'orders')?.curated).toMatchObject({
      format: 'delta',
      version: 0,
      operation: 'CONVERT',
      runId: expect.stringMatching(/^convert-/u),
    });
    expect((await claims.read('orders'))?.releasedAt).toBeDefined();

    // Again: nothing to do.
    const again = await cli(['curated', 'convert', 'orders', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toEqual({ dataset: 'orders', converted: false, version: 0 });
  });
});
