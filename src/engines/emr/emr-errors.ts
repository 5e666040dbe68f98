import { type JobFailureDetails, RetryableJobError } from '../job-errors.js';
import type { JobRunState } from './job-run-states.js';

/** What EMR Serverless said about a job run that ended without success. */
export interface JobRunOutcome {
  readonly applicationId: string;
  readonly jobRunId: string;
  readonly state: JobRunState;
  /** EMR's own explanation (GetJobRun `stateDetails`), when it gave one. */
  readonly stateDetails?: string | undefined;
  /** Where the driver's stderr is (`s3://.../applications/<app>/jobs/<run>/SPARK_DRIVER/stderr.gz`). */
  readonly driverLogUri: string;
}

/** A job run ended FAILED or CANCELLED (not by this controller) for a reason that may pass on retry. */
export class JobRunFailedError extends RetryableJobError {
  constructor(
    message: string,
    details: JobFailureDetails,
    readonly jobRun: JobRunOutcome,
    options?: ErrorOptions,
  ) {
    super(message, details, options);
  }
}
