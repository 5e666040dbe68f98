import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const FAILURE_KINDS = ['permanent', 'retryable'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
export const JOB_METRIC_OUTCOMES = ['succeeded', 'failed'] as const;
export const PASS_SCOPES = ['full', 'targeted'] as const;
export const PASS_OUTCOMES = ['succeeded', 'failed'] as const;

/** Job durations: a few seconds (a small file on a warm engine) to hours. */
const JOB_BUCKETS = [1, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200];
/** Pass durations: a listing alone is well under a second; a pass that runs jobs lasts as long as they do. */
const PASS_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export interface WatcherMetricsOptions {
  /** Every series carries it as the label `engine`. */
  readonly engine: string;
  /** The configured time between full passes (poll or reconcile interval), exported for alert rules. */
  readonly passIntervalMs: number;
  /** Process metrics (CPU, memory, event loop lag) too. @default true */
  readonly processMetrics?: boolean;
}

/**
 * Every metric the watcher exports, in its own registry (not prom-client's global one, so tests
 * and several watchers in one process do not share counts). Counters with labels have all their
 * label values from the start, at zero, so `rate()` and alerts see them before the first event.
 */
export class WatcherMetrics {
  readonly registry = new Registry();
  readonly filesDiscovered: Counter;
  readonly jobsSubmitted: Counter;
  readonly jobsSucceeded: Counter;
  readonly jobsFailed: Counter<'kind'>;
  readonly jobsRetried: Counter;
  readonly deadLettered: Counter;
  readonly jobDuration: Histogram<'outcome'>;
  readonly passDuration: Histogram<'scope' | 'outcome'>;
  readonly pendingVersions: Gauge;
  readonly runningJobs: Gauge;
  readonly markerEntries: Gauge;
  readonly lastSuccessfulPass: Gauge;
  readonly passInterval: Gauge;

  constructor(options: WatcherMetricsOptions) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ engine: options.engine });
    this.filesDiscovered = new Counter({
      name: 's3sw_files_discovered_total',
      help: 'File versions found under raw/ that the marker did not have (each version counted once)',
      registers,
    });
    this.jobsSubmitted = new Counter({ name: 's3sw_jobs_submitted_total', help: 'Jobs submitted to the engine', registers });
    this.jobsSucceeded = new Counter({
      name: 's3sw_jobs_succeeded_total',
      help: 'Jobs that succeeded and were recorded in the marker',
      registers,
    });
    this.jobsFailed = new Counter({
      name: 's3sw_jobs_failed_total',
      help: 'Jobs that failed; kind=permanent (bad input, not resubmitted) or retryable',
      labelNames: ['kind'],
      registers,
    });
    this.jobsRetried = new Counter({
      name: 's3sw_jobs_retried_total',
      help: 'Submissions of a version that had already failed in this process',
      registers,
    });
    this.deadLettered = new Counter({
      name: 's3sw_files_dead_lettered_total',
      help: 'File versions moved to the dead letters (failed for good)',
      registers,
    });
    this.jobDuration = new Histogram({
      name: 's3sw_job_duration_seconds',
      help: 'Wall time of a job, submit to recorded (or failed)',
      labelNames: ['outcome'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.passDuration = new Histogram({
      name: 's3sw_pass_duration_seconds',
      help: 'Wall time of a reconcile pass (listing, diff, and the jobs it ran)',
      labelNames: ['scope', 'outcome'],
      buckets: PASS_BUCKETS,
      registers,
    });
    this.pendingVersions = new Gauge({
      name: 's3sw_pending_versions',
      help: 'Candidate versions not in the marker, as of the last full pass, less those done since',
      registers,
    });
    this.runningJobs = new Gauge({ name: 's3sw_running_jobs', help: 'Jobs running now', registers });
    this.markerEntries = new Gauge({
      name: 's3sw_marker_entries',
      help: 'Keys in metadata/processed_files.json, as of the last pass',
      registers,
    });
    this.lastSuccessfulPass = new Gauge({
      name: 's3sw_last_successful_pass_timestamp_seconds',
      help: 'Unix time the last pass finished without error (0: none yet)',
      registers,
    });
    this.passInterval = new Gauge({
      name: 's3sw_pass_interval_seconds',
      help: 'Configured time between full passes (POLL_INTERVAL_SECONDS, or RECONCILE_INTERVAL_SECONDS with SQS)',
      registers,
    });
    this.passInterval.set(options.passIntervalMs / 1000);
    for (const kind of FAILURE_KINDS) this.jobsFailed.inc({ kind }, 0);
    for (const outcome of JOB_METRIC_OUTCOMES) this.jobDuration.zero({ outcome });
    for (const scope of PASS_SCOPES) for (const outcome of PASS_OUTCOMES) this.passDuration.zero({ scope, outcome });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 's3sw_' });
  }

  /** The exposition text of `/metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
