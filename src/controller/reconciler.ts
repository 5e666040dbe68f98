import { createHash } from 'node:crypto';
import type { DatasetSpec } from '../datasets/spec.js';
import type { CandidateVersion } from '../discovery/candidates.js';
import { inputProblem } from '../discovery/input-problem.js';
import type { Discovery, PollingDiscovery } from '../discovery/poller.js';
import type { SparkEngine } from '../engines/engine.js';
import { singleVersionReport } from '../engines/run-report.js';
import { type AccessDeniedError, RetryableError, accessDeniedIn, describeError, isPermanent } from '../errors.js';
import type { BatchManifests } from '../state/batch-manifests.js';
import type { ClaimStore } from '../state/claims.js';
import { type DeadLetterStore, isDeadLettered } from '../state/dead-letters.js';
import type { JobFailure } from '../state/job-failure.js';
import { type MarkerStore, isProcessed } from '../state/marker.js';
import type { ControllerEvents, JobContext, PassScope } from './events.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff.js';
import { keepClaim } from './claim-heartbeat.js';
import { type BatchSignals, BatchRunner, type NotRunState, type VersionRun } from './batch-run.js';
import { type BatchLimits, ONE_FILE_PER_JOB, formBatches } from './batches.js';
import { runLimited } from './limited-runner.js';
import type { JobOutcome, PassSummary } from './pass-summary.js';
import { type AttemptResult, type Sleep, realSleep, runWithRetries } from './retrying-run.js';
import { TypedEmitter } from './typed-emitter.js';

export interface ReconcilerOptions {
  readonly discovery: Pick<PollingDiscovery, 'discover' | 'lookup'>;
  readonly marker: MarkerStore;
  /** metadata/dead_letter.json: versions that failed for good are put there and passed over. */
  readonly deadLetters: DeadLetterStore;
  readonly engine: SparkEngine;
  readonly specs?: ReadonlyMap<string, DatasetSpec>;
  /** @default 1 */
  readonly maxConcurrentJobs?: number;
  /** Attempts and backoff for retryable failures. @default 3 attempts, 10 s to 300 s */
  readonly retry?: RetryPolicy;
  readonly now?: () => Date;
  /** The wait between attempts; injected so tests never wait. @default a real, abortable timer */
  readonly sleep?: Sleep;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
  /**
   * Replica safety: each version's dataset is claimed (a lease in metadata/claims/) before it runs,
   * so several controllers can share one lake. undefined: this controller is assumed to be alone.
   */
  readonly claims?: ClaimStore;
  /** The wait between claim renewals (every third of the TTL). @default a real, abortable timer */
  readonly heartbeatSleep?: Sleep;
  /** How many pending versions of one dataset one job takes (MAX_FILES_PER_JOB, MAX_BYTES_PER_JOB). @default one */
  readonly batchLimits?: BatchLimits;
  /** Where batch manifests are written (metadata/batches/); needed when a job may take more than one version. */
  readonly manifests?: BatchManifests;
}

export interface PassSignals {
  /** Aborted: start no new job (jobs already running go on). */
  readonly stopStarting?: AbortSignal;
  /** Aborted: stop running jobs now. Their versions stay unrecorded (not dead-lettered) and run again later. */
  readonly stopJobs?: AbortSignal;
}

/**
 * One reconcile pass: list raw/, diff the candidates against the marker and the dead letters, run
 * the missing versions oldest first (at most N at once, never two of one dataset), record each
 * success in the marker and each final failure in the dead letters. Level-triggered: whatever
 * happened before, the next pass looks again.
 */
