import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectServerArgs } from '../../src/engines/connect/connect-server.js';
import { PermanentJobError, RetryableJobError } from '../../src/engines/job-errors.js';
import { SparkSubmitEngine } from '../../src/engines/spark-submit-engine.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { runCliWithEnv } from '../helpers/cli.js';
import { freePort } from '../helpers/connect-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const FAKE = path.resolve('test/helpers/fake-spark-submit.mjs');

async function engineWith(mode: string, extra: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  const lake = await tempDir();
  const dir = await tempDir();
  const argsFile = path.join(dir, 'args.json');
  const engine = new SparkSubmitEngine({
    sparkSubmit: FAKE,
    pysparkPython: '/opt/venv/bin/python',
    master: 'local[1]',
    pipelinePath: path.resolve('spark-jobs/pipeline.py'),
    lakeUri: `file://${lake}`,
    store: new LocalObjectStore(lake),
    logDir: path.join(dir, 'logs'),
    timeoutMs: extra.timeoutMs ?? 30_000,
    killGraceMs: 500,
    env: {
      PATH: process.env['PATH'] ?? '',
      FAKE_SPARK_MODE: mode,
      FAKE_ARGS_FILE: argsFile,
      FAKE_PID_FILE: path.join(dir, 'pid'),
      ...extra.env,
    },
  });
  return { engine, lake, dir, argsFile };
}

const job = { runId: 'run-1', key: `raw/ds/it's a "file" $(touch pwned).parquet`, etag: '"abc"', dataset: 'ds', spec: { keys: ['id'] } };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the spark-submit engine', () => {
  it('passes the contract arguments as an array, untouched by any shell, and returns the report', async () => {
    const { engine, dir, argsFile } = await engineWith('ok');
    const report = await engine.submit(job);
    expect(report).toMatchObject({ runId: 'run-1', key: job.key, status: 'succeeded', rows: { read: 5 } });
    const { args, env } = JSON.parse(await readFile(argsFile, 'utf8')) as { args: string[]; env: Record<string, string> };
    expect(args.slice(args.indexOf(path.resolve('spark-jobs/pipeline.py')))).toEqual([
      path.resolve('spark-jobs/pipeline.py'),
      '--lake',
      expect.stringMatching(/^file:\/\//u) as unknown as string,
      '--key',
      job.key,
      '--etag',
      '"abc"',
      '--run-id',
      'run-1',
      '--spec',
      '{"keys":["id"]}',
    ]);
    expect(args.slice(0, 2)).toEqual(['--master', 'local[1]']);
    expect(args[args.indexOf('--driver-memory') + 1]).toBe('4g'); // DEFAULT_DRIVER_MEMORY.job
    expect(env['PYSPARK_PYTHON']).toBe('/opt/venv/bin/python');
    expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
    expect(await readFile(path.join(dir, 'logs', 'run-1.log'), 'utf8')).toContain('Running Spark version');
  });

  it('turns exit 2 into a permanent error with the job reason', async () => {
    const { engine } = await engineWith('permanent');
    const error = await engine.submit(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect((error as Error).message).toBe('raw/x.parquet is not a Parquet file (magic number mismatch)');
    expect((error as PermanentJobError).details).toMatchObject({
      exitCode: 2,
      logPath: expect.stringContaining('run-1.log') as unknown as string,
    });
  });

  it('turns other exits into retryable errors', async () => {
    const { engine } = await engineWith('crash');
    const error = await engine.submit(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect((error as Error).message).toMatch(/OutOfMemoryError/u);
    const { engine: silent } = await engineWith('no-report');
    await expect(silent.submit(job)).rejects.toThrow(/wrote no run report/u);
  });

  it('kills the whole process tree on timeout', async () => {
    const { engine, dir } = await engineWith('hang', { timeoutMs: 1500 });
    const error = await engine.submit(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect((error as Error).message).toMatch(/timed out after 2 s/u);
    const grandchild = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    await until(() => !alive(grandchild), 'the grandchild is gone');
  });

  it('stops the tree when the caller aborts', async () => {
    const { engine, dir } = await engineWith('hang');
    const controller = new AbortController();
    const running = engine.submit(job, controller.signal);
    await until(() => existsSync(path.join(dir, 'pid')), 'the job started its child');
    controller.abort(new Error('shutting down'));
    await expect(running).rejects.toThrow(/stopped before it finished \(shutting down\)/u);
    const grandchild = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    await until(() => !alive(grandchild), 'the grandchild is gone');
  });
});

describe('the local Spark Connect server command', () => {
  it('needs no LAKE: a server is not tied to a lake', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const { code, out, err } = await runCliWithEnv(['spark-connect', 'status', '--port', String(port)], {}, cwd);
    expect(err).not.toMatch(/No lake is set/u);
    expect(out).toContain(`sc://127.0.0.1:${port}: not answering`);
    expect(code).toBe(1);
  });

  it('sizes the driver and the compiled-code cache for a long-lived server', () => {
    const args = connectServerArgs({ host: '127.0.0.1', port: 15_002, driverMemory: '6g' });
    expect(args[args.indexOf('--driver-memory') + 1]).toBe('6g');
    const byDefault = connectServerArgs({ host: '127.0.0.1', port: 15_002 });
    expect(byDefault[byDefault.indexOf('--driver-memory') + 1]).toBe('4g');
    expect(args).toContain('spark.sql.codegen.cache.maxEntries=1000');
    expect(args).toContain('spark.connect.grpc.binding.address=127.0.0.1');
  });
});
