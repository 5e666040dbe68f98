import { describe, expect, it } from 'vitest';
import { AutoEngine, type AutoEngineEvents } from '../../src/engines/auto-engine.js';
import { ConnectUnavailableError } from '../../src/engines/connect/connect-worker.js';
import type { JobRequest, SparkEngine } from '../../src/engines/engine.js';
import { PermanentJobError, RetryableJobError } from '../../src/engines/job-errors.js';
import type { RunReport } from '../../src/engines/run-report.js';
import { succeededReport } from '../helpers/scripted-engine.js';

/** An engine that records the jobs it got and answers with what the test queued. */
class Recorder implements SparkEngine {
  readonly name = 'local' as const;
  readonly jobs: string[] = [];
  readonly answers: Array<(job: JobRequest) => RunReport> = [];
  closed = 0;
  async submit(job: JobRequest): Promise<RunReport> {
    this.jobs.push(job.key);
    return (this.answers.shift() ?? succeededReport)(job);
  }
  async close(): Promise<void> {
    this.closed += 1;
  }
}

const job = (key: string): JobRequest => ({ runId: `r-${key}`, key, etag: '"e"', dataset: 'orders' });

describe('AutoEngine', () => {
  const setup = (answers: boolean[]) => {
    const connect = new Recorder();
    const local = new Recorder();
    let up = true;
    const engine = new AutoEngine({ connect, local, connectAnswers: async () => answers.shift() ?? up });
    const switches: AutoEngineEvents['engine:switched'][] = [];
    engine.events.on('engine:switched', (e) => switches.push(e));
    return { connect, local, engine, switches, setUp: (v: boolean) => (up = v) };
  };

  it('uses Connect while it answers, spark-submit while it does not, and says so once per switch', async () => {
    const { connect, local, engine, switches, setUp } = setup([]);
    await engine.submit(job('a'));
    await engine.submit(job('b'));
    setUp(false);
    await engine.submit(job('c'));
    await engine.submit(job('d'));
    setUp(true);
    await engine.submit(job('e'));
    expect(connect.jobs).toEqual(['a', 'b', 'e']);
    expect(local.jobs).toEqual(['c', 'd']);
    expect(switches.map(({ from, to }) => [from, to])).toEqual([
      [undefined, 'connect'],
      ['connect', 'local'],
      ['local', 'connect'],
    ]);
  });

  it('runs a job again with spark-submit when Connect is lost during it', async () => {
    const { connect, local, engine, switches } = setup([true, false]);
    connect.answers.push((j) => {
      throw new RetryableJobError('UNAVAILABLE', { runId: j.runId }, { cause: new ConnectUnavailableError('server gone') });
    });
    await expect(engine.submit(job('a'))).resolves.toMatchObject({ key: 'a', status: 'succeeded' });
    expect(local.jobs).toEqual(['a']);
    expect(switches.at(-1)).toMatchObject({ from: 'connect', to: 'local', reason: expect.stringMatching(/went away/u) });
    await engine.submit(job('b')); // the probe says it is still down
    expect(local.jobs).toEqual(['a', 'b']);
  });

  it('does not run a job twice for other failures: permanent and retryable job errors pass through', async () => {
    const { connect, local, engine } = setup([]);
    connect.answers.push((j) => {
      throw new PermanentJobError('not a Parquet file', { runId: j.runId, exitCode: 2 });
    });
    connect.answers.push((j) => {
      throw new RetryableJobError('executor lost', { runId: j.runId, exitCode: 1 });
    });
    await expect(engine.submit(job('a'))).rejects.toBeInstanceOf(PermanentJobError);
    await expect(engine.submit(job('b'))).rejects.toBeInstanceOf(RetryableJobError);
    expect(local.jobs).toEqual([]);
  });

  it('closes both engines', async () => {
    const { connect, local, engine } = setup([]);
    await engine.close();
    expect([connect.closed, local.closed]).toEqual([1, 1]);
  });
});