export class Reconciler {
  readonly events = new TypedEmitter<ControllerEvents>();
  readonly #o: ReconcilerOptions;
  readonly #now: () => Date;
  readonly #batches: BatchRunner | undefined;
  #passCount = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    const limits = options.batchLimits ?? ONE_FILE_PER_JOB;
    if (!(Number.isInteger(limits.maxFiles) && limits.maxFiles >= 1))
      throw new RangeError(`batchLimits.maxFiles must be an integer >= 1, got ${limits.maxFiles}`);
    if (!(limits.maxBytes > 0)) throw new RangeError(`batchLimits.maxBytes must be > 0, got ${limits.maxBytes}`);
    if (limits.maxFiles > 1 && options.manifests === undefined) throw new RangeError('batches (batchLimits.maxFiles > 1) need manifests');
    this.#batches =
      options.manifests === undefined
        ? undefined
        : new BatchRunner({
            engine: options.engine,
            marker: options.marker,
            deadLetters: options.deadLetters,
            manifests: options.manifests,
            events: this.events,
            specs: options.specs,
            retry: options.retry ?? DEFAULT_RETRY_POLICY,
            sleep: options.sleep ?? realSleep,
            random: options.random ?? Math.random,
            now: this.#now,
            runSingle: (passId, c, signals) => this.#runVersion(passId, c, signals),
            deadLetter: (ctx, attempts, failure) => this.#deadLetter(ctx, attempts, failure),
          });
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
    const { document: dead } = await this.#o.deadLetters.load(stopStarting);
    const { candidates, skipped } = await discover(stopStarting);
    const todo = candidates
      .filter((c) => !isProcessed(document, c.key, c.etag))
      .sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const results: JobOutcome[] = [];
    const notRun: Array<{ readonly key: string; readonly state: NotRunState }> = [];
    // The controller may not write the lake's state (a claim, the marker, the dead letters): start
    // nothing more, let what runs finish, then fail the pass. Nothing is recorded for it.
    let denied: AccessDeniedError | undefined;
    const deniedStop = new AbortController();
    const stopRunning = stopStarting ? AbortSignal.any([stopStarting, deniedStop.signal]) : deniedStop.signal;
    let passedOver = 0;
    const runnable = todo.filter((c) => {
      if (!isDeadLettered(dead, c.key, c.etag)) return true;
      passedOver += 1;
      const reason = dead.deadLetters[c.key]?.message ?? 'dead-lettered';
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
    const batches = formBatches(runnable, this.#o.batchLimits ?? ONE_FILE_PER_JOB);
    const notStartedBatches = await runLimited(batches, {
      maxConcurrent: this.#o.maxConcurrentJobs ?? 1,
      groupOf: (batch) => (batch[0] as CandidateVersion).dataset,
      signal: stopRunning,
      run: async (batch) => {
        let runs: VersionRun[];
        try {
          runs = await this.#claimAndRun(passId, batch, {
            ...(stopStarting ? { stopStarting } : {}),
            ...(stopJobs ? { stopJobs } : {}),
          });
        } catch (error) {
          const accessDenied = accessDeniedIn(error);
          if (accessDenied === undefined) throw error;
          denied ??= accessDenied;
          deniedStop.abort(accessDenied);
          return;
        }
        for (const run of runs) {
          if (run.kind === 'ran') results.push(run.outcome);
          else notRun.push({ key: run.key, state: run.state });
        }
      },
    });
    const notStarted = notStartedBatches.flat();
    if (denied !== undefined) throw denied;
    const failed = results.filter((r) => r.status === 'failed');
    const leftToDo = failed.filter((r) => r.deadLettered !== true);
    const notRunIn = (state: NotRunState) => notRun.filter((r) => r.state === state);
    return {
      passId,
      processed: results.length - failed.length,
      failed: failed.length,
      deadLettered: passedOver + failed.length - leftToDo.length + notRunIn('dead-lettered').length,
      skipped: Object.values(skipped).reduce((a, b) => a + b, 0),
      pending: notStarted.length + leftToDo.length + notRunIn('pending').length,
      // Another controller finished it between this pass's listing and its claim.
      upToDate: candidates.length - todo.length + notRunIn('processed').length,
      results,
      unfinishedKeys: [...leftToDo.map((r) => r.key), ...notStarted.map((c) => c.key), ...notRunIn('pending').map((r) => r.key)],
    };
  }

