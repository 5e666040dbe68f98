import type winston from 'winston';
import type { Reconciler } from '../controller/reconciler.js';
import type { SqsWatcher } from '../controller/sqs-watch-loop.js';
import { describeError } from '../errors.js';
import { PermanentJobError, RetryableJobError } from '../engines/job-errors.js';

/** Turns the controller's events into one structured log line each. */
export function logControllerEvents(reconciler: Reconciler, logger: winston.Logger): void {
  const ev = reconciler.events;
  ev.on('pass:started', ({ passId }) => logger.debug('pass started', { event: 'pass:started', passId }));
  ev.on('pass:finished', ({ passId, summary, durationMs }) => {
    const { processed, failed, skipped, pending, upToDate } = summary;
    const level = failed > 0 ? 'warn' : processed > 0 ? 'info' : 'debug';
    logger.log(level, `pass done: ${processed} processed, ${failed} failed, ${upToDate} up to date`, {
      event: 'pass:finished',
      passId,
      processed,
      failed,
      skipped,
      pending,
      upToDate,
      durationMs,
    });
  });
  ev.on('pass:failed', ({ passId, error, durationMs }) =>
    logger.error(`pass failed: ${describeError(error)}`, { event: 'pass:failed', passId, durationMs, error: errorFields(error) }),
  );
  ev.on('job:started', (ctx) => logger.info(`job started: ${ctx.key}`, { event: 'job:started', ...ctx }));
  ev.on('job:succeeded', ({ report, ...ctx }) =>
    logger.info(`job succeeded: ${ctx.key}`, { event: 'job:succeeded', ...ctx, outcome: 'succeeded', rows: report.rows }),
  );
  ev.on('job:failed', ({ error, permanent, ...ctx }) =>
    logger.error(`job failed${permanent ? ' (permanent)' : ''}: ${ctx.key}: ${describeError(error)}`, {
      event: 'job:failed',
      ...ctx,
      outcome: 'failed',
      permanent,
      error: errorFields(error),
    }),
  );
  ev.on('job:held', ({ reason, ...ctx }) =>
    logger.debug(`held back (failed permanently before): ${ctx.key}`, { event: 'job:held', ...ctx, reason }),
  );
}

/** An error as log fields: class, message, cause chain, and where the driver log is. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: Record<string, unknown> = { type: error.name, message: describeError(error) };
  if (error instanceof PermanentJobError || error instanceof RetryableJobError) {
    if (error.details.logPath !== undefined) fields['logPath'] = error.details.logPath;
    if (error.details.exitCode !== undefined) fields['exitCode'] = error.details.exitCode;
  }
  return fields;
}

/** SQS discovery's events as log lines. */
export function logSqsEvents(watcher: SqsWatcher, logger: winston.Logger): void {
  const ev = watcher.events;
  ev.on('message:ignored', ({ messageId, reason }) =>
    logger.debug(`queue message ignored: ${reason}`, { event: 'message:ignored', messageId, reason }),
  );
  ev.on('message:malformed', ({ messageId, problem }) =>
    logger.warn(`queue message left for the queue's redrive policy: ${problem}`, { event: 'message:malformed', messageId, problem }),
  );
  ev.on('message:done', ({ messageId, keys }) => logger.debug('queue message done', { event: 'message:done', messageId, keys }));
  ev.on('message:kept', ({ messageId, keys }) =>
    logger.info('queue message kept for a retry (a version failed)', { event: 'message:kept', messageId, keys }),
  );
  ev.on('queue:error', ({ error }) =>
    logger.error(`queue error: ${describeError(error)}`, { event: 'queue:error', error: errorFields(error) }),
  );
}
