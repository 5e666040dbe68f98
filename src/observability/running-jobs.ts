import type { JobContext } from '../controller/events.js';

export interface RunningJob extends JobContext {
  readonly startedAt: string;
}

/** The jobs this process is running now, for `/jobs` (which `status` reads). */
export class RunningJobs {
  readonly #jobs = new Map<string, RunningJob>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  started(ctx: JobContext): void {
    const { passId, runId, key, etag, dataset, engine } = ctx;
    this.#jobs.set(runId, { passId, runId, key, etag, dataset, engine, startedAt: this.#now().toISOString() });
  }

  finished(runId: string): void {
    this.#jobs.delete(runId);
  }

  list(): RunningJob[] {
    return [...this.#jobs.values()];
  }
}
