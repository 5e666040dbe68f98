import { createHash } from 'node:crypto';
import type { DatasetSpec } from '../datasets/spec.js';
import type { CandidateVersion } from '../discovery/candidates.js';
import type { SparkEngine } from '../engines/engine.js';
import { RetryableJobError } from '../engines/job-errors.js';
import { type BatchFileReport, type BatchRunReport, isBatchReport, succeededVersions } from '../engines/run-report.js';
import { RetryableError, accessDeniedIn, describeError } from '../errors.js';
import type { BatchManifests } from '../state/batch-manifests.js';
import type { AttemptStart, DeadLetterEntry, DeadLetterStore } from '../state/dead-letters.js';
import type { JobFailure } from '../state/job-failure.js';
import type { MarkerStore, ProcessedEntry } from '../state/marker.js';
import { type RetryPolicy, backoffDelayMs } from './backoff.js';
import { halves } from './batches.js';
import type { ControllerEvents, JobContext } from './events.js';
import type { JobOutcome } from './pass-summary.js';
import { type Sleep, outOfAttempts } from './retrying-run.js';
import type { TypedEmitter } from './typed-emitter.js';

/** Not run: a stop came first, or another controller settled it meanwhile. */
export type NotRunState = 'pending' | 'processed' | 'dead-lettered';

/** How one version of a job ended: it ran (succeeded or failed), or it was left as it is. */
export type VersionRun =
  { readonly kind: 'ran'; readonly outcome: JobOutcome } | { readonly kind: 'not-run'; readonly key: string; readonly state: NotRunState };

export interface BatchSignals {
  /** Aborted: start no new job (a half waiting after a failed batch is not started). */
  readonly stopStarting?: AbortSignal | undefined;
  /** Aborted: stop the running job; its versions stay pending, their attempt not counted. */
  readonly stopJobs?: AbortSignal | undefined;
}

export interface BatchRunnerOptions {
  readonly engine: SparkEngine;
  readonly marker: MarkerStore;
  readonly deadLetters: DeadLetterStore;
  readonly manifests: BatchManifests;
  readonly events: TypedEmitter<ControllerEvents>;
  readonly specs?: ReadonlyMap<string, DatasetSpec> | undefined;
  readonly retry: RetryPolicy;
  readonly sleep: Sleep;
  readonly random: () => number;
  readonly now: () => Date;
  /** Runs one version as a job of its own, with its retries: a batch of one, and the end of a bisection. */
  readonly runSingle: (passId: string, c: CandidateVersion, signals: BatchSignals) => Promise<JobOutcome>;
  /** Puts one version in the dead letters; false when that write failed (it stays pending). */
  readonly deadLetter: (ctx: JobContext, attempts: number, failure: JobFailure) => Promise<boolean>;
}

interface Started {
  readonly c: CandidateVersion;
  readonly attempt: number;
}

/**
 * Runs a batch: several pending versions of one dataset in one job (the job's `--manifest` form).
 *
 * - Each version's attempt is counted before the job starts (one write for the batch), as for a
 *   single version, so a controller that dies mid-batch still uses attempts up.
 * - The job reports each version's outcome: the succeeded ones go into the marker in one
 *   conditional write; a version the job found unusable (permanent) is dead-lettered alone, with
 *   its own reason, while the others commit.
 * - A failure of the whole run (a crash, a lost executor, a timeout: it is not known which version
 *   caused it) counts against none of them: after the first retry's backoff, the batch is split
 *   in halves, each run as a batch again, down to single versions, which retry and dead-letter as
 *   always. One version that kills the driver is so found in log2(n) runs and holds the rest back
 *   only that long.
 */
export class BatchRunner {
  readonly #o: BatchRunnerOptions;

  constructor(options: BatchRunnerOptions) {
    this.#o = options;
  }

