import { existsSync } from 'node:fs';
import { readFile, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { localOnceEnv, logLines, runOnce } from '../helpers/once-process.js';
import { processesMentioning } from '../helpers/processes.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import { versionStates } from '../helpers/version-states.js';

/**
 * Fault injection with the real parts: the `once` CLI in its own process, the real spark-submit
 * and PySpark job on a local lake. One file per step (a cold spark-submit is ~15 s); the second
 * step builds on the first.
 */
describe('crash safety on a local lake with the real spark-submit', { timeout: 300_000 }, () => {
  let root: string;
  let lake: string;
  let store: LocalObjectStore;
  const first = 'raw/orders/2026/11/01/orders.parquet';
  const second = 'raw/orders/2026/11/02/orders.parquet';
  const running = () => path.join(root, 'runs', 'running');

  const once = (extra: Record<string, string> = {}) => runOnce(localOnceEnv(lake, path.join(root, 'runs'), extra));
  /** The run the local engine has recorded as running (RUN_LOG_DIR/running/<run-id>.json). */
  const runningJob = async (): Promise<{ runId: string; pgid: number }> => {
    await until(async () => existsSync(running()) && (await readdir(running())).length > 0, 'a job is running', 120_000);
    const [name] = await readdir(running());
    return JSON.parse(await readFile(path.join(running(), name ?? ''), 'utf8')) as { runId: string; pgid: number };
  };
  /** Mid-job: the PySpark driver (python pipeline.py, started by the JVM) of this run is up. */
  const driverUp = (runId: string) =>
    until(
      async () => (await processesMentioning(runId)).some((l) => /^\S+\s+\S*python[\d.]*\s+\S*pipeline\.py\s/u.test(l.trim())),
      'the driver runs',
      120_000,
    );
  /** The curated table holds each order once. */
  const curatedIds = async (): Promise<number[]> =>
    (await readParquetRows(path.join(lake, 'curated/orders'))).map((r) => Number(r['order_id']));

  beforeAll(async () => {
    root = await tempDir('s3sw-crash-');
    lake = path.join(root, 'lake');
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', lake]);
    // One file at a time: the second orders file comes back for the second step.
    await rename(path.join(lake, second), path.join(root, 'second.parquet'));
    await rename(path.join(lake, 'raw/customers'), path.join(root, 'customers'));
    store = new LocalObjectStore(lake);
  });

  it('after kill -9 of the controller mid-job, a restarted one stops the orphaned job, runs the version again and records it once', async () => {
    const controller = once();
    const orphan = await runningJob();
    await driverUp(orphan.runId);
    controller.kill('SIGKILL');
    expect(await controller).toMatchObject({ signal: 'SIGKILL' });
    // The job outlives its controller (its own process group): left alone it would race the rerun.
    expect(await processesMentioning(orphan.runId)).not.toEqual([]);
    expect(await versionStates(store)).toEqual({ [first]: 'pending' });

    const restarted = await once();
    expect(restarted.stderr).not.toMatch(/"level":"error"/u);
    expect(restarted.exitCode).toBe(0);
    expect(JSON.parse(String(restarted.stdout).trim().split('\n').at(-1) ?? '')).toMatchObject({ processed: 1, failed: 0, pending: 0 });
    const stopped = logLines(restarted.stderr).find((l) => l['event'] === 'orphan:stopped');
    expect(stopped).toMatchObject({ runId: orphan.runId, pgid: orphan.pgid });
    expect(Number(stopped?.['processes'])).toBeGreaterThan(0);
    // Stopped before it finished (it never wrote its report), and nothing of it is left running.
    expect(await processesMentioning(orphan.runId)).toEqual([]);
    expect(existsSync(path.join(lake, 'metadata/runs', `${orphan.runId}.json`))).toBe(false);
    expect(await readdir(running())).toEqual([]);

    expect(await versionStates(store)).toEqual({ [first]: 'processed' });
    const entry = (await new MarkerStore(store).load()).document.files[first];
    expect(entry?.runId).not.toBe(orphan.runId);
    const ids = await curatedIds();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(entry?.rows.curated ?? -1);
    expect((await new DeadLetterStore(store).load()).document.attempts).toEqual({});
  });

  it('after kill -9 of the Spark driver mid-job, the run fails retryably, is retried and succeeds, with no duplicate curated row', async () => {
    await rename(path.join(root, 'second.parquet'), path.join(lake, second));
    const controller = once({ RETRY_BASE_SECONDS: '0', RETRY_MAX_SECONDS: '0' });
    const job = await runningJob();
    await driverUp(job.runId);
    // spark-submit execs the JVM (the driver, SparkSubmit), which leads the job's process group.
    const leader = await readFile(`/proc/${job.pgid}/cmdline`, 'utf8');
    expect(leader).toContain('org.apache.spark.deploy.SparkSubmit');
    process.kill(job.pgid, 'SIGKILL');

    const result = await controller;
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout).trim().split('\n').at(-1) ?? '')).toMatchObject({ processed: 1, failed: 0, upToDate: 1 });
    const lines = logLines(result.stderr);
    const failed = lines.find((l) => l['event'] === 'job:failed' && l['runId'] === job.runId);
    expect(failed).toMatchObject({ permanent: false, key: second });
    expect(lines.find((l) => l['event'] === 'job:retrying')).toMatchObject({ runId: job.runId, attempt: 1 });
    expect(lines.filter((l) => l['event'] === 'job:succeeded')).toEqual([expect.objectContaining({ key: second, attempt: 2 })]);
    expect(await processesMentioning(job.runId)).toEqual([]);

    expect(await versionStates(store)).toEqual({ [first]: 'processed', [second]: 'processed' });
    expect((await new DeadLetterStore(store).load()).document).toMatchObject({ attempts: {}, deadLetters: {} });
    // Order 1002 is in both files: curated keeps one row per order, the later one.
    const ids = await curatedIds();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(1002);
  });

  it('two controllers started at once on the lake run a new version exactly once between them', async () => {
    await rename(path.join(root, 'customers'), path.join(lake, 'raw/customers'));
    const [a, b] = await Promise.all([once(), once()]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const summaries = [a, b].map((r) => JSON.parse(String(r.stdout).trim().split('\n').at(-1) ?? '') as Record<string, number>);
    // One ran it; the other found the dataset claimed (left pending for its next pass) or already recorded.
    expect(summaries.map((s) => s['processed']).sort()).toEqual([0, 1]);
    const other = summaries.find((s) => s['processed'] === 0);
    expect((other?.['pending'] ?? 0) + (other?.['upToDate'] ?? 0)).toBe(3);
    // Every successful run wrote a report: one per version over all steps, none twice.
    const reports = await Promise.all(
      (await readdir(path.join(lake, 'metadata/runs'))).map(
        async (f) => JSON.parse(await readFile(path.join(lake, 'metadata/runs', f), 'utf8')) as { key: string; status: string },
      ),
    );
    const runsPerKey: Record<string, number> = {};
    for (const r of reports) if (r.status === 'succeeded') runsPerKey[r.key] = (runsPerKey[r.key] ?? 0) + 1;
    const states = await versionStates(store);
    expect(Object.values(states)).toEqual(['processed', 'processed', 'processed']);
    expect(runsPerKey).toEqual(Object.fromEntries(Object.keys(states).map((k) => [k, 1])));
  });
});
