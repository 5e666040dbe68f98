import { createHash } from 'node:crypto';
import type { DatasetSpec } from '../datasets/spec.js';
import type { CandidateVersion } from '../discovery/candidates.js';
import type { Discovery, PollingDiscovery } from '../discovery/poller.js';
import type { SparkEngine } from '../engines/engine.js';
import { RetryableError, describeError, isPermanent } from '../errors.js';
import { type MarkerStore, isProcessed } from '../state/marker.js';
import type { ControllerEvents, JobContext, PassScope } from './events.js';
import { runLimited } from './limited-runner.js';
import type { JobOutcome, PassSummary } from './pass-summary.js';
import { TypedEmitter } from './typed-emitter.js';

export interface ReconcilerOptions {
  readonly discovery: Pick<PollingDiscovery, 'discover' | 'lookup'>;
  readonly marker: MarkerStore;
  readonly engine: SparkEngine;
  readonly specs?: ReadonlyMap<string, DatasetSpec>;
  /** @default 1 */
  readonly maxConcurrentJobs?: number;
  readonly now?: () => Date;
}

export interface PassSignals {
  /** Aborted: start no new job (jobs already running go on). */
  readonly stopStarting?: AbortSignal;
  /** Aborted: stop running jobs now. Their versions stay unrecorded and run again later. */
  readonly stopJobs?: AbortSignal;
}

/**
 * One reconcile pass: list raw/, diff the candidates against the marker, run the missing versions
 * oldest first (at most N at once, never two of one dataset), and record each success in the
 * marker. Level-triggered: whatever happened before, the next pass looks again.
 */
export class Reconciler {
  readonly events = new TypedEmitter<ControllerEvents>();
  readonly #o: ReconcilerOptions;
  readonly #now: () => Date;
  /** Versions that failed permanently in this process: not resubmitted until a restart or a new ETag. */
  readonly #held = new Map<string, string>();
  #passCount = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** A full pass: list all of raw/. */
  runPass(signals: PassSignals = {}): Promise<PassSummary> {
    return this.#run('full', (signal) => this.#o.discovery.discover(signal), signals);
  }

  /** A pass over named keys only (an event said they changed); each is looked up, then the same diff and run. */
  runTargetedPass(keys: readonly string[], signals: PassSignals = {}): Promise<PassSummary> {
    return this.#run('targeted', (signal) => this.#o.discovery.lookup(keys, signal), signals);
  }

  async #run(scope: PassScope, discover: (signal?: AbortSignal) => Promise<Discovery>, signals: PassSignals): Promise<PassSummary> {
    const passId = `p${++this.#passCount}-${this.#now().getTime().toString(36)}`;
    const started = this.#now().getTime();
    this.events.emit('pass:started', { passId, scope });
    try {
      const summary = await this.#pass(passId, scope, discover, signals);
      this.events.emit('pass:finished', { passId, summary, durationMs: this.#now().getTime() - started });
      return summary;
    } catch (error) {
      this.events.emit('pass:failed', { passId, error, durationMs: this.#now().getTime() - started });
      throw error;
    }
  }

  async #pass(
    passId: string,
    scope: PassScope,
    discover: (signal?: AbortSignal) => Promise<Discovery>,
    { stopStarting, stopJobs }: PassSignals,
  ): Promise<PassSummary> {
    const { document } = await this.#o.marker.load(stopStarting);
    const { candidates, skipped } = await discover(stopStarting);
    const todo = candidates
      .filter((c) => !isProcessed(document, c.key, c.etag))
      .sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const results: JobOutcome[] = [];
    const heldKeys: string[] = [];
    const runnable = todo.filter((c) => {
      const reason = this.#held.get(versionId(c));
      if (reason === undefined) return true;
      heldKeys.push(c.key);
      this.events.emit('job:held', { passId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name, reason });
      return false;
    });
    this.events.emit('pass:discovered', {
      passId,
      scope,
      candidates: candidates.length,
      todo: todo.map(({ key, etag, dataset }) => ({ key, etag, dataset, replaces: document.files[key] !== undefined })),
      runnable: runnable.length,
      markerEntries: Object.keys(document.files).length,
    });
    const notStarted = await runLimited(runnable, {
      maxConcurrent: this.#o.maxConcurrentJobs ?? 1,
      groupOf: (c) => c.dataset,
      signal: stopStarting,
      run: async (c) => {
        results.push(await this.#runOne(passId, c, stopJobs));
      },
    });
    const failedKeys = results.filter((r) => r.status === 'failed').map((r) => r.key);
    return {
      passId,
      processed: results.length - failedKeys.length,
      failed: failedKeys.length + heldKeys.length,
      skipped: Object.values(skipped).reduce((a, b) => a + b, 0),
      pending: notStarted.length + results.filter((r) => r.status === 'failed' && stopJobs?.aborted && !r.permanent).length,
      upToDate: candidates.length - todo.length,
      results,
      unfinishedKeys: [...failedKeys, ...heldKeys, ...notStarted.map((c) => c.key)],
    };
  }

  async #runOne(passId: string, c: CandidateVersion, signal: AbortSignal | undefined): Promise<JobOutcome> {
    const runId = newRunId(this.#now(), c);
    const ctx: JobContext = { passId, runId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name };
    const started = this.#now().getTime();
    const spec = this.#o.specs?.get(c.dataset);
    this.events.emit('job:started', ctx);
    try {
      const report = await this.#o.engine.submit(
        { runId, key: c.key, etag: c.etag, dataset: c.dataset, ...(spec ? { spec } : {}) },
        signal,
      );
      if (report.key !== c.key || report.etag !== c.etag) {
        throw new RetryableError(`the run report is for ${report.key} ${report.etag} (run ${report.runId}), not this job`);
      }
      // report.runId is this job's, or that of an earlier run of the same version that the engine
      // re-attached to after a restart (EMR Serverless): the marker names the run that did the work.
      await this.#o.marker.record(c.key, {
        etag: c.etag,
        size: c.size,
        runId: report.runId,
        engine: this.#o.engine.name,
        finishedAt: report.finishedAt,
        rows: report.rows,
      });
      const durationMs = this.#now().getTime() - started;
      this.events.emit('job:succeeded', { ...ctx, report, durationMs });
      return {
        key: c.key,
        etag: c.etag,
        dataset: c.dataset,
        runId: report.runId,
        status: 'succeeded',
        durationMs,
        rows: report.rows,
        outputs: report.outputs,
      };
    } catch (error) {
      const durationMs = this.#now().getTime() - started;
      const permanent = isPermanent(error);
      if (permanent) this.#held.set(versionId(c), describeError(error));
      this.events.emit('job:failed', { ...ctx, error, permanent, durationMs });
      return { key: c.key, etag: c.etag, dataset: c.dataset, runId, status: 'failed', durationMs, error: describeError(error), permanent };
    }
  }
}

function versionId(c: Pick<CandidateVersion, 'key' | 'etag'>): string {
  return `${c.key}\u0000${c.etag}`;
}

/** Sortable by time, and names the version: `20261128T120000123Z-<12 hex of sha256(key, etag)>`. */
export function newRunId(now: Date, c: Pick<CandidateVersion, 'key' | 'etag'>): string {
  const stamp = now.toISOString().replace(/[-:.]/gu, '');
  return `${stamp}-${createHash('sha256').update(versionId(c)).digest('hex').slice(0, 12)}`;
}
