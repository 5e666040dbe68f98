import type { JobRunState } from './job-run-states.js';
import type { EmrUsage } from './job-run-usage.js';

/** What the EMR Serverless engine tells the entry point (for logs and metrics). */
export interface EmrEngineEvents {
  /** New job code went to `artifacts/<hash>/` (once per content hash). */
  'emr:artifacts-uploaded': { readonly hash: string; readonly keys: readonly string[] };
  /** The application was CREATED or STOPPED and StartApplication was called. */
  'emr:application-starting': { readonly applicationId: string; readonly from: string };
  /** A job run is being watched: new (StartJobRun answered) or re-attached after a restart. */
  'emr:job-run': {
    readonly runId: string;
    readonly jobRunId: string;
    readonly attempt: number;
    readonly key: string;
    readonly reattached: boolean;
  };
  /** GetJobRun showed a state different from the last one seen. */
  'emr:job-run-state': { readonly runId: string; readonly jobRunId: string; readonly state: JobRunState };
  /** CancelJobRun was sent (abort, timeout or close). */
  'emr:job-run-cancelling': { readonly runId: string; readonly jobRunId: string; readonly why: 'aborted' | 'timeout' };
  /** A restarted controller found, by its name (ListJobRuns), the run an earlier one started but did not record. */
  'emr:job-run-found': { readonly runId: string; readonly jobRunId: string; readonly state: string };
  /** The run's Spark UI (GetDashboardForJobRun): a pre-signed link, valid for a limited time. */
  'emr:dashboard': { readonly runId: string; readonly jobRunId: string; readonly url: string };
  /** GetDashboardForJobRun failed (no permission, not available yet): the job goes on. */
  'emr:dashboard-unavailable': { readonly runId: string; readonly jobRunId: string; readonly reason: string };
  /** A watched run ended: its state and what it used and was billed. */
  'emr:job-run-finished': { readonly runId: string; readonly jobRunId: string; readonly key: string; readonly usage: EmrUsage };
}
