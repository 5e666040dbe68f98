import type winston from 'winston';
import type { Reconciler } from '../controller/reconciler.js';
import { describeError } from '../errors.js';
import { errorFields } from './log-events.js';

/**
 * Retries and dead letters as log lines. Apart from log-events.ts so the two can change
 * independently; the entry points call both.
 */
export function logReliabilityEvents(reconciler: Reconciler, logger: winston.Logger): void {
  const ev = reconciler.events;
  ev.on('job:retrying', ({ attempt, delayMs, error, ...ctx }) =>
    logger.warn(`attempt ${attempt} of ${ctx.key} failed, trying again in ${(delayMs / 1000).toFixed(1)} s: ${describeError(error)}`, {
      event: 'job:retrying',
      ...ctx,
      attempt,
      delayMs,
      error: errorFields(error),
    }),
  );
  ev.on('job:dead-lettered', ({ entry, ...ctx }) =>
    logger.error(`dead-lettered after ${entry.attempts} attempt(s): ${ctx.key}: ${entry.message}`, {
      event: 'job:dead-lettered',
      ...ctx,
      attempts: entry.attempts,
      errorClass: entry.errorClass,
      reason: entry.message,
      ...(entry.logTail !== undefined ? { logTail: entry.logTail } : {}),
    }),
  );
}
