import type { DatasetSpec } from '../datasets/spec.js';
import type { RunReport } from './run-report.js';

/** auto: Spark Connect when its server answers, else spark-submit (local). */
export const ENGINE_NAMES = ['auto', 'local', 'connect'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** One job: one version of one raw file. */
export interface JobRequest {
  readonly runId: string;
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly spec?: DatasetSpec;
}

/**
 * Runs the Spark job of the contract (spark-jobs/pipeline.py) somewhere. Resolves with the run
 * report of a successful run; rejects with PermanentJobError (exit 2: never retry) or
 * RetryableJobError. Aborting the signal stops the job and rejects.
 */
export interface SparkEngine {
  readonly name: EngineName;
  submit(job: JobRequest, signal?: AbortSignal): Promise<RunReport>;
  /** Releases what the engine holds. Idempotent. */
  close(): Promise<void>;
}
