import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm, writeFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { readRunReport, isBatchReport } from '../../src/engines/run-report.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { localOnceEnv, logLines, onceSummary, runOnce } from '../helpers/once-process.js';
import { processesMentioning } from '../helpers/processes.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const day1 = 'raw/orders/2026/11/01/orders.parquet';
const day2 = 'raw/orders/2026/11/02/orders.parquet';

/**
 * Batches with the real parts: the `once` CLI in its own process, the real spark-submit and the
 * PySpark job's `--manifest` form on a local lake made by the demo's generator.
 */
describe('batches on a local lake with the real spark-submit', { timeout: 300_000 }, () => {
  async function lakeWith(extra: Record<string, Buffer | string>) {
    const root = await tempDir('s3sw-batches-');
    const lake = path.join(root, 'lake');
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', lake]);
    await rm(path.join(lake, 'raw', 'customers'), { recursive: true }); // one dataset: each cold job costs ~15 s
    // Oldest first is the order of the keys below (day 1, day 2, then the extras in order).
    let t = 1_700_000_000;
    for (const key of [day1, day2]) await utimes(path.join(lake, key), ++t, t);
    for (const [key, body] of Object.entries(extra)) {
      await mkdir(path.dirname(path.join(lake, key)), { recursive: true });
      if (typeof body === 'string') await copyFile(path.join(lake, body), path.join(lake, key));
      else await writeFile(path.join(lake, key), body);
      await utimes(path.join(lake, key), ++t, t);
    }
    const once = (more: Record<string, string> = {}) =>
      runOnce(localOnceEnv(lake, path.join(root, 'runs'), { MAX_FILES_PER_JOB: '10', ...more }));
    const store = new LocalObjectStore(lake);
    return { root, lake, once, store, running: path.join(root, 'runs', 'running') };
  }

  it("one job runs a dataset's pending versions; a file that is not Parquet is dead-lettered alone while the others commit", async () => {
    const broken = 'raw/orders/2026/11/03/broken.parquet';
    const t = await lakeWith({ [broken]: Buffer.from('this is not a parquet file, only some text that says so') });
    const result = await t.once();
    expect(result.exitCode, String(result.stderr).slice(-2000)).toBe(1); // a version failed (for good)
    expect(onceSummary(result.stdout)).toMatchObject({ processed: 2, deadLettered: 1, pending: 0 });
    const lines = logLines(result.stderr);
    const batch = lines.find((l) => l['event'] === 'batch:started');
    expect(batch).toMatchObject({ dataset: 'orders', versions: 3 });
    const runId = String(batch?.['runId']);

    // The marker names each version, both done by the one batch run.
    const { document } = await new MarkerStore(t.store).load();
    expect(document.files[day1]).toMatchObject({ runId, rows: { read: expect.any(Number) as number } });
    expect(document.files[day2]?.runId).toBe(runId);
    expect(document.files[broken]).toBeUndefined();
    // The poison file: its own reason, one attempt.
    const dead = (await new DeadLetterStore(t.store).load()).document;
    expect(Object.keys(dead.deadLetters)).toEqual([broken]);
    expect(dead.deadLetters[broken]).toMatchObject({ attempts: 1, runId });
    expect(dead.deadLetters[broken]?.message).toMatch(/parquet/iu);
    expect(dead.attempts).toEqual({});

    // The report lists every version with its own rows and outcome; each good file has its own folders.
    const report = await readRunReport(t.store, runId);
    expect(report && isBatchReport(report)).toBe(true);
    if (report === undefined || !isBatchReport(report)) return;
    expect(report.files.map((f) => [f.key, f.status])).toEqual([
      [day1, 'succeeded'],
      [day2, 'succeeded'],
      [broken, 'failed'],
    ]);
    expect(report.files[0]?.rows.read).toBe(document.files[day1]?.rows.read);
    for (const key of [day1, day2]) {
      const folder = key.replace(/^raw\//u, 'cleaned/').replace(/\.parquet$/u, '');
      expect(
        (await readdir(path.join(t.lake, folder))).some((f) => f.endsWith('.parquet')),
        folder,
      ).toBe(true);
    }
    // Curated holds each order once, and order 1002 (in both days) as day 2 has it.
    const curated = await readParquetRows(path.join(t.lake, 'curated/orders'));
    const ids = curated.map((r) => Number(r['order_id']));
    expect(new Set(ids).size).toBe(ids.length);
    expect(curated.find((r) => Number(r['order_id']) === 1002)?.['_source_key']).toBe(day2);

    expect(onceSummary((await t.once()).stdout)).toMatchObject({ processed: 0, upToDate: 2, deadLettered: 1 });
  });

  it('a driver killed mid-batch: the batch is split, the half without the culprit commits, the culprit alone is dead-lettered', async () => {
    const culprit = 'raw/orders/2026/11/03/orders.parquet';
    const t = await lakeWith({ [culprit]: day1 });
    const killed: string[] = [];
    const seen = new Set<string>();
    let done = false;
    /** Kills every run that holds the culprit (its manifest names it, or its --key is it), once its Python driver is up. */
    const killer = (async () => {
      while (!done) {
        const records = existsSync(t.running) ? (await readdir(t.running)).filter((n) => n.endsWith('.json')) : [];
        for (const name of records) {
          if (seen.has(name)) continue;
          let record: { runId: string; pgid: number };
          try {
            record = JSON.parse(await readFile(path.join(t.running, name), 'utf8')) as { runId: string; pgid: number };
          } catch {
            continue; // being written
          }
          seen.add(name);
          const manifest = path.join(t.lake, 'metadata', 'batches', `${record.runId}.json`);
          const holds = existsSync(manifest)
            ? (await readFile(manifest, 'utf8')).includes(culprit)
            : (await processesMentioning(record.runId)).some((l) => l.includes(culprit));
          if (!holds) continue;
          await until(
            async () => (await processesMentioning(record.runId)).some((l) => /python[\d.]*\s+\S*pipeline\.py\s/u.test(l)),
            'the driver runs',
            120_000,
          );
          process.kill(record.pgid, 'SIGKILL');
          killed.push(record.runId);
        }
        await delay(100); // polling the running-job records
      }
    })();
    const result = await t.once({ MAX_ATTEMPTS: '1', RETRY_BASE_SECONDS: '0', RETRY_MAX_SECONDS: '0' });
    done = true;
    await killer;
    expect(result.exitCode, String(result.stderr).slice(-2000)).toBe(1); // a version failed (for good)
    expect(onceSummary(result.stdout)).toMatchObject({ processed: 2, deadLettered: 1, pending: 0 });
    const lines = logLines(result.stderr);
    const split = lines.filter((l) => l['event'] === 'batch:split');
    expect(split).toEqual([expect.objectContaining({ dataset: 'orders', versions: 3, halves: [2, 1] })]);
    expect(killed).toHaveLength(2); // the batch of three, then the culprit alone
    const { document } = await new MarkerStore(t.store).load();
    expect(Object.keys(document.files).sort()).toEqual([day1, day2]);
    expect(document.files[day1]?.runId).toBe(document.files[day2]?.runId);
    const dead = (await new DeadLetterStore(t.store).load()).document;
    expect(dead.deadLetters[culprit]).toMatchObject({ attempts: 1, runId: killed[1] });
    const ids = (await readParquetRows(path.join(t.lake, 'curated/orders'))).map((r) => Number(r['order_id']));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
