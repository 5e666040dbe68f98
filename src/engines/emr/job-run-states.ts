/** EMR Serverless job run states (GetJobRun `jobRun.state`), in the order a run passes them. */
export const JOB_RUN_STATES = [
  'SUBMITTED',
  'PENDING',
  'SCHEDULED',
  'QUEUED',
  'RUNNING',
  'SUCCESS',
  'FAILED',
  'CANCELLING',
  'CANCELLED',
] as const;
export type JobRunState = (typeof JOB_RUN_STATES)[number];

/** A run in one of these will not change state again. */
export const TERMINAL_STATES: ReadonlySet<JobRunState> = new Set<JobRunState>(['SUCCESS', 'FAILED', 'CANCELLED']);

export function isJobRunState(value: unknown): value is JobRunState {
  return typeof value === 'string' && (JOB_RUN_STATES as readonly string[]).includes(value);
}

export function isTerminal(state: JobRunState): boolean {
  return TERMINAL_STATES.has(state);
}

/** EMR Serverless application states (GetApplication `application.state`). */
export const APPLICATION_STATES = ['CREATING', 'CREATED', 'STARTING', 'STARTED', 'STOPPING', 'STOPPED', 'TERMINATED'] as const;
export type ApplicationState = (typeof APPLICATION_STATES)[number];

/** States from which StartApplication must be called before jobs run promptly. */
export const STARTABLE_APPLICATION_STATES: ReadonlySet<ApplicationState> = new Set<ApplicationState>(['CREATED', 'STOPPED']);
/** States that become STARTED (or STOPPED, then startable) by themselves: wait. */
export const TRANSITIONAL_APPLICATION_STATES: ReadonlySet<ApplicationState> = new Set<ApplicationState>([
  'CREATING',
  'STARTING',
  'STOPPING',
]);
