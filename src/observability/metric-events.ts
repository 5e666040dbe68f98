import type { PassScope } from '../controller/events.js';
import type { Reconciler } from '../controller/reconciler.js';
import type { SqsWatcher } from '../controller/sqs-watch-loop.js';
import { describeError } from '../errors.js';
import type { WatcherMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { RunningJobs } from './running-jobs.js';
import { VersionAttempts } from './version-attempts.js';

export interface MetricSinks {
  readonly metrics: WatcherMetrics;
  readonly readiness?: Readiness;
  readonly running?: RunningJobs;
  /** @default Date.now */
  readonly now?: () => number;
}

const versionId = (v: { key: string; etag: string }): string => `${v.key}\u0000${v.etag}`;

/** Turns the controller's events into metrics, readiness and the list of running jobs. */
export function recordControllerMetrics(reconciler: Reconciler, sinks: MetricSinks): void {
  const { metrics: m, readiness, running } = sinks;
  const now = sinks.now ?? Date.now;
  const ev = reconciler.events;
  /** Versions counted as discovered and not yet done (each counted once, however many passes see it), and
   * whether recording them replaces a marker entry rather than adding one. */
  const discovered = new Map<string, boolean>();
  /** A version submitted again in this process is a retry. */
  const attempts = new VersionAttempts();
  const scopes = new Map<string, PassScope>();

  ev.on('pass:started', ({ passId, scope }) => scopes.set(passId, scope));
  ev.on('pass:discovered', ({ scope, todo, markerEntries }) => {
    for (const v of todo) {
      const id = versionId(v);
      if (!discovered.has(id)) m.filesDiscovered.inc();
      discovered.set(id, v.replaces);
    }
    if (scope === 'full') m.pendingVersions.set(todo.length);
    m.markerEntries.set(markerEntries);
    readiness?.passListed();
  });
  ev.on('pass:finished', ({ passId, summary, durationMs }) => {
    const scope = scopes.get(passId) ?? 'full';
    scopes.delete(passId);
    m.passDuration.observe({ scope, outcome: 'succeeded' }, durationMs / 1000);
    if (scope === 'full') m.pendingVersions.set(summary.unfinishedKeys.length);
    m.lastSuccessfulPass.set(now() / 1000);
    readiness?.passSucceeded();
  });
  ev.on('pass:failed', ({ passId, error, durationMs }) => {
    const scope = scopes.get(passId) ?? 'full';
    scopes.delete(passId);
    m.passDuration.observe({ scope, outcome: 'failed' }, durationMs / 1000);
    readiness?.passFailed(describeError(error));
  });
  ev.on('job:started', (ctx) => {
    m.jobsSubmitted.inc();
    if (attempts.started(ctx) > 1) m.jobsRetried.inc();
    m.runningJobs.inc();
    running?.started(ctx);
  });
  ev.on('job:succeeded', (ctx) => {
    m.jobsSucceeded.inc();
    m.runningJobs.dec();
    m.jobDuration.observe({ outcome: 'succeeded' }, ctx.durationMs / 1000);
    if (discovered.get(versionId(ctx)) === false) m.markerEntries.inc();
    discovered.delete(versionId(ctx));
    attempts.succeeded(ctx);
    if (scopeIsFull(scopes.get(ctx.passId))) m.pendingVersions.dec();
    running?.finished(ctx);
  });
  ev.on('job:dead-lettered', () => m.deadLettered.inc());
  ev.on('job:failed', (ctx) => {
    m.jobsFailed.inc({ kind: ctx.permanent ? 'permanent' : 'retryable' });
    m.runningJobs.dec();
    m.jobDuration.observe({ outcome: 'failed' }, ctx.durationMs / 1000);
    running?.finished(ctx);
  });
}

const scopeIsFull = (scope: PassScope | undefined): boolean => scope === 'full';

/** SQS discovery's events: the consumer is polling after each receive, failing after a queue error. */
export function recordSqsMetrics(watcher: SqsWatcher, sinks: Pick<MetricSinks, 'readiness'>): void {
  watcher.events.on('queue:received', () => sinks.readiness?.consumerPolling());
  watcher.events.on('queue:error', () => sinks.readiness?.consumerFailed());
}
