import type { JobRequest } from './engine.js';

/**
 * The job's contract arguments after the entry point (spark-jobs/README.md): `--lake <root>` and
 * either `--key <key> --etag <etag>` (one version) or `--manifest <uri>` (a batch), then
 * `--run-id` and the spec as JSON. `lakeUri` is the root in the engine's scheme (file://, s3a://,
 * s3://); the manifest URI is made from it, so the job reads it the way it reads the lake.
 */
export function jobArguments(lakeUri: string, job: JobRequest, runId: string = job.runId): string[] {
  return [
    '--lake',
    lakeUri,
    ...(job.batch !== undefined ? ['--manifest', manifestUri(lakeUri, job.batch.manifestKey)] : ['--key', job.key, '--etag', job.etag]),
    '--run-id',
    runId,
    ...(job.spec !== undefined ? ['--spec', JSON.stringify(job.spec)] : []),
  ];
}

/** A lake-relative key as a URI under the lake root `lakeUri`. */
export function manifestUri(lakeUri: string, manifestKey: string): string {
  return `${lakeUri.replace(/\/+$/u, '')}/${manifestKey}`;
}