  /** One job's versions: a batch (several versions of one dataset) when configured, else the version alone. */
  async #runJob(passId: string, batch: readonly CandidateVersion[], signals: PassSignals): Promise<VersionRun[]> {
    if (this.#batches !== undefined) return this.#batches.run(passId, batch, signals);
    const runs: VersionRun[] = [];
    for (const c of batch) runs.push({ kind: 'ran', outcome: await this.#runVersion(passId, c, signals) });
    return runs;
  }

  /**
   * With claims (replicas): claim the versions' dataset, check each version is still to do (another
   * controller may have recorded it since this pass listed), run them while renewing the claim, then
   * release the claim. A claim held by a live other controller leaves the versions pending for a
   * later pass; a claim taken over (this controller stalled past the TTL) stops the job like a shutdown.
   */
  async #claimAndRun(passId: string, batch: readonly CandidateVersion[], signals: PassSignals): Promise<VersionRun[]> {
    const claims = this.#o.claims;
    if (claims === undefined) return this.#runJob(passId, batch, signals);
    const c = batch[0] as CandidateVersion;
    const notRun = (state: NotRunState): VersionRun[] => batch.map((v) => ({ kind: 'not-run', key: v.key, state }));
    const base = { passId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name };
    let acquired;
    try {
      acquired = await claims.acquire(c, signals.stopStarting);
    } catch (error) {
      if (accessDeniedIn(error)) throw error; // not this version's problem: the pass fails
      if (signals.stopStarting?.aborted) return notRun('pending');
      const claimError = new RetryableError(`claiming ${c.dataset} for ${c.key} failed`, { cause: error });
      return batch.map((v) => {
        const runId = newRunId(this.#now(), v);
        this.events.emit('job:failed', { ...base, key: v.key, etag: v.etag, runId, error: claimError, permanent: false, durationMs: 0 });
        return {
          kind: 'ran',
          outcome: {
            key: v.key,
            etag: v.etag,
            dataset: v.dataset,
            runId,
            status: 'failed',
            durationMs: 0,
            error: describeError(claimError),
          },
        };
      });
    }
    if (!acquired.acquired) {
      const { owner, expiresAt, key: runningKey } = acquired.heldBy;
      for (const v of batch) this.events.emit('job:claimed-elsewhere', { ...base, key: v.key, etag: v.etag, owner, expiresAt, runningKey });
      return notRun('pending');
    }
    const heartbeat = keepClaim(claims, acquired.claim, {
      everyMs: Math.max(1, Math.floor(claims.ttlMs / 3)),
      sleep: this.#o.heartbeatSleep ?? realSleep,
    });
    try {
      // Read again now that the claim is ours: the listing may be older than another controller's record.
      let reread;
      try {
        reread = await Promise.all([this.#o.marker.load(signals.stopStarting), this.#o.deadLetters.load(signals.stopStarting)]);
      } catch (error) {
        if (signals.stopStarting?.aborted) return notRun('pending');
        throw error; // a marker or dead-letter document that cannot be read stops the pass, as at its start
      }
      const [{ document: marker }, { document: dead }] = reread;
      // A stop (SIGTERM) that came while claiming: start nothing new.
      if (signals.stopStarting?.aborted) return notRun('pending');
      const settled: VersionRun[] = [];
      const todo = batch.filter((v) => {
        const state = isProcessed(marker, v.key, v.etag) ? 'processed' : isDeadLettered(dead, v.key, v.etag) ? 'dead-lettered' : undefined;
        if (state !== undefined) settled.push({ kind: 'not-run', key: v.key, state });
        return state === undefined;
      });
      const stopJobs = signals.stopJobs ? AbortSignal.any([signals.stopJobs, heartbeat.lost]) : heartbeat.lost;
      return [...settled, ...(await this.#runJob(passId, todo, { ...signals, stopJobs }))];
    } finally {
      const latest = await heartbeat.stop();
      // A claim that cannot be released expires after its TTL; the version's state is already recorded.
      // One the controller may not write at all is a broken deployment: the pass fails.
      await claims.release(latest).catch((error: unknown) => {
        if (accessDeniedIn(error)) throw error;
      });
    }
  }

  /** A version's attempts (retried with backoff) and its final state: processed, dead-lettered, or left pending. */
  async #runVersion(passId: string, c: CandidateVersion, { stopStarting, stopJobs }: BatchSignals): Promise<JobOutcome> {
    const base = { passId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name };
    const result = await runWithRetries<JobOutcome>({
      key: c.key,
      etag: c.etag,
      policy: this.#o.retry ?? DEFAULT_RETRY_POLICY,
      attempts: this.#o.deadLetters,
      sleep: this.#o.sleep ?? realSleep,
      random: this.#o.random ?? Math.random,
      stopStarting,
      stopJobs,
      newRunId: () => newRunId(this.#now(), c),
      attempt: (runId, attempt) => this.#attempt(passId, c, runId, attempt, stopJobs),
      onRetrying: (retry) => this.events.emit('job:retrying', { ...base, ...retry }),
    });
    const failedOutcome = (runId: string, error: string): JobOutcome => ({
      key: c.key,
      etag: c.etag,
      dataset: c.dataset,
      runId,
      status: 'failed',
      durationMs: 0,
      error,
    });
    // Counting the attempt, recording the success, or the engine's own bookkeeping in the lake was
    // denied: not the version's fault (it stays pending, nothing was recorded for it); the pass fails.
    const accessDenied = result.kind === 'pending' ? accessDeniedIn(result.error) : undefined;
    if (accessDenied !== undefined) throw accessDenied;
    switch (result.kind) {
      case 'succeeded':
        return { ...result.value, attempts: result.attempts };
      case 'pending':
        if (result.value !== undefined) return { ...result.value, attempts: result.attempts };
        // No attempt ran: counting it in the bucket failed.
        this.events.emit('job:failed', { ...base, runId: result.runId, error: result.error, permanent: false, durationMs: 0 });
        return { ...failedOutcome(result.runId, describeError(result.error)), attempts: result.attempts };
      case 'dead-letter': {
        const recorded = await this.#deadLetter({ ...base, runId: result.runId }, result.attempts, result.failure);
        return {
          ...(result.value ?? failedOutcome(result.runId, result.failure.message)),
          attempts: result.attempts,
          ...(recorded ? { deadLettered: true } : {}),
        };
      }
    }
  }

  /** One attempt: submit, check the report, record the success. Never rejects: a failure is returned. */
  async #attempt(
    passId: string,
    c: CandidateVersion,
    runId: string,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptResult<JobOutcome>> {
    const ctx: JobContext = { passId, runId, key: c.key, etag: c.etag, dataset: c.dataset, engine: this.#o.engine.name };
    const started = this.#now().getTime();
    const spec = this.#o.specs?.get(c.dataset);
    this.events.emit('job:started', ctx);
    try {
      // Permanent, so dead-lettered at once: no job is started for what no job can use.
      const problem = inputProblem(c);
      if (problem !== undefined) throw problem;
      const report = singleVersionReport(
        await this.#o.engine.submit(
          // attempt: the version's attempt number counted in the bucket (EMR derives its clientToken from it)
          { runId, key: c.key, etag: c.etag, dataset: c.dataset, attempt, ...(spec ? { spec } : {}) },
          signal,
        ),
        `of run ${runId}`,
      );
      if (report.key !== c.key || report.etag !== c.etag) {
        throw new RetryableError(`the run report is for ${report.key} ${report.etag} (run ${report.runId}), not this job`);
      }
      // report.runId is this job's, or that of an earlier run of the same version that the engine
      // re-attached to after a restart (EMR Serverless): the marker names the run that did the work.
      // report.engine says where it ran when the engine chose (ENGINE=auto).
      const engine = report.engine ?? this.#o.engine.name;
      try {
        await this.#o.marker.record(c.key, {
          etag: c.etag,
          size: c.size,
          runId: report.runId,
          engine,
          finishedAt: report.finishedAt,
          rows: report.rows,
        });
      } catch (error) {
        // The job did its work; the version must not be dead-lettered for the marker's sake.
        throw new NotTheJobError(`recording ${c.key} in the marker failed`, { cause: error });
      }
      await forgetFailures(this.#o.deadLetters, c);
      const durationMs = this.#now().getTime() - started;
      this.events.emit('job:succeeded', { ...ctx, engine, report, durationMs });
      return {
        value: {
          key: c.key,
          etag: c.etag,
          dataset: c.dataset,
          runId: report.runId,
          status: 'succeeded',
          durationMs,
          rows: report.rows,
          outputs: report.outputs,
        },
      };
    } catch (error) {
      const durationMs = this.#now().getTime() - started;
      // A denied request of the controller's own (the marker, the engine's records in the lake) is not the job's failure either.
      const notTheJob = error instanceof NotTheJobError || accessDeniedIn(error) !== undefined;
      const permanent = !notTheJob && isPermanent(error);
      this.events.emit('job:failed', { ...ctx, error, permanent, durationMs });
      return {
        value: {
          key: c.key,
          etag: c.etag,
          dataset: c.dataset,
          runId,
          status: 'failed',
          durationMs,
          error: describeError(error),
          permanent,
        },
        error,
        ...(notTheJob ? { notTheJob } : {}),
      };
    }
  }

  /** Puts the version in the dead letters; false when that write failed (the version then stays pending). */
  async #deadLetter(ctx: JobContext, attempts: number, failure: JobFailure): Promise<boolean> {
    const entry = {
      key: ctx.key,
      etag: ctx.etag,
      attempts,
      ...failure,
      deadLetteredAt: this.#now().toISOString(),
      runId: ctx.runId,
    };
    try {
      await this.#o.deadLetters.deadLetter(entry);
    } catch (writeError) {
      if (accessDeniedIn(writeError)) throw writeError; // the pass fails; the version stays pending
      this.events.emit('job:failed', {
        ...ctx,
        error: new RetryableError('recording the dead letter failed', { cause: writeError }),
        permanent: false,
        durationMs: 0,
      });
      return false;
    }
    this.events.emit('job:dead-lettered', { ...ctx, entry });
    return true;
  }
}

/** A failure after the job succeeded (recording it failed): the version stays pending, not an attempt. */
class NotTheJobError extends RetryableError {}

/** After a success: drop the version's attempts and an older ETag's dead letter. Housekeeping: a leftover is harmless. */
async function forgetFailures(deadLetters: DeadLetterStore, c: CandidateVersion): Promise<void> {
  try {
    await deadLetters.succeeded(c.key, c.etag);
  } catch {
    // Attempts of a processed version are ignored, and a stale dead letter names an ETag no longer in raw/.
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
