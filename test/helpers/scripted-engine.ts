import type { JobRequest, SparkEngine } from '../../src/engines/engine.js';
import { PermanentJobError, RetryableJobError } from '../../src/engines/job-errors.js';
import type { BatchRunReport, JobReport, RunReport } from '../../src/engines/run-report.js';

type Behaviour = 'succeed' | 'permanent' | 'retryable' | 'hold';

/** The driver log's last lines, as a real engine attaches them to a failure. */
export const SCRIPTED_LOG_TAIL = 'pipeline: permanent: the input is not a Parquet file (magic bytes missing)';

/**
 * An engine for controller tests: it runs no Spark, records what it was asked, and does what the
 * test scripts per key. 'hold' keeps a job running until the test releases it (or the signal aborts).
 */
export class ScriptedEngine implements SparkEngine {
  readonly name = 'local' as const;
  readonly submitted: JobRequest[] = [];
  readonly running = new Set<string>();
  maxRunning = 0;
  readonly #behaviour = new Map<string, Behaviour | Behaviour[]>();
  readonly #releases = new Map<string, () => void>();
  readonly #startedWaiters: Array<{ count: number; resolve: () => void }> = [];

  /** A list is used one behaviour per submit of the key, the last one repeating. */
  script(key: string, behaviour: Behaviour | readonly Behaviour[]): this {
    this.#behaviour.set(key, typeof behaviour === 'string' ? behaviour : [...behaviour]);
    return this;
  }

  /** Resolves once `count` jobs in all have started. */
  started(count: number): Promise<void> {
    return new Promise((resolve) => {
      this.#startedWaiters.push({ count, resolve });
      this.#notify();
    });
  }

  release(key: string): void {
    this.#releases.get(key)?.();
  }

  /** The versions of each batch submitted, in order (a batch's keys). */
  readonly batches: string[][] = [];

  async submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    if (job.batch !== undefined) return this.#submitBatch(job, signal);
    this.#begin(job);
    try {
      let behaviour = this.#next(job.key);
      if (behaviour === 'hold') {
        await this.#hold(job, signal);
        // The test may have scripted what happens after the release.
        behaviour = this.#next(job.key);
      }
      if (behaviour === 'permanent') {
        throw new PermanentJobError('not a Parquet file', { runId: job.runId, exitCode: 2, logTail: SCRIPTED_LOG_TAIL });
      }
      if (behaviour === 'retryable') throw new RetryableJobError('executor lost', { runId: job.runId, exitCode: 1 });
      return succeededReport(job);
    } finally {
      this.running.delete(job.key);
    }
  }

  async close(): Promise<void> {}

  #begin(job: JobRequest): void {
    this.submitted.push(job);
    this.running.add(job.key);
    this.maxRunning = Math.max(this.maxRunning, this.running.size);
    this.#notify();
  }

  /** Keeps the job running until the test releases it; rejects as a stopped job once the signal aborts. */
  #hold(job: JobRequest, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#releases.set(job.key, resolve);
      signal?.addEventListener('abort', () => reject(new RetryableJobError('stopped', { runId: job.runId }, { cause: signal.reason })), {
        once: true,
      });
    });
  }

  /**
   * A batch: any version scripted 'retryable' (or 'hold' then 'retryable') fails the whole run, as
   * a driver crash would; a version scripted 'permanent' fails alone in the report, as the job
   * isolates an unusable file; the others succeed.
   */
  async #submitBatch(job: JobRequest, signal?: AbortSignal): Promise<BatchRunReport> {
    const versions = job.batch?.versions ?? [];
    this.batches.push(versions.map((v) => v.key));
    this.#begin(job);
    try {
      const behaviours = versions.map((v) => this.#next(v.key));
      if (behaviours.includes('hold')) {
        await this.#hold(job, signal);
      }
      if (behaviours.includes('retryable')) throw new RetryableJobError('the driver died', { runId: job.runId, exitCode: 137 });
      const files = versions.map((v, i) => {
        const one = succeededReport({ ...job, key: v.key, etag: v.etag });
        if (behaviours[i] !== 'permanent')
          return { key: v.key, etag: v.etag, status: 'succeeded' as const, rows: one.rows, outputs: one.outputs };
        return {
          key: v.key,
          etag: v.etag,
          status: 'failed' as const,
          rows: { read: null, cleaned: null, quarantined: null, curated: null } as unknown as RunReport['rows'],
          outputs: {},
          error: { kind: 'permanent' as const, type: 'UnreadableInput', message: `not a Parquet file: ${v.key}` },
        };
      });
      const { key: _key, etag: _etag, ...base } = succeededReport(job);
      return { ...base, manifest: `file:///lake/${job.batch?.manifestKey ?? ''}`, files };
    } finally {
      this.running.delete(job.key);
    }
  }

  #next(key: string): Behaviour {
    const scripted = this.#behaviour.get(key) ?? 'succeed';
    if (typeof scripted === 'string') return scripted;
    return (scripted.length > 1 ? scripted.shift() : scripted[0]) ?? 'succeed';
  }

  #notify(): void {
    for (const w of [...this.#startedWaiters]) {
      if (this.submitted.length >= w.count) {
        this.#startedWaiters.splice(this.#startedWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}

/** The report of a successful run of `job`, as the Spark job would write it (fixed counts). */
export function succeededReport(job: JobRequest): RunReport {
  return {
    runId: job.runId,
    key: job.key,
    etag: job.etag,
    dataset: job.dataset,
    status: 'succeeded',
    rows: { read: 3, cleaned: 2, quarantined: 1, curated: 2 },
    outputs: { cleaned: `file:///lake/cleaned/${job.dataset}` },
    startedAt: '2026-11-28T00:00:00Z',
    finishedAt: '2026-11-28T00:00:01Z',
    sparkVersion: '4.0.5',
  };
}
