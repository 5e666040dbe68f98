import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ProcessTable } from '../../src/engines/process-table.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { processesMentioning } from '../helpers/processes.js';
import { standInSparkHome } from '../helpers/stand-in-spark-home.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import { versionStates } from '../helpers/version-states.js';

type Line = Record<string, unknown>;
const GRACE_SECONDS = 2;

/**
 * SIGTERM to `watch` (its own process) while a job runs. The job is the stand-in spark-submit in
 * `hang` mode (it starts a child and never ends): the point is the process tree and the states.
 */
describe('SIGTERM to watch mid-job', { timeout: 60_000 }, () => {
  it('stops discovery, gives the job SHUTDOWN_GRACE_SECONDS, then stops its whole tree; the version stays pending, exit 0', async () => {
    const root = await tempDir('s3sw-term-');
    const lake = path.join(root, 'lake');
    await mkdir(path.join(lake, 'raw/orders'), { recursive: true });
    // Two versions of one dataset: the second may start only after the first, which never ends.
    await writeFile(path.join(lake, 'raw/orders/a.parquet'), 'A');
    await writeFile(path.join(lake, 'raw/orders/b.parquet'), 'B');
    const childPidFile = path.join(root, 'child.pid');
    const runLogs = path.join(root, 'runs');
    const sparkSubmit = await standInSparkHome(root);
    const watch = execa(process.execPath, ['bin/s3-spark-watcher.js', 'watch'], {
      env: {
        LAKE: lake,
        ENGINE: 'local',
        SPARK_SUBMIT: sparkSubmit,
        FAKE_SPARK_MODE: 'hang',
        FAKE_PID_FILE: childPidFile,
        RUN_LOG_DIR: runLogs,
        POLL_INTERVAL_SECONDS: '1',
        MAX_CONCURRENT_JOBS: '2',
        SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
        LOG_FORMAT: 'json',
        PATH: process.env['PATH'] ?? '',
        ...(process.env['JAVA_HOME'] ? { JAVA_HOME: process.env['JAVA_HOME'] } : {}),
      },
      extendEnv: false,
      reject: false,
    });
    await until(() => existsSync(childPidFile), 'the job started its child', 30_000);
    const child = Number(await readFile(childPidFile, 'utf8'));
    const [record] = await readdir(path.join(runLogs, 'running'));
    const { runId, pgid } = JSON.parse(await readFile(path.join(runLogs, 'running', record ?? ''), 'utf8')) as {
      runId: string;
      pgid: number;
    };
    const table = new ProcessTable();

    const sent = Date.now();
    watch.kill('SIGTERM');
    await until(async () => (await table.startTime(child)) === undefined, 'the job tree is stopped', 30_000);
    const stoppedAfterMs = Date.now() - sent;
    const result = await watch;

    expect(result.exitCode).toBe(0);
    // The job had its grace period (the process tree lived on), then was stopped.
    expect(stoppedAfterMs).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100);
    const lines = String(result.stderr)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
    expect(lines.find((l) => l['event'] === 'shutdown')?.['msg']).toMatch(/SIGTERM: finishing running jobs \(up to 2 s/u);
    expect(lines.at(-1)).toMatchObject({ event: 'watch:stopped' });
    // Discovery stopped: the other version never started (one driver log), nothing is left running.
    expect((await readdir(runLogs)).filter((f) => f.endsWith('.log'))).toEqual([`${runId}.log`]);
    expect(await processesMentioning(runId)).toEqual([]);
    expect(await table.startTime(pgid)).toBeUndefined();
    expect(await table.groupMembers(pgid)).toEqual([]);
    expect(await readdir(path.join(runLogs, 'running'))).toEqual([]);
    // Unrecorded, not dead-lettered, no attempt counted: it runs again, afresh, on the next start.
    const store = new LocalObjectStore(lake);
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'pending', 'raw/orders/b.parquet': 'pending' });
    expect((await new DeadLetterStore(store).load()).document).toMatchObject({ attempts: {}, deadLetters: {} });
  });
});
