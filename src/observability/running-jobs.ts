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
    this.#jobs.set(jobId(ctx), { passId, runId, key, etag, dataset, engine, startedAt: this.#now().toISOString() });
  }

  /** The job of one version ended (a batch run is one entry per version it holds). */
  finished(ctx: Pick<JobContext, 'runId' | 'key'>): void {
    this.#jobs.delete(jobId(ctx));
  }

  list(): RunningJob[] {
    return [...this.#jobs.values()];
  }
}

const jobId = (ctx: Pick<JobContext, 'runId' | 'key'>): string => `${ctx.runId}\u0000${ctx.key}`;
