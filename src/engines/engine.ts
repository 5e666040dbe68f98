import type { DatasetSpec } from '../datasets/spec.js';
import type { JobReport } from './run-report.js';

/** auto: Spark Connect when its server answers, else spark-submit (local). emr-serverless: AWS EMR Serverless. */
export const ENGINE_NAMES = ['auto', 'local', 'connect', 'emr-serverless'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** One version of a raw file: its key and ETag. */
export interface FileVersion {
  readonly key: string;
  readonly etag: string;
}

/**
 * A batch: several versions of one dataset in one job run. The controller has written the
 * manifest (`metadata/batches/<run-id>.json`, see state/batch-manifests.ts) listing `versions`
 * in this order; the job reads it (`--manifest`), so no argument list limit ever matters.
 */
export interface BatchRequest {
  /** The manifest's key in the lake (lake-relative); each engine makes it a URI of its own scheme. */
  readonly manifestKey: string;
  readonly versions: readonly FileVersion[];
}

/**
 * One job: one version of one raw file (`key`, `etag`), or with `batch` several versions of one
 * dataset (then `key` and `etag` are those of the batch's first version, for names and logs).
 */
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
  readonly batch?: BatchRequest;
}

/**
 * Runs the Spark job of the contract (spark-jobs/pipeline.py) somewhere. Resolves with the run
 * report of a successful run (a batch's lists each version's outcome: some may have failed) (its runId is the request's, or that of an earlier run of the same
 * version that a remote engine re-attached to after a restart); rejects with PermanentJobError (exit 2: never retry) or
 * RetryableJobError. Aborting the signal stops the job and rejects.
 */
export interface SparkEngine {
  readonly name: EngineName;
  submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport>;
  /** Releases what the engine holds. Idempotent. */
  close(): Promise<void>;
}
