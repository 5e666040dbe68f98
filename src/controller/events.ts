import type { RunReport } from '../engines/run-report.js';
import type { DeadLetterEntry } from '../state/dead-letters.js';
import type { PassSummary } from './pass-summary.js';

/** What a job is about; on every job event, so each log line and metric can be correlated. */
export interface JobContext {
  readonly passId: string;
  readonly runId: string;
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly engine: string;
}

/** What a batch run is about. */
export interface BatchContext {
  readonly passId: string;
  readonly runId: string;
  readonly dataset: string;
  readonly engine: string;
  /** How many versions the run was given. */
  readonly versions: number;
}

/** A full pass lists all of raw/; a targeted pass looks up keys an event named. */
export type PassScope = 'full' | 'targeted';

/** A file version the marker does not have yet. */
export interface VersionRef {
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  /** The marker has an older version of the key (so recording this one adds no entry). */
  readonly replaces: boolean;
}

/** The controller's fixed vocabulary of events. The entry point turns them into logs and metrics. */
export interface ControllerEvents {
  'pass:started': { readonly passId: string; readonly scope: PassScope };
  /** Listed and diffed: `todo` are the versions not in the marker; `runnable` of them will be submitted (the rest are held). */
  'pass:discovered': {
    readonly passId: string;
    readonly scope: PassScope;
    readonly candidates: number;
    readonly todo: readonly VersionRef[];
    readonly runnable: number;
    readonly markerEntries: number;
  };
  'pass:finished': { readonly passId: string; readonly summary: PassSummary; readonly durationMs: number };
  'pass:failed': { readonly passId: string; readonly error: unknown; readonly durationMs: number };
  'job:started': JobContext;
  'job:succeeded': JobContext & { readonly report: RunReport; readonly durationMs: number };
  'job:failed': JobContext & { readonly error: unknown; readonly permanent: boolean; readonly durationMs: number };
  /** A dead-lettered version (same key and ETag), passed over; `reason` is its dead letter's message. */
  'job:held': Omit<JobContext, 'runId'> & { readonly reason: string };
  /**
   * Another controller (replica) holds the claim on the version's dataset and it has not expired:
   * the version is left pending for a later pass. `runningKey` is the version that controller runs.
   */
  'job:claimed-elsewhere': Omit<JobContext, 'runId'> & { readonly owner: string; readonly expiresAt: string; readonly runningKey: string };
  /** A retryable failure; attempt `attempt + 1` starts after `delayMs`. */
  'job:retrying': JobContext & { readonly attempt: number; readonly delayMs: number; readonly error: unknown };
  /** A batch: `versions` versions of one dataset in one job run (each also gets its own job:started). */
  'batch:started': BatchContext & { readonly manifestKey: string };
  /** A batch run failed as a whole: after `delayMs` its halves run as batches of their own (bisection). */
  'batch:split': BatchContext & { readonly halves: readonly [number, number]; readonly delayMs: number; readonly error: unknown };
  /** A batch run ended with a report: each version's own outcome is in its job:succeeded / job:failed. */
  'batch:finished': BatchContext & { readonly succeeded: number; readonly failed: number; readonly durationMs: number };
  /** The version failed for good (permanent, or out of attempts) and is now in metadata/dead_letter.json. */
  'job:dead-lettered': JobContext & { readonly entry: DeadLetterEntry };
}

export type ControllerEventName = keyof ControllerEvents;
