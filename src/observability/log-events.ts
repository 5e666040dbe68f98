import type winston from 'winston';
import type { ControllerEventName } from '../controller/events.js';
import type { Reconciler } from '../controller/reconciler.js';
import type { RunHistoryUpkeep, RunHistoryUpkeepEvents } from '../controller/run-history-upkeep.js';
import type { SqsWatchEvents, SqsWatcher } from '../controller/sqs-watch-loop.js';
import { describeError } from '../errors.js';
import { PermanentJobError, RetryableJobError } from '../engines/job-errors.js';
import { VersionAttempts } from './version-attempts.js';

/** Fields on every log line. */
export const COMMON_LOG_FIELDS = ['time', 'level', 'msg', 'event'] as const;

const JOB_FIELDS = ['passId', 'runId', 'key', 'etag', 'dataset', 'engine', 'attempt'] as const;

/** The fields each event's log line carries besides the common ones: the contract scripts and dashboards rely on. */
export const LOG_EVENT_FIELDS: Readonly<
  Record<ControllerEventName | keyof SqsWatchEvents | keyof RunHistoryUpkeepEvents, readonly string[]>
> = {
  'pass:started': ['passId', 'scope'],
  'pass:discovered': ['passId', 'scope', 'candidates', 'todo', 'runnable'],
  'pass:finished': ['passId', 'processed', 'failed', 'skipped', 'pending', 'upToDate', 'durationMs'],
  'pass:failed': ['passId', 'durationMs', 'error'],
  'job:started': JOB_FIELDS,
  'job:succeeded': [...JOB_FIELDS, 'durationMs', 'outcome', 'rows'],
  'job:failed': [...JOB_FIELDS, 'durationMs', 'outcome', 'permanent', 'error'],
  'job:held': ['passId', 'key', 'etag', 'dataset', 'engine', 'reason'],
  'job:claimed-elsewhere': ['passId', 'key', 'etag', 'dataset', 'engine', 'owner', 'expiresAt', 'runningKey'],
  'job:retrying': [...JOB_FIELDS, 'delayMs', 'error'],
  'job:dead-lettered': ['passId', 'runId', 'key', 'etag', 'dataset', 'engine', 'attempts', 'errorClass', 'reason'],
  'batch:started': ['passId', 'runId', 'dataset', 'engine', 'versions', 'manifestKey'],
  'batch:split': ['passId', 'runId', 'dataset', 'engine', 'versions', 'halves', 'delayMs', 'error'],
  'batch:finished': ['passId', 'runId', 'dataset', 'engine', 'versions', 'succeeded', 'failed', 'durationMs'],
  'message:ignored': ['messageId', 'reason'],
  'message:malformed': ['messageId', 'problem'],
  'message:done': ['messageId', 'keys', 'passId'],
  'message:kept': ['messageId', 'keys', 'passId'],
  'queue:received': ['messages'],
  'queue:error': ['error'],
  'history:pruned': ['reports', 'manifests', 'logs', 'durationMs'],
  'history:prune-failed': ['error'],
};

