import { PermanentError, RetryableError } from '../errors.js';

/** Where to look when a job failed. */
export interface JobFailureDetails {
  readonly runId: string;
  readonly exitCode?: number | undefined;
  /** The driver's log, when the engine keeps one. */
  readonly logPath?: string | undefined;
  /** The last lines of the driver's output. */
  readonly logTail?: string | undefined;
}

/** The job said its input is unusable (exit 2): retrying cannot help. */
export class PermanentJobError extends PermanentError {
  constructor(
    message: string,
    readonly details: JobFailureDetails,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The job failed in a way that may pass on a later attempt (crash, timeout, lost executor). */
export class RetryableJobError extends RetryableError {
  constructor(
    message: string,
    readonly details: JobFailureDetails,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
