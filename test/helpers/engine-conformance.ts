import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetSpec } from '../../src/datasets/spec.js';
import type { JobRequest, SparkEngine } from '../../src/engines/engine.js';
import { PermanentJobError } from '../../src/engines/job-errors.js';
import { isBatchReport } from '../../src/engines/run-report.js';
import { BatchManifests } from '../../src/state/batch-manifests.js';
import { isPermanent } from '../../src/errors.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { venvPython } from './python.js';
import { tempDir } from './temp-dir.js';
import { until } from './until.js';

/** What one engine brings to the shared suite. */
export interface EngineFixture {
  readonly engine: SparkEngine;
  /** The lake the engine's jobs read and write. */
  readonly store: ObjectStore;
  /** Rows of a zone folder (`cleaned/...`, `curated/<dataset>`), read back from the lake. */
  readRows(prefix: string): Promise<Record<string, unknown>[]>;
  /** Resolves once the job of this run id is really running (not merely submitted). */
  whenRunning(runId: string): Promise<void>;
  /** Processes (or remote runs) the engine started that are still alive. */
  leftovers(): Promise<number>;
  close(): Promise<void>;
}

const ORDERS_SPEC: DatasetSpec = JSON.parse(await readFile(path.resolve('demo/datasets/orders.json'), 'utf8')) as DatasetSpec;

/** A small orders file: two versions of order 1 (the later wins), one row for quarantine. */
async function ordersParquet(): Promise<Buffer> {
  const file = path.join(await tempDir('s3sw-conf-'), 'orders.parquet');
  await execa(venvPython(), [
    '-c',
    `import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({
  "Order ID": [1, 1, 2, 3],
  "customer_id": [10, 10, 20, 30],
  "amount": ["5.00", "7.50", "-1", "3.25"],
  "currency": ["EUR", "EUR", "USD", "GBP"],
  "order_ts": ["2026-11-01 10:00:00", "2026-11-01 11:00:00", "2026-11-01 12:00:00", "2026-11-02 09:00:00"],
  "country": [" ES ", "ES", "US", "GB"],
}), sys.argv[1])`,
    file,
  ]);
  return readFile(file);
}

/**
 * The contract every engine keeps (DESIGN.md, "The Spark job contract"): the same request gives
 * the same zones and report whatever runs it; unusable input is permanent; a stopped job rejects
 * as retryable and leaves nothing running; close() is idempotent.
 */
