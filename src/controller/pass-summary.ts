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
  /** Attempts this version has had so far (counted across restarts). */
  readonly attempts?: number;
  /** The failure was final: the version is now in metadata/dead_letter.json. */
  readonly deadLettered?: boolean;
}

/** What one pass did. `once --json` prints the counts; `results` feed the demo's table. */
export interface PassSummary {
  readonly passId: string;
  /** Versions processed successfully in this pass. */
  readonly processed: number;
  /** Versions that failed in this pass (dead-lettered now, or left to try again). */
  readonly failed: number;
  /** Candidate versions in metadata/dead_letter.json: dead-lettered in this pass or before (those were passed over). */
  readonly deadLettered: number;
  /** Objects under raw/ that are not candidates (temporary, hidden, zero-byte, not matching). */
  readonly skipped: number;
  /**
   * Candidate versions still to do when the pass ended: not started (a stop came first), stopped,
   * or failed with attempts left. processed + deadLettered + pending + upToDate = all candidates.
   */
  readonly pending: number;
  /** Candidate versions already in the marker. */
  readonly upToDate: number;
  readonly results: readonly JobOutcome[];
  /** Keys whose current version is still to do (the pending ones); dead-lettered keys are settled, not here. */
  readonly unfinishedKeys: readonly string[];
}
