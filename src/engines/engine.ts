import type { DatasetSpec } from '../datasets/spec.js';
import type { RunReport } from './run-report.js';

/** auto: Spark Connect when its server answers, else spark-submit (local). emr-serverless: AWS EMR Serverless. */
export const ENGINE_NAMES = ['auto', 'local', 'connect', 'emr-serverless'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** One job: one version of one raw file. */
export interface JobRequest {
  readonly runId: string;
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly spec?: DatasetSpec;
  /**
   * Which try at this version this is (1, 2, ...). Engines that submit remotely derive their
   * idempotency token from key, ETag and attempt. @default 1
   */
  readonly attempt?: number;
}

/**
 * Runs the Spark job of the contract (spark-jobs/pipeline.py) somewhere. Resolves with the run
 * report of a successful run (its runId is the request's, or that of an earlier run of the same
 * version that a remote engine re-attached to after a restart); rejects with PermanentJobError (exit 2: never retry) or
 * RetryableJobError. Aborting the signal stops the job and rejects.
 */
export interface SparkEngine {
  readonly name: EngineName;
  submit(job: JobRequest, signal?: AbortSignal): Promise<RunReport>;
  /** Releases what the engine holds. Idempotent. */
  close(): Promise<void>;
}
