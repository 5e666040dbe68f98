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

/** The controller's fixed vocabulary of events. The entry point turns them into logs (and later metrics). */
export interface ControllerEvents {
  'pass:started': { readonly passId: string };
  'pass:finished': { readonly passId: string; readonly summary: PassSummary; readonly durationMs: number };
  'pass:failed': { readonly passId: string; readonly error: unknown; readonly durationMs: number };
  'job:started': JobContext;
  'job:succeeded': JobContext & { readonly report: RunReport; readonly durationMs: number };
  'job:failed': JobContext & { readonly error: unknown; readonly permanent: boolean; readonly durationMs: number };
  /** A dead-lettered version (same key and ETag), passed over; `reason` is its dead letter's message. */
  'job:held': Omit<JobContext, 'runId'> & { readonly reason: string };
  /** A retryable failure; attempt `attempt + 1` starts after `delayMs`. */
  'job:retrying': JobContext & { readonly attempt: number; readonly delayMs: number; readonly error: unknown };
  /** The version failed for good (permanent, or out of attempts) and is now in metadata/dead_letter.json. */
  'job:dead-lettered': JobContext & { readonly entry: DeadLetterEntry };
}

export type ControllerEventName = keyof ControllerEvents;
