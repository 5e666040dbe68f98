import { MarkerCorruptError } from '../errors.js';
import { listAll, type ObjectStore } from '../storage/object-store.js';
import { type Fail, isRecord, parseVersionedObject } from './json-document.js';
import type { ProcessedEntry } from './marker.js';

/**
 * The marker's recent updates, one small object each, numbered: `metadata/processed_files.deltas/
 * 000000000007.json` holds what update 7 recorded. As in Spark's file-source log (`_spark_metadata/
 * 7`, folded into `N.compact`), an update writes only its delta, created with If-None-Match so
 * two writers can never both take a number; every so many updates one writer folds them into
 * processed_files.json (which then says `foldedThrough`) and deletes them. A delta is never
 * changed once written, so a reader may keep it.
 */
export const MARKER_DELTA_PREFIX = 'metadata/processed_files.deltas/';
const DELTA_FORMAT_VERSION = 1;
const DIGITS = 12;

export interface MarkerDelta {
  readonly version: typeof DELTA_FORMAT_VERSION;
  readonly seq: number;
  readonly files: Readonly<Record<string, ProcessedEntry>>;
}

export function deltaKey(seq: number): string {
  return `${MARKER_DELTA_PREFIX}${String(seq).padStart(DIGITS, '0')}.json`;
}

export function deltaText(seq: number, files: Readonly<Record<string, ProcessedEntry>>): string {
  return `${JSON.stringify({ version: DELTA_FORMAT_VERSION, seq, files } satisfies MarkerDelta, null, 1)}\n`;
}

/** The numbers of the deltas in the lake, ascending. Objects that are not deltas are passed over. */
export async function listDeltaSeqs(store: ObjectStore, signal?: AbortSignal): Promise<number[]> {
  const seqs: number[] = [];
  for await (const object of listAll(store, MARKER_DELTA_PREFIX, signal ? { signal } : {})) {
    const m = new RegExp(`^(\\d{${DIGITS}})\\.json$`, 'u').exec(object.key.slice(MARKER_DELTA_PREFIX.length));
    if (m?.[1] !== undefined) seqs.push(Number(m[1]));
  }
  return seqs.sort((a, b) => a - b);
}

/** Parses and checks one delta; any doubt is a MarkerCorruptError that names it and says what to do. */
export function parseDelta(text: string, seq: number): MarkerDelta {
  const key = deltaKey(seq);
  const fail: Fail = (problem, cause) => {
    throw new MarkerCorruptError(
      `${key} (an update of the marker not yet folded into it) is not valid (${problem}). It was left untouched: fix or delete it,` +
        ' or rebuild the marker from the run reports (`s3-spark-watcher marker rebuild`), and start again.',
      cause === undefined ? undefined : { cause },
    );
  };
  const { seq: stored, files } = parseVersionedObject(text, DELTA_FORMAT_VERSION, fail);
  if (stored !== seq) return fail(`"seq" is ${JSON.stringify(stored)}, not ${seq}`);
  if (!isRecord(files)) return fail('"files" is not an object');
  for (const [k, entry] of Object.entries(files)) {
    if (!isRecord(entry) || typeof entry['etag'] !== 'string') {
      return fail(`the entry for ${JSON.stringify(k)} has no "etag"`);
    }
  }
  return { version: DELTA_FORMAT_VERSION, seq, files: files as Record<string, ProcessedEntry> };
}
