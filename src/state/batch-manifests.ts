import type { FileVersion } from '../engines/engine.js';
import type { ObjectStore } from '../storage/object-store.js';

export const BATCHES_PREFIX = 'metadata/batches/';
export const BATCH_MANIFEST_FORMAT_VERSION = 1;

/** `metadata/batches/<run-id>.json`: the versions one batch run processes, in order (the job's `--manifest`). */
export interface BatchManifest {
  readonly version: typeof BATCH_MANIFEST_FORMAT_VERSION;
  readonly runId: string;
  readonly dataset: string;
  readonly createdAt: string;
  readonly files: readonly FileVersion[];
}

export function batchManifestKey(runId: string): string {
  return `${BATCHES_PREFIX}${runId}.json`;
}

/**
 * Writes batch manifests. Each is written once, before its run starts, and kept beside the run's
 * report (`metadata/runs/<run-id>.json`) as the record of what the run was asked to do.
 */
export class BatchManifests {
  readonly #store: ObjectStore;
  readonly #now: () => Date;

  constructor(store: ObjectStore, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  /** Writes the manifest of run `runId` and returns its key. */
  async write(runId: string, dataset: string, files: readonly FileVersion[], signal?: AbortSignal): Promise<string> {
    const manifest: BatchManifest = {
      version: BATCH_MANIFEST_FORMAT_VERSION,
      runId,
      dataset,
      createdAt: this.#now().toISOString(),
      files: files.map(({ key, etag }) => ({ key, etag })),
    };
    const key = batchManifestKey(runId);
    await this.#store.put(key, `${JSON.stringify(manifest, null, 1)}\n`, {
      contentType: 'application/json',
      ...(signal ? { signal } : {}),
    });
    return key;
  }
}
