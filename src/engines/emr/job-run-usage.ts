import type { JobRun } from '@aws-sdk/client-emr-serverless';
import type { JobRunState } from './job-run-states.js';

/** vCPU-hours, memory GB-hours and storage GB-hours, as EMR Serverless reports them. */
export interface ResourceHours {
  readonly vCPUHour: number;
  readonly memoryGBHour: number;
  readonly storageGBHour: number;
}

/**
 * What one EMR Serverless job run used, from GetJobRun once it ended: `total` is what the run's
 * workers used, `billed` what the account pays for (it includes EMR's minimum per worker and
 * rounding, and excludes pre-initialized capacity); `executionSeconds` is the run's
 * totalExecutionDurationSeconds. Fields EMR did not return are absent.
 */
export interface EmrUsage {
  readonly jobRunId: string;
  readonly state: JobRunState;
  readonly releaseLabel?: string;
  readonly executionSeconds?: number;
  readonly total?: ResourceHours;
  readonly billed?: ResourceHours;
}

function hours(
  value: { vCPUHour?: number | undefined; memoryGBHour?: number | undefined; storageGBHour?: number | undefined } | undefined,
): ResourceHours | undefined {
  if (value === undefined) return undefined;
  const n = (v: number | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { vCPUHour: n(value.vCPUHour), memoryGBHour: n(value.memoryGBHour), storageGBHour: n(value.storageGBHour) };
}

/** The usage of a job run GetJobRun returned in a terminal state. */
export function usageOf(run: JobRun, state: JobRunState): EmrUsage {
  const total = hours(run.totalResourceUtilization);
  const billed = hours(run.billedResourceUtilization);
  return {
    jobRunId: run.jobRunId ?? '',
    state,
    ...(run.releaseLabel !== undefined ? { releaseLabel: run.releaseLabel } : {}),
    ...(typeof run.totalExecutionDurationSeconds === 'number' ? { executionSeconds: run.totalExecutionDurationSeconds } : {}),
    ...(total !== undefined ? { total } : {}),
    ...(billed !== undefined ? { billed } : {}),
  };
}