  async run(passId: string, batch: readonly CandidateVersion[], signals: BatchSignals): Promise<VersionRun[]> {
    const [only] = batch;
    if (only === undefined) return [];
    if (batch.length === 1) return [{ kind: 'ran', outcome: await this.#o.runSingle(passId, only, signals) }];
    if (signals.stopStarting?.aborted) return batch.map(notRun);
    const runId = newBatchRunId(this.#o.now(), batch);
    const { deadLetters } = this.#o;
    let starts: Map<string, AttemptStart>;
    try {
      starts = await deadLetters.beginAttempts(batch, runId, this.#o.retry.maxAttempts, signals.stopStarting);
    } catch (error) {
      if (accessDeniedIn(error)) throw error;
      if (signals.stopStarting?.aborted) return batch.map(notRun);
      return batch.map((c) => this.#failed(passId, runId, c, new RetryableError('counting the attempts failed', { cause: error }), 0));
    }
    const runs: VersionRun[] = [];
    const running: Started[] = [];
    for (const c of batch) {
      const start = starts.get(c.key);
      if (start?.started === true) {
        running.push({ c, attempt: start.attempt });
        continue;
      }
      if (start === undefined) continue; // not possible: each key has an answer
      const { record } = start;
      const ctx = this.#ctx(passId, record.runId, c);
      const recorded = await this.#o.deadLetter(ctx, record.attempts, outOfAttempts(record));
      runs.push({
        kind: 'ran',
        outcome: {
          ...failedOutcome(ctx, outOfAttempts(record).message, 0),
          attempts: record.attempts,
          ...(recorded ? { deadLettered: true } : {}),
        },
      });
    }
    if (running.length <= 1) {
      // One left: it runs as a job of its own (its attempt is counted there).
      await this.#cancel(running);
      for (const { c } of running) runs.push(...(await this.run(passId, [c], signals)));
      return runs;
    }
    return [...runs, ...(await this.#runJob(passId, runId, running, signals))];
  }

  async #runJob(passId: string, runId: string, running: readonly Started[], signals: BatchSignals): Promise<VersionRun[]> {
    const first = running[0] as Started;
    const { dataset } = first.c;
    const versions = running.map(({ c }) => ({ key: c.key, etag: c.etag }));
    let manifestKey: string;
    try {
      manifestKey = await this.#o.manifests.write(runId, dataset, versions, signals.stopStarting);
    } catch (error) {
      await this.#cancel(running);
      if (accessDeniedIn(error)) throw error;
      const why = new RetryableError(`writing the batch manifest of run ${runId} failed`, { cause: error });
      return running.map(({ c, attempt }) => this.#failed(passId, runId, c, why, 0, attempt - 1));
    }
    for (const { c } of running) this.#o.events.emit('job:started', this.#ctx(passId, runId, c));
    this.#o.events.emit('batch:started', { passId, runId, dataset, engine: this.#o.engine.name, versions: running.length, manifestKey });
    const started = this.#o.now().getTime();
    const spec = this.#o.specs?.get(dataset);
    let report: BatchRunReport;
    try {
      const answer = await this.#o.engine.submit(
        { runId, key: first.c.key, etag: first.c.etag, dataset, ...(spec ? { spec } : {}), batch: { manifestKey, versions } },
        signals.stopJobs,
      );
      if (!isBatchReport(answer)) throw new RetryableJobError(`the run report of batch ${runId} lists no files`, { runId });
      report = answer;
    } catch (error) {
      const durationMs = this.#o.now().getTime() - started;
      await this.#cancel(running);
      const stopped = signals.stopJobs?.aborted === true;
      for (const { c } of running) {
        this.#o.events.emit('job:failed', { ...this.#ctx(passId, runId, c), error, permanent: false, durationMs });
      }
      if (stopped)
        return running.map(({ c, attempt }) => ({
          kind: 'ran',
          outcome: { ...failedOutcome(this.#ctx(passId, runId, c), describeError(error), durationMs), attempts: attempt - 1 },
        }));
      return this.#split(passId, runId, running, error, signals);
    }
    return this.#settle(passId, report, running, this.#o.now().getTime() - started);
  }

  /** The whole run failed: wait the first retry's backoff, then run each half as a batch of its own. */
  async #split(passId: string, runId: string, running: readonly Started[], error: unknown, signals: BatchSignals): Promise<VersionRun[]> {
    const delayMs = backoffDelayMs(1, this.#o.retry, this.#o.random);
    const [left, right] = halves(running.map(({ c }) => c));
    this.#o.events.emit('batch:split', {
      passId,
      runId,
      dataset: (running[0] as Started).c.dataset,
      engine: this.#o.engine.name,
      versions: running.length,
      halves: [left.length, right.length],
      delayMs,
      error,
    });
    try {
      await this.#o.sleep(delayMs, signals.stopStarting);
    } catch {
      return running.map(({ c }) => notRun(c));
    }
    if (signals.stopStarting?.aborted) return running.map(({ c }) => notRun(c));
    return [...(await this.run(passId, left, signals)), ...(await this.run(passId, right, signals))];
  }

  /** Records what the run did for each version: the marker (one write), then the dead letters and attempts (one write). */
  async #settle(passId: string, report: BatchRunReport, running: readonly Started[], durationMs: number): Promise<VersionRun[]> {
    const engine = report.engine ?? this.#o.engine.name;
    const listed = new Map(report.files.map((f) => [f.key, f]));
    const byVersion = (s: Started): BatchFileReport | undefined => {
      const f = listed.get(s.c.key);
      return f?.etag === s.c.etag ? f : undefined;
    };
    const succeeded = running.filter((s) => byVersion(s)?.status === 'succeeded');
    const unlisted = running.filter((s) => byVersion(s) === undefined);
    const failed = running.filter((s) => byVersion(s)?.status === 'failed');
    const ctxOf = (c: CandidateVersion) => ({ ...this.#ctx(passId, report.runId, c), engine });
    const runs: VersionRun[] = [];

    const entries: Record<string, ProcessedEntry> = {};
    for (const { c } of succeeded) {
      const f = byVersion({ c, attempt: 0 }) as BatchFileReport;
      entries[c.key] = { etag: c.etag, size: c.size, runId: report.runId, engine, finishedAt: report.finishedAt, rows: f.rows };
    }
    let recorded = true;
    try {
      await this.#o.marker.recordAll(entries);
    } catch (error) {
      if (accessDeniedIn(error)) throw error;
      // The job did its work, but it is not recorded: not an attempt of theirs; a later pass runs them again.
      recorded = false;
      await this.#cancel(succeeded);
      const why = new RetryableError(`recording ${succeeded.length} versions of batch ${report.runId} in the marker failed`, {
        cause: error,
      });
      for (const s of succeeded) runs.push(this.#failed(passId, report.runId, s.c, why, durationMs, s.attempt - 1));
    }
    // Listed in no way the controller can use (the run was of another set of versions): not counted, run again later.
    if (unlisted.length > 0) await this.#cancel(unlisted);
    for (const s of unlisted) {
      const why = new RetryableError(`the report of batch ${report.runId} does not list ${s.c.key} ${s.c.etag}`);
      runs.push(this.#failed(passId, report.runId, s.c, why, durationMs, s.attempt - 1));
    }

    const deadLettered: DeadLetterEntry[] = [];
    const toRetry: Array<{ readonly key: string; readonly etag: string; readonly failure: JobFailure }> = [];
    for (const s of failed) {
      const f = byVersion(s) as BatchFileReport;
      const permanent = f.error?.kind === 'permanent';
      const failure: JobFailure = {
        // As a job of its own would have failed: a dead letter reads the same whether the version ran alone or in a batch.
        errorClass: permanent ? 'PermanentJobError' : 'RetryableJobError',
        message: f.error?.message ?? 'the job marked it failed without a reason',
      };
      if (permanent || s.attempt >= this.#o.retry.maxAttempts) {
        deadLettered.push({
          key: s.c.key,
          etag: s.c.etag,
          attempts: s.attempt,
          ...failure,
          deadLetteredAt: this.#o.now().toISOString(),
          runId: report.runId,
        });
      } else {
        toRetry.push({ key: s.c.key, etag: s.c.etag, failure });
      }
    }
    let settled = true;
    try {
      await this.#o.deadLetters.settle({
        ...(recorded ? { succeeded: succeeded.map(({ c }) => c) } : {}),
        failed: toRetry,
        deadLettered,
      });
    } catch (error) {
      if (accessDeniedIn(error)) throw error;
      settled = false; // the dead letters stay unrecorded: those versions stay pending (their attempt counted)
    }

    const perVersion = new Map(succeededVersions(report).map((r) => [r.key, r]));
    if (recorded) {
      for (const s of succeeded) {
        const versionReport = { ...(perVersion.get(s.c.key) as NonNullable<ReturnType<typeof perVersion.get>>), engine };
        this.#o.events.emit('job:succeeded', { ...ctxOf(s.c), report: versionReport, durationMs });
        runs.push({
          kind: 'ran',
          outcome: {
            key: s.c.key,
            etag: s.c.etag,
            dataset: s.c.dataset,
            runId: report.runId,
            status: 'succeeded',
            durationMs,
            rows: versionReport.rows,
            outputs: versionReport.outputs,
            attempts: s.attempt,
          },
        });
      }
    }
    const dead = new Map(deadLettered.map((e) => [e.key, e]));
    for (const s of failed) {
      const f = byVersion(s) as BatchFileReport;
      const permanent = f.error?.kind === 'permanent';
      const error = new RetryableJobError(f.error?.message ?? 'failed', { runId: report.runId });
      this.#o.events.emit('job:failed', { ...ctxOf(s.c), error, permanent, durationMs });
      const entry = dead.get(s.c.key);
      if (entry !== undefined && settled) this.#o.events.emit('job:dead-lettered', { ...ctxOf(s.c), entry });
      runs.push({
        kind: 'ran',
        outcome: {
          ...failedOutcome(ctxOf(s.c), f.error?.message ?? 'failed', durationMs),
          permanent,
          attempts: s.attempt,
          ...(entry !== undefined && settled ? { deadLettered: true } : {}),
        },
      });
    }
    this.#o.events.emit('batch:finished', {
      passId,
      runId: report.runId,
      dataset: (running[0] as Started).c.dataset,
      engine,
      versions: running.length,
      succeeded: recorded ? succeeded.length : 0,
      failed: failed.length,
      durationMs,
    });
    return runs;
  }

  /** Takes back the versions' counted attempts (the run failed as a whole, or was stopped). Best effort, unless denied. */
  async #cancel(started: readonly Started[]): Promise<void> {
    if (started.length === 0) return;
    try {
      await this.#o.deadLetters.cancelAttempts(started.map(({ c }) => c));
    } catch (error) {
      if (accessDeniedIn(error)) throw error;
      // Left counted: at worst a version has one attempt fewer left.
    }
  }

  #ctx(passId: string, runId: string, c: CandidateVersion): JobContext {
    return { passId, runId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name };
  }

  /** A version that did not get to run, or whose run could not be recorded: failed for this pass, still pending. */
  #failed(passId: string, runId: string, c: CandidateVersion, error: unknown, durationMs: number, attempts?: number): VersionRun {
    const ctx = this.#ctx(passId, runId, c);
    this.#o.events.emit('job:failed', { ...ctx, error, permanent: false, durationMs });
    return {
      kind: 'ran',
      outcome: { ...failedOutcome(ctx, describeError(error), durationMs), ...(attempts !== undefined ? { attempts } : {}) },
    };
  }
}

function notRun(c: CandidateVersion): VersionRun {
  return { kind: 'not-run', key: c.key, state: 'pending' };
}

function failedOutcome(ctx: JobContext, error: string, durationMs: number): JobOutcome {
  return { key: ctx.key, etag: ctx.etag, dataset: ctx.dataset, runId: ctx.runId, status: 'failed', durationMs, error };
}

/** Sortable by time, and names the batch: `20261128T120000123Z-b<12 hex of sha256 of its versions>`. */
export function newBatchRunId(now: Date, versions: ReadonlyArray<{ readonly key: string; readonly etag: string }>): string {
  const stamp = now.toISOString().replace(/[-:.]/gu, '');
  const hash = createHash('sha256');
  for (const { key, etag } of versions) hash.update(`${key}\u0000${etag}\u0000`);
  return `${stamp}-b${hash.digest('hex').slice(0, 12)}`;
}
