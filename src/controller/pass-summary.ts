import type { RowCounts } from '../engines/run-report.js';

export const JOB_OUTCOMES = ['succeeded', 'failed'] as const;
export type JobOutcomeStatus = (typeof JOB_OUTCOMES)[number];

export interface JobOutcome {
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly runId: string;
  readonly status: JobOutcomeStatus;
  readonly durationMs: number;
  readonly rows?: RowCounts;
  readonly outputs?: Readonly<Record<string, string>>;
  readonly error?: string;
  readonly permanent?: boolean;
}

/** What one pass did. `once --json` prints the counts; `results` feed the demo's table. */
export interface PassSummary {
  readonly passId: string;
  /** Versions processed successfully in this pass. */
  readonly processed: number;
  /** Versions that failed in this pass (or failed permanently earlier and were held back). */
  readonly failed: number;
  /** Objects under raw/ that are not candidates (temporary, hidden, zero-byte, not matching). */
  readonly skipped: number;
  /** Candidate versions still to do when the pass ended (a stop came before they started). */
  readonly pending: number;
  /** Candidate versions already in the marker. */
  readonly upToDate: number;
  readonly results: readonly JobOutcome[];
  /** Keys whose current version is still not done (failed, held back, or not started). */
  readonly unfinishedKeys: readonly string[];
}
