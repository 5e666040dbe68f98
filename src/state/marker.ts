import { MarkerCorruptError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RowCounts } from '../engines/run-report.js';
import { ConditionalDocument, type DocumentSnapshot } from './conditional-document.js';

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

/** The marker as read, with the ETag to make the next write conditional on (undefined: none yet). */
export type MarkerSnapshot = DocumentSnapshot<MarkerDocument>;

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
  readonly #doc: ConditionalDocument<MarkerDocument>;
  readonly #now: () => Date;

  constructor(store: ObjectStore, options: MarkerStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#doc = new ConditionalDocument(store, MARKER_KEY, {
      parse: parseMarker,
      empty: emptyMarker,
      ...(options.maxConflictRetries !== undefined ? { maxConflictRetries: options.maxConflictRetries } : {}),
    });
  }

  load(signal?: AbortSignal): Promise<MarkerSnapshot> {
    return this.#doc.load(signal);
  }

  /** Records `entry` as the processed version of `key`, merging with whatever others wrote meanwhile. */
  record(key: string, entry: ProcessedEntry, signal?: AbortSignal): Promise<void> {
    return this.#doc.update(
      (document) => ({ version: MARKER_FORMAT_VERSION, updatedAt: this.#now().toISOString(), files: { ...document.files, [key]: entry } }),
      signal,
    );
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
