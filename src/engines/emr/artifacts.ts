import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from '../../storage/object-store.js';
import { deterministicZip } from './deterministic-zip.js';

export const ARTIFACTS_PREFIX = 'artifacts/';
export const ENTRY_POINT_NAME = 'pipeline.py';
export const PY_FILES_NAME = 'watcher_job.zip';

/** The job code as EMR Serverless gets it: the entry point and a zip of its package, named by content. */
export interface JobArtifacts {
  /** sha256 of the entry point and the zip together. */
  readonly hash: string;
  readonly entryPoint: Buffer;
  readonly pyFiles: Buffer;
  /** Keys relative to the lake root: `artifacts/<hash>/pipeline.py`, `artifacts/<hash>/watcher_job.zip`. */
  readonly entryPointKey: string;
  readonly pyFilesKey: string;
}

/**
 * Builds the artifacts from spark-jobs/: `pipeline.py` as it is, and `watcher_job/*.py` in a
 * deterministic zip (sorted, fixed timestamps), so identical sources give the identical hash.
 */
export async function buildJobArtifacts(sparkJobsDir: string): Promise<JobArtifacts> {
  const entryPoint = await readFile(path.join(sparkJobsDir, ENTRY_POINT_NAME));
  const packageDir = path.join(sparkJobsDir, 'watcher_job');
  const names = (await readdir(packageDir)).filter((n) => n.endsWith('.py')).sort();
  const entries = await Promise.all(names.map(async (n) => ({ name: `watcher_job/${n}`, data: await readFile(path.join(packageDir, n)) })));
  const pyFiles = deterministicZip(entries);
  const hash = createHash('sha256')
    .update(createHash('sha256').update(entryPoint).digest())
    .update(createHash('sha256').update(pyFiles).digest())
    .digest('hex');
  return {
    hash,
    entryPoint,
    pyFiles,
    entryPointKey: `${ARTIFACTS_PREFIX}${hash}/${ENTRY_POINT_NAME}`,
    pyFilesKey: `${ARTIFACTS_PREFIX}${hash}/${PY_FILES_NAME}`,
  };
}

/**
 * Uploads what is not there yet; content-addressed, so an object that exists is the same bytes.
 * The entry point goes last: once it exists, the zip it needs does too. Returns the keys written.
 */
export async function uploadArtifactsIfNew(store: ObjectStore, artifacts: JobArtifacts, signal?: AbortSignal): Promise<string[]> {
  const written: string[] = [];
  for (const [key, body] of [
    [artifacts.pyFilesKey, artifacts.pyFiles],
    [artifacts.entryPointKey, artifacts.entryPoint],
  ] as const) {
    if ((await store.head(key, signal)) !== undefined) continue;
    await store.put(key, body, { contentType: key.endsWith('.zip') ? 'application/zip' : 'text/x-python', ...(signal ? { signal } : {}) });
    written.push(key);
  }
  return written;
}
