import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectEngine, isConnectUnavailable } from '../../src/engines/connect/connect-engine.js';
import type { JobRequest } from '../../src/engines/engine.js';
import { PermanentJobError, RetryableJobError } from '../../src/engines/job-errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const FAKE_WORKER = path.resolve('test/helpers/fake-connect-worker.mjs');

async function engineWith(mode = 'ready', options: { workers?: number; timeoutMs?: number } = {}) {
  const dir = await tempDir();
  const state = path.join(dir, 'state');
  const engine = new ConnectEngine({
    remoteUrl: 'sc://127.0.0.1:15002',
    python: process.execPath, // runs the stand-in worker script
    workerPath: FAKE_WORKER,
    lakeUri: 'file:///lake',
    workers: options.workers ?? 1,
    timeoutMs: options.timeoutMs ?? 20_000,
    logDir: path.join(dir, 'logs'),
    env: { PATH: process.env['PATH'] ?? '', FAKE_WORKER_MODE: mode, FAKE_WORKER_STATE: state },
  });
  const starts = async (): Promise<string[]> => (await readFile(`${state}.starts`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { engine, starts };
}

const job = (key: string): JobRequest => ({
  runId: `run-${key.replace(/\W/gu, '')}`,
  key: `raw/ds/${key}.parquet`,
  etag: '"e"',
  dataset: 'ds',
});

describe('ConnectEngine (with a stand-in worker)', () => {
  it('returns the report, and keeps the contract: exit 2 is permanent, exit 1 retryable', async () => {
    const { engine, starts } = await engineWith();
    try {
      await expect(engine.submit(job('ok'))).resolves.toMatchObject({ status: 'succeeded', key: 'raw/ds/ok.parquet', runId: 'run-ok' });
      const permanent = await engine.submit(job('permanent')).catch((e: unknown) => e);
      expect(permanent).toBeInstanceOf(PermanentJobError);
      expect((permanent as PermanentJobError).message).toBe('permanent failure of raw/ds/permanent.parquet');
      await expect(engine.submit(job('retryable'))).rejects.toBeInstanceOf(RetryableJobError);
      expect(await starts()).toHaveLength(1); // one worker served all three
    } finally {
      await engine.close();
    }
  });

  it('says the server is lost, at start or mid-job, so the auto engine can fall back', async () => {
    const down = await engineWith('unreachable');
    const atStart = await down.engine.submit(job('ok')).catch((e: unknown) => e);
    expect(atStart).toBeInstanceOf(RetryableJobError);
    expect(isConnectUnavailable(atStart)).toBe(true);
    await down.engine.close();

    const { engine, starts } = await engineWith();
    const midJob = await engine.submit(job('lost')).catch((e: unknown) => e);
    expect(isConnectUnavailable(midJob)).toBe(true);
    // Before it says so, a new worker started on the same session: its start interrupts what the
    // server may still run of that job, so the job never runs twice at once.
    const sessions = await starts();
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).toBe(sessions[0]);
    await expect(engine.submit(job('ok'))).resolves.toMatchObject({ status: 'succeeded' }); // on that worker
    expect(await starts()).toHaveLength(2);
    await engine.close();
  });

  it('replaces a worker that dies mid-job on the same session and runs the job again', async () => {
    const { engine, starts } = await engineWith();
    const restarts: string[] = [];
    engine.events.on('worker:restarted', ({ runId }) => restarts.push(runId));
    await expect(engine.submit(job('die-once'))).resolves.toMatchObject({ status: 'succeeded' });
    expect(restarts).toEqual(['run-dieonce']);
    const sessions = await starts();
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).toBe(sessions[0]);
    await engine.close();
  });

  it('fails a job whose worker talks nonsense, as retryable, after one replacement', async () => {
    const { engine } = await engineWith();
    const error = await engine.submit(job('garbage')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect(String((error as Error).message)).toMatch(/not JSON/u);
    await engine.close();
  });

  it('times a job out: retryable, and the hung worker is replaced', async () => {
    const { engine, starts } = await engineWith('ready', { timeoutMs: 300 });
    const error = await engine.submit(job('hang')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect(String((error as Error).message)).toMatch(/timed out/u);
    expect(await starts()).toHaveLength(2);
    expect(engine.workerPids).toHaveLength(1);
    await engine.close();
    expect(engine.workerPids).toEqual([]);
  });

  it('runs at most `workers` jobs at once; an aborted job rejects as retryable', async () => {
    const { engine } = await engineWith('ready', { workers: 2 });
    const stop = new AbortController();
    let sent = 0;
    engine.events.on('job:sent', () => {
      sent += 1;
      if (sent === 2) stop.abort(new Error('shutdown'));
    });
    const hung = [engine.submit(job('hang-1'), stop.signal), engine.submit(job('hang-2'), stop.signal)];
    const third = engine.submit(job('ok'));
    const outcomes = await Promise.allSettled(hung);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason.message)).toMatch(/stopped before it finished \(shutdown\)/u);
    await expect(third).resolves.toMatchObject({ status: 'succeeded' });
    await engine.close();
  });
});