/** Turns the controller's events into one structured log line each. */
export function logControllerEvents(reconciler: Reconciler, logger: winston.Logger): void {
  const ev = reconciler.events;
  const attempts = new VersionAttempts();
  ev.on('pass:started', ({ passId, scope }) => logger.debug('pass started', { event: 'pass:started', passId, scope }));
  ev.on('pass:discovered', ({ passId, scope, candidates, todo, runnable }) =>
    logger.debug(`pass listed: ${candidates} candidates, ${todo.length} not in the marker`, {
      event: 'pass:discovered',
      passId,
      scope,
      candidates,
      todo: todo.length,
      runnable,
    }),
  );
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
  ev.on('job:started', (ctx) => {
    const attempt = attempts.started(ctx);
    logger.info(`job started: ${ctx.key}${attempt > 1 ? ` (attempt ${attempt})` : ''}`, { event: 'job:started', ...ctx, attempt });
  });
  ev.on('job:succeeded', ({ report, ...ctx }) => {
    const attempt = attempts.current(ctx);
    attempts.succeeded(ctx);
    logger.info(`job succeeded: ${ctx.key}`, {
      event: 'job:succeeded',
      ...ctx,
      attempt,
      outcome: 'succeeded',
      rows: report.rows,
      ...(report.emr !== undefined ? { emr: report.emr } : {}),
    });
  });
  ev.on('job:failed', ({ error, permanent, ...ctx }) =>
    logger.error(`job failed${permanent ? ' (permanent)' : ''}: ${ctx.key}: ${describeError(error)}`, {
      event: 'job:failed',
      ...ctx,
      attempt: attempts.current(ctx),
      outcome: 'failed',
      permanent,
      error: errorFields(error),
    }),
  );
  ev.on('batch:started', (e) =>
    logger.info(`batch started: ${e.versions} versions of ${e.dataset} in run ${e.runId}`, { event: 'batch:started', ...e }),
  );
  ev.on('batch:split', ({ error, ...e }) =>
    logger.warn(
      `batch failed as a whole, split in halves of ${e.halves[0]} and ${e.halves[1]} versions (in ${Math.round(e.delayMs / 1000)} s): ${describeError(error)}`,
      { event: 'batch:split', ...e, error: errorFields(error) },
    ),
  );
  ev.on('batch:finished', (e) =>
    logger.info(`batch done: ${e.succeeded} of ${e.versions} versions of ${e.dataset} succeeded`, { event: 'batch:finished', ...e }),
  );
  ev.on('job:held', ({ reason, ...ctx }) =>
    logger.debug(`held back (failed permanently before): ${ctx.key}`, { event: 'job:held', ...ctx, reason }),
  );
  ev.on('job:claimed-elsewhere', (e) =>
    logger.info(`left for now: ${e.dataset} is being run by ${e.owner} (claim expires ${e.expiresAt}): ${e.key}`, {
      event: 'job:claimed-elsewhere',
      ...e,
    }),
  );
}

/**
 * An error as log fields: its class and message (with the causes' messages), where the driver
 * log is, and the cause chain, one `{type, message}` per link.
 */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: Record<string, unknown> = { type: error.name, message: describeError(error) };
  if (error instanceof PermanentJobError || error instanceof RetryableJobError) {
    if (error.details.logPath !== undefined) fields['logPath'] = error.details.logPath;
    if (error.details.exitCode !== undefined) fields['exitCode'] = error.details.exitCode;
  }
  const causes: { type: string; message: string }[] = [];
  for (let e: unknown = error.cause; e !== undefined && e !== null && causes.length < 10; e = e instanceof Error ? e.cause : undefined) {
    causes.push(e instanceof Error ? { type: e.name, message: e.message } : { type: typeof e, message: String(e) });
  }
  if (causes.length > 0) fields['causes'] = causes;
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
  ev.on('message:done', ({ messageId, keys, passId }) =>
    logger.debug('queue message done', { event: 'message:done', messageId, keys, passId }),
  );
  ev.on('message:kept', ({ messageId, keys, passId }) =>
    logger.info('queue message kept for a retry (a version failed)', { event: 'message:kept', messageId, keys, passId }),
  );
  ev.on('queue:received', ({ messages }) => logger.debug(`queue polled: ${messages} message(s)`, { event: 'queue:received', messages }));
  ev.on('queue:error', ({ error }) =>
    logger.error(`queue error: ${describeError(error)}`, { event: 'queue:error', error: errorFields(error) }),
  );
}

/** The run-history upkeep's lines: what a prune removed (info when anything), or why it failed (warn). */
export function logUpkeepEvents(upkeep: RunHistoryUpkeep, logger: winston.Logger): void {
  upkeep.events.on('history:pruned', ({ reports, manifests, logs, durationMs }) => {
    const fields = { event: 'history:pruned', reports, manifests, logs, durationMs };
    if (reports + manifests + logs === 0) logger.debug('run history: nothing old enough to prune', fields);
    else logger.info(`run history pruned: ${reports} run reports, ${manifests} batch manifests, ${logs} driver logs`, fields);
  });
  upkeep.events.on('history:prune-failed', ({ error }) =>
    logger.warn(`pruning the run history failed (it is left as it is; the next prune tries again): ${describeError(error)}`, {
      event: 'history:prune-failed',
      error: describeError(error),
    }),
  );
}
