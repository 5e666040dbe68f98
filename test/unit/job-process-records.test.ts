import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { JobProcessRecords } from '../../src/engines/job-process-records.js';
import { ProcessTable } from '../../src/engines/process-table.js';
import { type SpawnedProcess, signalProcessGroup, spawnProcessGroup } from '../../src/engines/process-tree.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const FAKE = path.resolve('test/helpers/fake-spark-submit.mjs');
const table = new ProcessTable();
const started: SpawnedProcess[] = [];

afterEach(async () => {
  for (const p of started.splice(0)) {
    signalProcessGroup(p.pid, 'SIGKILL');
    await p.exited;
  }
});

/** The stand-in spark-submit in `hang` mode: it and its child run until killed, in their own process group. */
async function hangingJob(dir: string, runId: string) {
  const pidFile = path.join(dir, `${runId}.child`);
  const job = spawnProcessGroup(FAKE, ['--run-id', runId], {
    env: { PATH: process.env['PATH'] ?? '', FAKE_SPARK_MODE: 'hang', FAKE_PID_FILE: pidFile },
    cwd: dir,
    outputFile: path.join(dir, `${runId}.log`),
  });
  started.push(job);
  await until(() => existsSync(pidFile), 'the job started its child');
  return { job, pid: job.pid as number, child: Number(await readFile(pidFile, 'utf8')) };
}

/** The pid of a controller that has exited. */
async function deadPid(): Promise<number> {
  const gone = execa(process.execPath, ['-e', '']);
  await gone;
  return gone.pid as number;
}

const live = async (pid: number) => (await table.startTime(pid)) !== undefined;

describe('job process records (the local engine after a controller was killed)', () => {
  it('stops the whole process tree of a job whose controller is gone, and drops the record', async () => {
    const dir = await tempDir();
    const records = path.join(dir, 'running');
    const { job, pid, child } = await hangingJob(dir, '20261129T000000000Z-orphan');
    await mkdir(records);
    await writeFile(
      path.join(records, '20261129T000000000Z-orphan.json'),
      JSON.stringify({
        runId: '20261129T000000000Z-orphan',
        pgid: pid,
        controllerPid: await deadPid(),
        controllerStartTime: '1',
        startedAt: '',
      }),
    );
    const stopped = await new JobProcessRecords(records).stopOrphans();
    expect(stopped).toEqual([expect.objectContaining({ runId: '20261129T000000000Z-orphan', pgid: pid, processes: 2 })]);
    // Gone by the time stopOrphans returns: a rerun cannot overlap it.
    expect(await live(child)).toBe(false);
    expect(await job.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(await readdir(records)).toEqual([]);
  });

  it('leaves alone the jobs of a controller that is alive (another one on this machine)', async () => {
    const dir = await tempDir();
    const records = new JobProcessRecords(path.join(dir, 'running'));
    const { pid, child } = await hangingJob(dir, 'run-live');
    await records.add('run-live', pid); // recorded by this process, which is alive
    expect(await new JobProcessRecords(path.join(dir, 'running')).stopOrphans()).toEqual([]);
    expect(await live(child)).toBe(true);
    expect(await readdir(path.join(dir, 'running'))).toEqual(['run-live.json']);
  });

  it('does not signal a process group that no longer runs the recorded job (its pid was reused)', async () => {
    const dir = await tempDir();
    const records = path.join(dir, 'running');
    const { pid, child } = await hangingJob(dir, 'run-other');
    await mkdir(records);
    await writeFile(
      path.join(records, 'run-old.json'),
      JSON.stringify({ runId: 'run-old', pgid: pid, controllerPid: await deadPid(), startedAt: '' }),
    );
    expect(await new JobProcessRecords(records).stopOrphans()).toEqual([expect.objectContaining({ runId: 'run-old', processes: 0 })]);
    expect(await live(child)).toBe(true);
    expect(await readdir(records)).toEqual([]);
  });
});
