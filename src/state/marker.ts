import { MarkerCorruptError, PreconditionFailedError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RowCounts } from '../engines/run-report.js';

/** Name and place kept from the original s3_watcher.py design. */
export const MARKER_KEY = 'metadata/processed_files.json';
export const MARKER_FORMAT_VERSION = 1;

/** The last processed version of one raw key. */
export interface ProcessedEntry {
  readonly etag: string;
  readonly size: number;
  readonly runId: string;
  readonly engine: string;
  readonly finishedAt: string;
  readonly rows: RowCounts;
}

export interface MarkerDocument {
  readonly version: typeof MARKER_FORMAT_VERSION;
  readonly updatedAt: string | null;
  readonly files: Readonly<Record<string, ProcessedEntry>>;
}

/** The marker as read, with the ETag to make the next write conditional on. */
export interface MarkerSnapshot {
  readonly document: MarkerDocument;
  /** undefined: there is no marker yet, so the first write is If-None-Match: *. */
  readonly etag: string | undefined;
}

export interface MarkerStoreOptions {
  readonly now?: () => Date;
  /** Re-read and merge at most this many times when another writer got in first. @default 20 */
  readonly maxConflictRetries?: number;
}

/**
 * `metadata/processed_files.json`: which (key, ETag) versions are done. Written only after a job
 * succeeded, always conditionally (If-Match the ETag it was read with, If-None-Match for the first
 * write), so a concurrent writer is detected and merged, never overwritten. A marker that exists
 * but cannot be understood is never overwritten either: it stops the watcher.
 */
export class MarkerStore {
  readonly #store: ObjectStore;
  readonly #now: () => Date;
  readonly #maxConflictRetries: number;

  constructor(store: ObjectStore, options: MarkerStoreOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
    this.#maxConflictRetries = options.maxConflictRetries ?? 20;
  }

  async load(signal?: AbortSignal): Promise<MarkerSnapshot> {
    const object = await this.#store.get(MARKER_KEY, signal);
    if (object === undefined) return { document: emptyMarker(), etag: undefined };
    return { document: parseMarker(object.body.toString('utf8')), etag: object.etag };
  }

  /** Records `entry` as the processed version of `key`, merging with whatever others wrote meanwhile. */
  async record(key: string, entry: ProcessedEntry, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { document, etag } = await this.load(signal);
      const next: MarkerDocument = {
        version: MARKER_FORMAT_VERSION,
        updatedAt: this.#now().toISOString(),
        files: { ...document.files, [key]: entry },
      };
      try {
        await this.#store.put(MARKER_KEY, `${JSON.stringify(next, null, 1)}\n`, {
          ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
          contentType: 'application/json',
          ...(signal ? { signal } : {}),
        });
        return;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= this.#maxConflictRetries) throw error;
        // Another writer got in between our read and write: re-read, merge, write again.
      }
    }
  }
}

export function emptyMarker(): MarkerDocument {
  return { version: MARKER_FORMAT_VERSION, updatedAt: null, files: {} };
}

export function isProcessed(document: MarkerDocument, key: string, etag: string): boolean {
  return document.files[key]?.etag === etag;
}

/** Parses and checks the marker; any doubt is a MarkerCorruptError that says where to look. */
export function parseMarker(text: string): MarkerDocument {
  const fail = (problem: string, cause?: unknown): never => {
    throw new MarkerCorruptError(
      `${MARKER_KEY} is not a valid marker (${problem}). It was left untouched: fix it, rebuild it from the run reports` +
        ' (`s3-spark-watcher marker rebuild`), or move it away (then every raw file is processed again), and start again.',
      cause === undefined ? undefined : { cause },
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON: ${(error as Error).message}`, error);
  }
  if (!isRecord(parsed)) return fail('the top level is not a JSON object');
  if (parsed['version'] !== MARKER_FORMAT_VERSION) {
    return fail(`"version" is ${JSON.stringify(parsed['version'])}; this build reads version ${MARKER_FORMAT_VERSION}`);
  }
  const files = parsed['files'];
  if (!isRecord(files)) return fail('"files" is not an object');
  for (const [key, entry] of Object.entries(files)) {
    if (!isRecord(entry) || typeof entry['etag'] !== 'string' || entry['etag'] === '') {
      return fail(`the entry for ${JSON.stringify(key)} has no "etag"`);
    }
  }
  const updatedAt = parsed['updatedAt'];
  return {
    version: MARKER_FORMAT_VERSION,
    updatedAt: typeof updatedAt === 'string' ? updatedAt : null,
    files: files as Record<string, ProcessedEntry>,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
