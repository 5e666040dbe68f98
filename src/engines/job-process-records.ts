import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { signalProcessGroup } from './process-tree.js';
import { ProcessTable } from './process-table.js';

/** `<dir>/<run-id>.json`: a job's process group and the controller that started it. */
export interface JobProcessRecord {
  readonly runId: string;
  /** The job's process group (spark-submit's pid: it leads its own group). */
  readonly pgid: number;
  readonly controllerPid: number;
  /** The controller's start time from /proc, so a reused pid is not taken for it. */
  readonly controllerStartTime?: string;
  readonly startedAt: string;
}

/** An orphaned job that was stopped: its controller was gone. */
export interface StoppedOrphan {
  readonly runId: string;
  readonly pgid: number;
  readonly controllerPid: number;
  /** The group's processes that were killed (0: it had already ended; only the record was removed). */
  readonly processes: number;
}

export interface JobProcessRecordsOptions {
  readonly processTable?: ProcessTable;
  /** The controller this process is. @default process.pid */
  readonly selfPid?: number;
  /** How long to wait for a killed group to be gone before the rerun may start. @default 10000 */
  readonly goneWithinMs?: number;
}

/**
 * A record of each running spark-submit job on this machine, so a controller killed with
 * SIGKILL (no chance to stop its jobs) leaves a trace: the next controller that starts with the
 * same RUN_LOG_DIR stops the process groups whose controller is gone, before it runs anything, so
 * an orphaned job neither runs on for hours nor races the rerun of its version on the same
 * outputs. Groups of a live controller (another one on this machine) are left alone, and a group
 * is killed only while one of its processes still names the record's run id (pids get reused).
 */
export class JobProcessRecords {
  readonly #dir: string;
  readonly #table: ProcessTable;
  readonly #selfPid: number;
  readonly #goneWithinMs: number;
  #selfStart: Promise<string | undefined> | undefined;

  constructor(dir: string, options: JobProcessRecordsOptions = {}) {
    this.#dir = dir;
    this.#table = options.processTable ?? new ProcessTable();
    this.#selfPid = options.selfPid ?? process.pid;
    this.#goneWithinMs = options.goneWithinMs ?? 10_000;
  }

  async add(runId: string, pgid: number): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const controllerStartTime = await (this.#selfStart ??= this.#table.startTime(this.#selfPid));
    const record: JobProcessRecord = {
      runId,
      pgid,
      controllerPid: this.#selfPid,
      ...(controllerStartTime !== undefined ? { controllerStartTime } : {}),
      startedAt: new Date().toISOString(),
    };
    await writeFile(this.#file(runId), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }

  async remove(runId: string): Promise<void> {
    await rm(this.#file(runId), { force: true });
  }

  /** Stops the jobs left by controllers that are gone; returns what it found. Never throws for one bad record. */
  async stopOrphans(signal?: AbortSignal): Promise<StoppedOrphan[]> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json'));
    } catch {
      return []; // no folder: no job ever ran here
    }
    if (!(await this.#table.available())) return []; // cannot tell a live controller from a dead one
    const stopped: StoppedOrphan[] = [];
    for (const name of names) {
      signal?.throwIfAborted();
      const file = path.join(this.#dir, name);
      const record = await readRecord(file);
      if (record === undefined) {
        await rm(file, { force: true }); // unreadable (a write cut short): nothing to act on
        continue;
      }
      if (await this.#controllerAlive(record)) continue;
      const members = await this.#table.groupMembers(record.pgid);
      const runsTheJob = members.some((m) => m.args.includes(record.runId));
      if (runsTheJob) {
        signalProcessGroup(record.pgid, 'SIGKILL');
        await this.#gone(record, signal);
      }
      await rm(file, { force: true });
      stopped.push({
        runId: record.runId,
        pgid: record.pgid,
        controllerPid: record.controllerPid,
        processes: runsTheJob ? members.length : 0,
      });
    }
    return stopped;
  }

  /** The same pid with the same start time: that controller still runs (this one, or another on this machine). */
  async #controllerAlive(record: JobProcessRecord): Promise<boolean> {
    const start = await this.#table.startTime(record.controllerPid);
    return start !== undefined && (record.controllerStartTime === undefined || start === record.controllerStartTime);
  }

  /** Waits (polling /proc with a deadline) until no process of the group is left, so the rerun cannot overlap it. */
  async #gone(record: JobProcessRecord, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.#goneWithinMs;
    while ((await this.#table.groupMembers(record.pgid)).length > 0 && Date.now() < deadline) {
      await delay(50, undefined, signal ? { signal } : {});
    }
  }

  #file(runId: string): string {
    // Run ids are `<stamp>-<hex>`; anything else must not become a path.
    if (!/^[\w.-]+$/u.test(runId) || runId.startsWith('.')) throw new RangeError(`not a run id: ${JSON.stringify(runId)}`);
    return path.join(this.#dir, `${runId}.json`);
  }
}

async function readRecord(file: string): Promise<JobProcessRecord | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as Partial<JobProcessRecord>;
    if (typeof value.runId !== 'string' || !Number.isInteger(value.pgid) || !Number.isInteger(value.controllerPid)) return undefined;
    if ((value.pgid as number) <= 1) return undefined; // never signal the init group or "every process"
    return value as JobProcessRecord;
  } catch {
    return undefined;
  }
}
