import { setTimeout as timeout } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import { RetryableError, describeError, isPermanent } from '../errors.js';
import { type JobFailure, jobFailureOf } from '../state/job-failure.js';
import type { AttemptRecord, DeadLetterStore } from '../state/dead-letters.js';
import { type RetryPolicy, backoffDelayMs } from './backoff.js';

/** Waits `ms`, or rejects once `signal` aborts. Injected so tests never wait. */
export type Sleep = (ms: number, signal: AbortSignal | undefined) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await timeout(ms, undefined, signal ? { signal } : {});
};

/** One attempt's result: `error` is set when it failed (an attempt never rejects). */
export interface AttemptResult<T> {
  readonly value: T;
  readonly error?: unknown;
  /**
   * The failure was not the job's (its success could not be recorded, e.g. the marker write
   * failed): not counted as an attempt, no retry now, the version stays pending for a later pass.
   */
  readonly notTheJob?: boolean;
}

export interface RetryingRunOptions<T> {
  readonly key: string;
  readonly etag: string;
  readonly policy: RetryPolicy;
  readonly attempts: Pick<DeadLetterStore, 'beginAttempt' | 'cancelAttempt' | 'failAttempt'>;
  readonly sleep: Sleep;
  readonly random: () => number;
  /** Aborted: start no further attempt (a waiting retry is given up; the version stays pending). */
  readonly stopStarting?: AbortSignal | undefined;
  /** Aborted: the running attempt is being stopped; its failure is not counted. */
  readonly stopJobs?: AbortSignal | undefined;
  readonly newRunId: () => string;
  readonly attempt: (runId: string, attempt: number) => Promise<AttemptResult<T>>;
  /** A retryable failure; the next attempt starts after `delayMs`. */
  readonly onRetrying: (retry: {
    readonly runId: string;
    readonly attempt: number;
    readonly delayMs: number;
    readonly error: unknown;
  }) => void;
}

/** How a version's attempts in this pass ended. */
export type RetryingRunResult<T> =
  | { readonly kind: 'succeeded'; readonly value: T; readonly attempts: number }
  /** Permanent, or out of attempts: to be dead-lettered. `value` is absent when no attempt was left to run. */
  | {
      readonly kind: 'dead-letter';
      readonly value?: T;
      readonly attempts: number;
      readonly runId: string;
      readonly failure: JobFailure;
      readonly permanent: boolean;
    }
  /** Stopped, or a stop came before the next attempt, or the attempt could not be counted: a later pass goes on. */
  | { readonly kind: 'pending'; readonly value?: T; readonly attempts: number; readonly runId: string; readonly error?: unknown };

/**
 * Runs a version's attempts with p-retry: exponential backoff with jitter between retryable
 * failures, none after a permanent one. Each attempt is counted in the bucket before it starts,
 * so a controller that dies mid-job (a crash loop) still uses up attempts, and a restarted one
 * goes on counting; an attempt stopped by shutdown is taken back. p-retry's own timer is set to
 * zero and the wait happens in the injected `sleep`, so tests run instantly.
 */
export async function runWithRetries<T>(o: RetryingRunOptions<T>): Promise<RetryingRunResult<T>> {
  const { policy } = o;
  let attempt = 0;
  let runId = '';
  let last: AttemptResult<T> | undefined;
  let verdict: RetryingRunResult<T> | undefined;
  const done = (result: RetryingRunResult<T>): never => {
    verdict = result;
    throw new AbortError('settled');
  };
  /** A write to the bucket; if it fails the version stays pending (the pass goes on with the others). */
  const store = async <R>(write: () => Promise<R>): Promise<R> => {
    try {
      return await write();
    } catch (error) {
      return done({ kind: 'pending', ...(last ? { value: last.value } : {}), attempts: attempt, runId, error });
    }
  };
  const wait = o.stopStarting && o.stopJobs ? AbortSignal.any([o.stopStarting, o.stopJobs]) : (o.stopStarting ?? o.stopJobs);
  try {
    await pRetry(
      async () => {
        runId = o.newRunId();
        const start = await store(() => o.attempts.beginAttempt(o.key, o.etag, runId, policy.maxAttempts));
        if (!start.started) {
          const { record } = start;
          return done({
            kind: 'dead-letter',
            attempts: record.attempts,
            runId: record.runId,
            permanent: false,
            failure: outOfAttempts(record),
          });
        }
        attempt = start.attempt;
        last = await o.attempt(runId, attempt);
        if (last.error === undefined) return;
        const { error } = last;
        if (o.stopJobs?.aborted || last.notTheJob === true) {
          // Shutdown stopped it, or recording its success failed: not the job's fault, so not an attempt.
          await store(() => o.attempts.cancelAttempt(o.key, o.etag));
          return done({ kind: 'pending', value: last.value, attempts: attempt - 1, runId, error });
        }
        const permanent = isPermanent(error);
        if (permanent || attempt >= policy.maxAttempts) {
          return done({ kind: 'dead-letter', value: last.value, attempts: attempt, runId, permanent, failure: jobFailureOf(error) });
        }
        await store(() => o.attempts.failAttempt(o.key, o.etag, jobFailureOf(error)));
        if (o.stopStarting?.aborted) return done({ kind: 'pending', value: last.value, attempts: attempt, runId, error });
        // Only p-retry sees this one; it always means "try again" (p-retry gives up on a bare TypeError).
        throw new RetryableError(describeError(error), { cause: error });
      },
      {
        // An upper bound only: the count in the bucket decides (it may start above 1 after a restart).
        retries: policy.maxAttempts - 1,
        minTimeout: 0,
        factor: 1,
        randomize: false,
        onFailedAttempt: async () => {
          const delayMs = backoffDelayMs(attempt, policy, o.random);
          o.onRetrying({ runId, attempt, delayMs, error: last?.error });
          await o.sleep(delayMs, wait);
        },
      },
    );
  } catch (error) {
    if (verdict !== undefined) return verdict;
    // The wait for the next attempt was cut short by a stop.
    if (wait?.aborted) {
      return { kind: 'pending', ...(last ? { value: last.value } : {}), attempts: attempt, runId, error: last?.error ?? error };
    }
    throw error;
  }
  if (last === undefined) throw new RetryableError(`no attempt of ${o.key} ran`);
  return { kind: 'succeeded', value: last.value, attempts: attempt };
}

/** The failure recorded for a version whose attempts were all started before (beginAttempt said no). */
export function outOfAttempts(record: AttemptRecord): JobFailure {
  return {
    errorClass: record.lastFailure?.errorClass ?? 'AttemptsExhausted',
    message:
      `out of attempts: ${record.attempts} started, and how the last one ended was never recorded (did the controller crash or stop during it?)` +
      (record.lastFailure ? `; the failure before: ${record.lastFailure.message}` : ''),
    ...(record.lastFailure?.logTail ? { logTail: record.lastFailure.logTail } : {}),
  };
}
