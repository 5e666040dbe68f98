import { createHash } from 'node:crypto';
import {
  CancelJobRunCommand,
  type EMRServerlessClient,
  GetApplicationCommand,
  GetDashboardForJobRunCommand,
  GetJobRunCommand,
  type JobRun,
  ListJobRunsCommand,
  StartApplicationCommand,
  StartJobRunCommand,
  type StartJobRunCommandInput,
} from '@aws-sdk/client-emr-serverless';
import { AccessDeniedError, ConfigError, RetryableError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { FileVersion, JobRequest, SparkEngine } from '../engine.js';
import { PermanentJobError, RetryableJobError } from '../job-errors.js';
import { type JobReport, readRunReport } from '../run-report.js';
import { type JobArtifacts, buildJobArtifacts, uploadArtifactsIfNew } from './artifacts.js';
import { type Sleep, realSleep, withAwsRetry } from './aws-retry.js';
import { clientTokenFor } from './client-token.js';
import { type EmrRequestSettings, buildStartJobRunInput, driverLogUri, jobRunName } from './emr-request.js';
import { type EmrUsage, usageOf } from './job-run-usage.js';
import { RELEASE_FAMILIES, releaseFamilyOf, supportedReleasesText } from './release-families.js';
import { TypedEmitter } from '../../controller/typed-emitter.js';
import type { EmrEngineEvents } from './emr-engine-events.js';
import { JobRunFailedError } from './emr-errors.js';
import { readJobFailure } from './failure-report.js';
import { type InflightRecord, InflightRecords } from './inflight.js';
import {
  type ApplicationState,
  type JobRunState,
  STARTABLE_APPLICATION_STATES,
  TERMINAL_STATES,
  TRANSITIONAL_APPLICATION_STATES,
  isJobRunState,
} from './job-run-states.js';

export interface PollSettings {
  /** @default 2000 */
  readonly initialMs: number;
  /** @default 30000 */
  readonly maxMs: number;
  /** @default 1.5 */
  readonly factor: number;
}

export interface EmrServerlessEngineOptions {
  readonly client: EMRServerlessClient;
  /** close() destroys the client too. @default false */
  readonly ownsClient?: boolean;
  /** The lake: artifacts are uploaded, in-flight records kept and run reports read here. */
  readonly store: ObjectStore;
  readonly settings: Omit<EmrRequestSettings, 'entryPointKey' | 'pyFilesKey'>;
  /** spark-jobs/: pipeline.py and the watcher_job package. */
  readonly sparkJobsDir: string;
  /** A run still not finished this long after it was submitted is cancelled (and retried later). */
  readonly timeoutMs: number;
  /** How long to wait for CANCELLED, and for an application to start. @default 600000 */
  readonly settleTimeoutMs?: number;
  readonly poll?: Partial<PollSettings>;
  /** CancelJobRun's shutdownGracePeriodInSeconds (EMR_CANCEL_GRACE_SECONDS). @default EMR's own */
  readonly cancelGraceSeconds?: number;
  /** Calls per AWS request when throttled or on 5xx. @default 6 */
  readonly apiAttempts?: number;
  readonly sleep?: Sleep;
  readonly now?: () => number;
}

const RELEASE_EXAMPLE = RELEASE_FAMILIES[0]?.example ?? 'emr-7.12.0';

/** Why the engine stops watching a run before it ended. */
class StopWatching extends Error {
  constructor(readonly why: 'aborted' | 'timeout') {
    super(why);
  }
}

/**
 * Runs each job as an EMR Serverless job run: the job code is uploaded content-addressed, each
 * version's attempt has a deterministic clientToken, the run is recorded in the lake before it is
 * waited on (a restarted controller re-attaches instead of submitting again), watched with
 * backoff to a terminal state, and cancelled on abort, on timeout and on close.
 */
export class EmrServerlessEngine implements SparkEngine {
  readonly name = 'emr-serverless' as const;
  readonly events = new TypedEmitter<EmrEngineEvents>();
  readonly #o: EmrServerlessEngineOptions;
  readonly #sleep: Sleep;
  readonly #now: () => number;
  readonly #poll: PollSettings;
  readonly #inflight: InflightRecords;
  readonly #closing = new AbortController();
  readonly #active = new Set<Promise<unknown>>();
  #artifacts: Promise<JobArtifacts> | undefined;

  constructor(options: EmrServerlessEngineOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`);
    this.#o = options;
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? Date.now;
    this.#poll = { initialMs: 2000, maxMs: 30_000, factor: 1.5, ...options.poll };
    this.#inflight = new InflightRecords(options.store);
  }

  get #appId(): string {
    return this.#o.settings.applicationId;
  }

  /** Start-up check: the application exists, runs Spark, and on a release the job supports. A ConfigError says what to fix. */
  async validate(signal?: AbortSignal): Promise<{ releaseLabel?: string | undefined; family: string; state?: string | undefined }> {
    let application;
    try {
      application = (await this.#call((s) => this.#o.client.send(new GetApplicationCommand({ applicationId: this.#appId }), s), signal))
        .application;
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'ResourceNotFoundException')
        throw new ConfigError(`EMR_APPLICATION_ID=${this.#appId}: no such EMR Serverless application in this account and region.`, {
          cause: error,
        });
      if (error instanceof AccessDeniedError || name === 'AccessDeniedException')
        throw new ConfigError(
          `EMR_APPLICATION_ID=${this.#appId}: access denied; the controller's role needs emr-serverless:GetApplication (deploy/iam/controller-policy.json).`,
          { cause: error },
        );
      throw new ConfigError(`EMR_APPLICATION_ID=${this.#appId}: the application could not be read (${(error as Error).message}).`, {
        cause: error,
      });
    }
    if (application?.type?.toLowerCase() !== 'spark') {
      throw new ConfigError(
        `EMR_APPLICATION_ID=${this.#appId} is a ${application?.type ?? 'typeless'} application; the pipeline needs a Spark application.`,
      );
    }
    if (application.state === 'TERMINATED') throw new ConfigError(`EMR_APPLICATION_ID=${this.#appId} is terminated; create a new one.`);
    const family = releaseFamilyOf(application.releaseLabel);
    if (family === undefined) {
      throw new ConfigError(
        `EMR_APPLICATION_ID=${this.#appId} runs ${application.releaseLabel ?? 'an unknown release'}, which the job is not tested on; ` +
          `use an application of ${supportedReleasesText()} (aws emr-serverless create-application --type SPARK --release-label ${
            RELEASE_EXAMPLE
          } --name s3-spark-watcher).`,
      );
    }
    return { releaseLabel: application.releaseLabel, family: family.name, state: application.state };
  }

  async submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    signal?.throwIfAborted();
    if (this.#closing.signal.aborted) throw new RetryableJobError('the engine is closed', { runId: job.runId });
    const stop = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
    const running = this.#submit(job, stop).catch((error: unknown) => {
      if (error instanceof PermanentJobError || error instanceof RetryableJobError) throw error;
      const why = stop.aborted ? 'stopped before the job run was submitted' : `could not run the job: ${(error as Error).message}`;
      throw new RetryableJobError(why, { runId: job.runId }, { cause: error });
    });
    this.#active.add(running);
    try {
      return await running;
    } finally {
      this.#active.delete(running);
    }
  }

  /** Cancels every run this engine still watches and waits until they are CANCELLED. Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new Error('the engine is closing'));
    await Promise.allSettled([...this.#active]);
    if (this.#o.ownsClient) this.#o.client.destroy();
  }

  async #submit(job: JobRequest, signal: AbortSignal): Promise<JobReport> {
    // A version's run is recorded by its key and ETag; a batch's by its dataset (one writer per
    // dataset: a restarted controller watches the dataset's unfinished batch run to its end before
    // it starts another one, whatever versions that run holds), its token made from its versions.
    const identity = job.batch === undefined ? { key: job.key, etag: job.etag } : { key: batchInflightId(job.dataset), etag: '' };
    const previous = await this.#inflight.read(identity.key, identity.etag, signal);
    let record: InflightRecord;
    const resumed = previous !== undefined && previous.finalState === undefined && previous.applicationId === this.#appId;
    if (resumed) {
      // A run of this version was submitted by an earlier controller (or an earlier call that was
      // cut off): watch that one.
      record = previous;
    } else {
      const attempt = Math.max(job.attempt ?? 1, previous === undefined ? 1 : previous.attempt + 1);
      const clientToken = clientTokenFor(
        this.#o.settings.lakeUri,
        identity.key,
        job.batch === undefined ? job.etag : versionsDigest(job.batch.versions),
        attempt,
      );
      const request = await this.#requestFor(job, job.runId, clientToken, signal);
      record = {
        key: identity.key,
        etag: identity.etag,
        attempt,
        runId: job.runId,
        clientToken,
        applicationId: this.#appId,
        submittedAt: new Date(this.#now()).toISOString(),
        request,
      };
      // The intent, with the exact request, before the request is sent.
      await this.#inflight.write(record, signal);
    }
    const details = { runId: record.runId };

    let jobRunId = record.jobRunId;
    const reattached = jobRunId !== undefined || resumed;
    if (jobRunId === undefined) {
      await this.#ensureApplicationStarted(record.runId, signal);
      // An intent without a job run id: StartJobRun was perhaps sent and the run started before the
      // controller stopped. Look for it first; EMR's clientToken idempotency alone is not relied on.
      if (resumed) jobRunId = await this.#findStartedRun(record, job.dataset, signal);
      if (jobRunId === undefined) {
        const input = record.request ?? (await this.#requestFor(job, record.runId, record.clientToken, signal));
        try {
          // Not cut off by the job's signal: once sent, the run may exist, and it must be recorded
          // (then an abort cancels it) rather than forgotten.
          jobRunId = (await this.#call((s) => this.#o.client.send(new StartJobRunCommand(input), s), this.#settleSignal())).jobRunId;
        } catch (error) {
          throw new RetryableJobError(`StartJobRun failed: ${(error as Error).message}`, details, { cause: error });
        }
        if (jobRunId === undefined) throw new RetryableJobError('StartJobRun returned no jobRunId', details);
      }
      record = { ...record, jobRunId };
      await this.#inflight.write(record, this.#settleSignal());
    }
    const logPath = driverLogUri(this.#o.settings.logUri, this.#appId, jobRunId);
    this.events.emit('emr:job-run', { runId: record.runId, jobRunId, attempt: record.attempt, key: job.key, reattached });
    const finished = (run: JobRun, state: JobRunState): EmrUsage => {
      const usage = usageOf(run, state);
      this.events.emit('emr:job-run-finished', { runId: record.runId, jobRunId, key: job.key, usage });
      return usage;
    };

    let run: JobRun;
    try {
      run = await this.#watch(record.runId, jobRunId, Date.parse(record.submittedAt) + this.#o.timeoutMs, signal);
    } catch (error) {
      if (!(error instanceof StopWatching)) {
        // EMR no longer knows the run (expired, or another account/region): stop re-attaching to it;
        // the next try is a new attempt.
        if ((error as Error).name === 'ResourceNotFoundException')
          await this.#inflight.write({ ...record, finalState: 'FAILED' }, this.#settleSignal());
        throw new RetryableJobError(
          `watching job run ${jobRunId} failed: ${(error as Error).message}`,
          { ...details, logPath },
          { cause: error },
        );
      }
      this.events.emit('emr:job-run-cancelling', { runId: record.runId, jobRunId, why: error.why });
      const final = await this.#cancel(record.runId, jobRunId);
      await this.#inflight.write({ ...record, finalState: final }, this.#settleSignal());
      if (error.why === 'timeout') {
        throw new RetryableJobError(
          `timed out after ${Math.round(this.#o.timeoutMs / 1000)} s; job run ${jobRunId} was cancelled (${final})`,
          { ...details, logPath },
        );
      }
      throw new RetryableJobError(
        `stopped before it finished (${signal.reason instanceof Error ? signal.reason.message : 'shutdown'}); job run ${jobRunId} was cancelled (${final})`,
        { ...details, logPath },
        { cause: signal.reason },
      );
    }

    const state = run.state as JobRunState;
    const usage = finished(run, state);
    if (state === 'SUCCESS') {
      // Marked done first: the next run of this version (a reprocess, or a retry because the report
      // is missing) is a new attempt with a new clientToken; the old token would only return this
      // finished run again.
      await this.#inflight.write({ ...record, finalState: 'SUCCESS', usage }, signal);
      const report = await readRunReport(this.#o.store, record.runId, signal);
      if (report === undefined)
        throw new RetryableJobError(`job run ${jobRunId} succeeded but wrote no run report`, { ...details, logPath });
      if (report.status !== 'succeeded')
        throw new RetryableJobError(`job run ${jobRunId} succeeded but its report says ${report.status}`, { ...details, logPath });
      return { ...report, emr: usage };
    }

    await this.#inflight.write({ ...record, finalState: state, usage }, signal);
    const failure = await readJobFailure(this.#o.store, record.runId, signal);
    const why = failure?.message ?? run.stateDetails ?? state;
    const message = `job run ${jobRunId} ${state}: ${why}${run.stateDetails && failure ? ` (${run.stateDetails})` : ''}`;
    // The job's own report says whether the input is unusable (its exit code 2 does not reach us).
    if (state === 'FAILED' && failure?.kind === 'permanent') throw new PermanentJobError(failure.message, { ...details, logPath });
    throw new JobRunFailedError(
      message,
      { ...details, logPath },
      {
        applicationId: this.#appId,
        jobRunId,
        state,
        stateDetails: run.stateDetails,
        driverLogUri: logPath,
      },
    );
  }

  /** Polls GetJobRun with backoff until a terminal state; StopWatching on abort or past the deadline. */
  async #watch(runId: string, jobRunId: string, deadline: number, signal: AbortSignal): Promise<JobRun> {
    let pause = this.#poll.initialMs;
    let last: JobRunState | undefined;
    let dashboardAsked = false;
    for (;;) {
      if (signal.aborted) throw new StopWatching('aborted');
      if (this.#now() >= deadline) throw new StopWatching('timeout');
      let run: JobRun | undefined;
      try {
        run = await this.#getJobRun(jobRunId, signal);
      } catch (error) {
        if (signal.aborted) throw new StopWatching('aborted');
        throw error;
      }
      const state = run.state;
      if (!isJobRunState(state)) throw new RetryableError(`GetJobRun returned an unknown state ${String(state)}`);
      if (state !== last) this.events.emit('emr:job-run-state', { runId, jobRunId, state });
      // Once the driver runs (or, for a run first seen ended, its history): the link to its Spark UI.
      if (!dashboardAsked && (state === 'RUNNING' || TERMINAL_STATES.has(state))) {
        dashboardAsked = true;
        await this.#announceDashboard(runId, jobRunId, signal);
      }
      if (TERMINAL_STATES.has(state)) return run;
      if (state !== last) pause = this.#poll.initialMs; // a new state: look again soon
      last = state;
      try {
        await this.#sleep(Math.min(pause, Math.max(0, deadline - this.#now())), signal);
      } catch {
        throw new StopWatching('aborted');
      }
      pause = Math.min(this.#poll.maxMs, Math.round(pause * this.#poll.factor));
    }
  }

  #settleSignal(): AbortSignal {
    return AbortSignal.timeout(this.#o.settleTimeoutMs ?? 600_000);
  }

  /** CancelJobRun, then wait for a terminal state. Runs on its own deadline: the job's signal has already fired. */
  async #cancel(runId: string, jobRunId: string): Promise<JobRunState> {
    const signal = this.#settleSignal();
    try {
      const grace = this.#o.cancelGraceSeconds;
      await this.#call(
        (s) =>
          this.#o.client.send(
            new CancelJobRunCommand({
              applicationId: this.#appId,
              jobRunId,
              ...(grace !== undefined ? { shutdownGracePeriodInSeconds: grace } : {}),
            }),
            s,
          ),
        signal,
      );
    } catch (error) {
      // Already finished: CancelJobRun is refused, the state below tells how it ended.
      if ((error as Error).name !== 'ValidationException')
        throw new RetryableJobError(`CancelJobRun ${jobRunId} failed`, { runId }, { cause: error });
    }
    const deadline = this.#now() + (this.#o.settleTimeoutMs ?? 600_000);
    for (;;) {
      const state = (await this.#getJobRun(jobRunId, signal)).state as JobRunState;
      this.events.emit('emr:job-run-state', { runId, jobRunId, state });
      if (TERMINAL_STATES.has(state)) return state;
      if (this.#now() >= deadline) throw new RetryableJobError(`job run ${jobRunId} was cancelled but is still ${state}`, { runId });
      await this.#sleep(this.#poll.initialMs, signal);
    }
  }

  /**
   * The run an earlier controller started for this intent and did not record: ListJobRuns since
   * the intent (less a day, for clock skew; moto also dates runs at midnight), matched by the
   * request's name, which holds the run id. undefined when there is none.
   */
  async #findStartedRun(record: InflightRecord, dataset: string, signal: AbortSignal): Promise<string | undefined> {
    const name = record.request?.name ?? jobRunName(dataset, record.runId);
    const createdAtAfter = new Date(Date.parse(record.submittedAt) - 86_400_000);
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await this.#call(
        (s) =>
          this.#o.client.send(
            new ListJobRunsCommand({ applicationId: this.#appId, createdAtAfter, ...(token !== undefined ? { nextToken: token } : {}) }),
            s,
          ),
        signal,
      );
      const found = (page.jobRuns ?? []).find((r) => r.name === name && r.id !== undefined);
      if (found?.id !== undefined) {
        this.events.emit('emr:job-run-found', { runId: record.runId, jobRunId: found.id, state: String(found.state) });
        return found.id;
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return undefined;
  }

  /** The StartJobRun request of one attempt, with the job code uploaded (also for an intent recorded before requests were kept). */
  async #requestFor(job: JobRequest, runId: string, clientToken: string, signal: AbortSignal): Promise<StartJobRunCommandInput> {
    const artifacts = await this.#uploadedArtifacts(runId, signal);
    return buildStartJobRunInput(
      { ...this.#o.settings, entryPointKey: artifacts.entryPointKey, pyFilesKey: artifacts.pyFilesKey },
      { ...job, runId },
      { runId, clientToken },
    );
  }

  /** The run's Spark UI link (GetDashboardForJobRun), logged once; a failure to get it never fails the job. */
  async #announceDashboard(runId: string, jobRunId: string, signal: AbortSignal): Promise<void> {
    try {
      const out = await this.#o.client.send(new GetDashboardForJobRunCommand({ applicationId: this.#appId, jobRunId }), {
        abortSignal: signal,
      });
      if (out.url !== undefined) this.events.emit('emr:dashboard', { runId, jobRunId, url: out.url });
    } catch (error) {
      this.events.emit('emr:dashboard-unavailable', { runId, jobRunId, reason: (error as Error).message });
    }
  }

  async #getJobRun(jobRunId: string, signal: AbortSignal): Promise<JobRun> {
    const out = await this.#call((s) => this.#o.client.send(new GetJobRunCommand({ applicationId: this.#appId, jobRunId }), s), signal);
    if (out.jobRun === undefined) throw new RetryableError(`GetJobRun ${jobRunId} returned no jobRun`);
    return out.jobRun;
  }

  /** CREATED or STOPPED: StartApplication, then wait for STARTED; CREATING/STARTING/STOPPING: wait. */
  async #ensureApplicationStarted(runId: string, signal: AbortSignal): Promise<void> {
    const deadline = this.#now() + (this.#o.settleTimeoutMs ?? 600_000);
    let startSent = false;
    for (;;) {
      const app = (await this.#call((s) => this.#o.client.send(new GetApplicationCommand({ applicationId: this.#appId }), s), signal))
        .application;
      const state = app?.state as ApplicationState | undefined;
      if (state === 'STARTED') return;
      if (state === undefined || state === 'TERMINATED')
        throw new RetryableJobError(`EMR Serverless application ${this.#appId} is ${state ?? 'gone'}`, { runId });
      if (STARTABLE_APPLICATION_STATES.has(state) && !startSent) {
        this.events.emit('emr:application-starting', { applicationId: this.#appId, from: state });
        await this.#call((s) => this.#o.client.send(new StartApplicationCommand({ applicationId: this.#appId }), s), signal);
        startSent = true;
      } else if (!TRANSITIONAL_APPLICATION_STATES.has(state) && !STARTABLE_APPLICATION_STATES.has(state)) {
        throw new RetryableJobError(`EMR Serverless application ${this.#appId} is in an unknown state ${String(state)}`, { runId });
      }
      if (this.#now() >= deadline)
        throw new RetryableJobError(`EMR Serverless application ${this.#appId} did not start (still ${state})`, { runId });
      await this.#sleep(this.#poll.initialMs, signal);
    }
  }

  /** The artifacts, built and uploaded once per engine (again after a failure). */
  async #uploadedArtifacts(runId: string, signal: AbortSignal): Promise<JobArtifacts> {
    this.#artifacts ??= (async () => {
      const artifacts = await buildJobArtifacts(this.#o.sparkJobsDir);
      const keys = await uploadArtifactsIfNew(this.#o.store, artifacts, signal);
      if (keys.length > 0) this.events.emit('emr:artifacts-uploaded', { hash: artifacts.hash, keys });
      return artifacts;
    })();
    try {
      return await this.#artifacts;
    } catch (error) {
      this.#artifacts = undefined;
      throw new RetryableJobError(`uploading the job code to ${this.#o.store.description}artifacts/ failed`, { runId }, { cause: error });
    }
  }

  /** One EMR Serverless call, retried when transient; a denied one is an AccessDeniedError (the pass fails, the version stays pending). */
  async #call<T>(fn: (options: { abortSignal?: AbortSignal }) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await withAwsRetry(() => fn(signal ? { abortSignal: signal } : {}), {
        sleep: this.#sleep,
        signal,
        ...(this.#o.apiAttempts !== undefined ? { attempts: this.#o.apiAttempts } : {}),
      });
    } catch (error) {
      if ((error as Error).name !== 'AccessDeniedException') throw error;
      throw new AccessDeniedError(
        '',
        undefined,
        `EMR Serverless: access denied (${(error as Error).message}); the controller's IAM policy needs the emr-serverless permissions of deploy/iam/controller-policy.json`,
        { cause: error },
      );
    }
  }
}

/** The in-flight record name of a dataset's batch runs (not a raw key: those start with `raw/`). */
export function batchInflightId(dataset: string): string {
  return `batch:${dataset}`;
}

/** Names a batch's versions (in order) for its client token. */
function versionsDigest(versions: readonly FileVersion[]): string {
  const hash = createHash('sha256');
  for (const { key, etag } of versions) hash.update(`${key}\u0000${etag}\u0000`);
  return hash.digest('hex');
}