export function describeEngineConformance(name: string, setup: () => Promise<EngineFixture>): void {
  describe(`engine conformance: ${name}`, { timeout: 300_000 }, () => {
    let f: EngineFixture;
    const job = async (key: string, body: Buffer, spec?: DatasetSpec): Promise<JobRequest> => {
      const { etag } = await f.store.put(key, body);
      const dataset = key.split('/')[1] ?? 'default';
      return { runId: `conf-${randomUUID()}`, key, etag, dataset, ...(spec ? { spec } : {}) };
    };

    beforeAll(async () => {
      f = await setup();
    });
    afterAll(async () => f?.close());

    it('runs a file into cleaned, quarantine and curated and returns its report', async () => {
      const request = await job('raw/orders/2026/11/01/orders.parquet', await ordersParquet(), ORDERS_SPEC);
      const report = await f.engine.submit(request);
      expect(report).toMatchObject({
        runId: request.runId,
        key: request.key,
        etag: request.etag,
        dataset: 'orders',
        status: 'succeeded',
        rows: { read: 4, cleaned: 4, quarantined: 1, curated: 2 },
      });
      expect(report.sparkVersion).toMatch(/^\d+\.\d+/u);
      const curated = await f.readRows('curated/orders');
      expect(curated.map((r) => [Number(r['order_id']), r['amount']]).sort()).toEqual([
        [1, '7.50'],
        [3, '3.25'],
      ]);
      expect((await f.readRows('quarantine/orders/2026/11/01/orders')).map((r) => Number(r['order_id']))).toEqual([2]);
      expect((await f.readRows('cleaned/orders/2026/11/01/orders')).map((r) => r['country']).sort()).toEqual(['ES', 'ES', 'GB']); // trimmed; both versions of order 1 passed
    });

    it('gives the same zones when the same version runs again (idempotent)', async () => {
      const key = 'raw/orders/2026/11/01/orders.parquet';
      const before = await f.readRows('curated/orders');
      const again = await f.engine.submit({ ...(await job(key, await ordersParquet(), ORDERS_SPEC)) });
      expect(again.rows.curated).toBe(2);
      const sortRows = (rows: Record<string, unknown>[]): string[] =>
        rows.map((r) => JSON.stringify([r['order_id'], r['amount'], r['_source_key']])).sort();
      expect(sortRows(await f.readRows('curated/orders'))).toEqual(sortRows(before));
    });

    it('runs a batch from its manifest (--manifest): each version its own folders and outcome; an unusable one fails alone', async () => {
      const good = ['raw/batched/2026/11/01/a.parquet', 'raw/batched/2026/11/02/b.parquet'];
      const broken = 'raw/batched/2026/11/03/broken.parquet';
      const versions = [];
      for (const key of good) versions.push({ key, etag: (await f.store.put(key, await ordersParquet())).etag });
      versions.push({ key: broken, etag: (await f.store.put(broken, Buffer.from('order_id,amount\n1,2\n'))).etag });
      const runId = `conf-batch-${randomUUID()}`;
      const manifestKey = await new BatchManifests(f.store).write(runId, 'batched', versions);
      const report = await f.engine.submit({
        runId,
        key: good[0] as string,
        etag: versions[0]?.etag ?? '',
        dataset: 'batched',
        spec: ORDERS_SPEC,
        batch: { manifestKey, versions },
      });
      expect(isBatchReport(report)).toBe(true);
      if (!isBatchReport(report)) return;
      expect(report).toMatchObject({ runId, dataset: 'batched', status: 'succeeded' });
      expect(report.files.map((v) => [v.key, v.etag, v.status, v.error?.kind])).toEqual([
        [good[0], versions[0]?.etag, 'succeeded', undefined],
        [good[1], versions[1]?.etag, 'succeeded', undefined],
        [broken, versions[2]?.etag, 'failed', 'permanent'],
      ]);
      expect(report.files[0]?.rows).toEqual({ read: 4, cleaned: 4, quarantined: 1, curated: 2 });
      for (const key of good) {
        const zone = key.replace(/^raw\//u, 'quarantine/').replace(/\.parquet$/u, '');
        expect((await f.readRows(zone)).map((r) => Number(r['order_id']))).toEqual([2]);
      }
      // Both files hold orders 1 and 3: curated keeps one row each, from the later file (b).
      const curated = await f.readRows('curated/batched');
      expect(curated.map((r) => [Number(r['order_id']), r['_source_key']]).sort()).toEqual([
        [1, good[1]],
        [3, good[1]],
      ]);
    });

    it('fails permanently on a file that is not Parquet', async () => {
      const request = await job('raw/orders/broken.parquet', Buffer.from('order_id,amount\n1,2\n'));
      const error = await f.engine.submit(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentJobError);
      expect(String((error as Error).message)).toMatch(/parquet/iu);
    });

    it('stops a running job when its signal aborts: rejects as retryable and leaves nothing running', async () => {
      const request = await job('raw/customers/slow.parquet', await ordersParquet());
      const stop = new AbortController();
      void f.whenRunning(request.runId).then(() => stop.abort(new Error('conformance test stops the job')));
      const error = await f.engine.submit(request, stop.signal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(isPermanent(error)).toBe(false);
      await until(async () => (await f.leftovers()) === 0, 'nothing the stopped job started is left running', 30_000);
    });

    it('still runs jobs after a stopped one, and close() can be called twice', async () => {
      const request = await job('raw/customers/after-stop.parquet', await ordersParquet());
      await expect(f.engine.submit(request)).resolves.toMatchObject({ status: 'succeeded', dataset: 'customers' });
      await f.engine.close();
      await f.engine.close();
    });
  });
}
