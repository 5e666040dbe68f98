import { MarkerCorruptError, PreconditionFailedError, RetryableError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RowCounts } from '../engines/run-report.js';
import type { DocumentSnapshot } from './conditional-document.js';
import { type Fail, isRecord, parseVersionedObject } from './json-document.js';
import { type MarkerDelta, deltaKey, deltaText, listDeltaSeqs, parseDelta } from './marker-deltas.js';

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
  /** The updates (deltas) numbered up to this are in `files`; later ones are applied on top. Absent: 0. */
  readonly foldedThrough?: number;
  readonly files: Readonly<Record<string, ProcessedEntry>>;
}

/** The marker as read (with its recent updates applied), with the ETag of processed_files.json (undefined: none yet). */
export type MarkerSnapshot = DocumentSnapshot<MarkerDocument>;

export interface MarkerStoreOptions {
  readonly now?: () => Date;
  /** Re-read and merge at most this many times when another writer got in first. @default 20 */
  readonly maxConflictRetries?: number;
  /** Fold the updates waiting as deltas into processed_files.json once this many are there. @default 20 */
  readonly foldEvery?: number;
  /** Below this many entries every update is written into processed_files.json itself (no delta): it is small. @default 1000 */
  readonly deltasFrom?: number;
}

interface Base {
  readonly etag: string | undefined;
  readonly document: MarkerDocument;
}

/** What one consistent read found: processed_files.json, the deltas after it, and the two merged. */
interface MarkerView {
  readonly base: Base;
  /** The deltas to apply (numbered after `foldedThrough`), ascending. */
  readonly pending: readonly number[];
  /** Every delta number listed, folded ones included (they are deleted after the next fold). */
  readonly listed: readonly number[];
  readonly document: MarkerDocument;
}

/**
 * `metadata/processed_files.json`: which (key, ETag) versions are done. Written only after a job
 * succeeded, always conditionally, so a concurrent writer is detected and merged, never
 * overwritten. A marker that exists but cannot be understood is never overwritten either: it stops
 * the watcher.
 *
 * At scale the one document is too big to rewrite per job (33 MiB at 100k entries), so, as Spark's
 * file-source log does, an update of a big marker writes only a small numbered delta
 * (marker-deltas.ts) and every `foldEvery` updates one writer folds the deltas into the document
 * (If-Match) and deletes them. Reading is processed_files.json plus the deltas after its
 * `foldedThrough`; both are kept between reads (the document while its ETag holds, the deltas for
 * good: they never change), so a pass on an unchanged marker reads no big object.
 */
export class MarkerStore {
  readonly #store: ObjectStore;
  readonly #now: () => Date;
  readonly #retries: number;
  readonly #foldEvery: number;
  readonly #deltasFrom: number;
  #base: Base | undefined;
  readonly #deltas = new Map<number, MarkerDelta>();

  constructor(store: ObjectStore, options: MarkerStoreOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
    this.#retries = options.maxConflictRetries ?? 20;
    this.#foldEvery = options.foldEvery ?? 20;
    this.#deltasFrom = options.deltasFrom ?? 1000;
    if (!(Number.isInteger(this.#foldEvery) && this.#foldEvery >= 1))
      throw new RangeError(`foldEvery must be an integer >= 1, got ${this.#foldEvery}`);
  }

  async load(signal?: AbortSignal): Promise<MarkerSnapshot> {
    const { document, base } = await this.#view(signal);
    return { document, etag: base.etag };
  }

  /** Records `entry` as the processed version of `key`, merging with whatever others wrote meanwhile. */
  record(key: string, entry: ProcessedEntry, signal?: AbortSignal): Promise<void> {
    return this.recordAll({ [key]: entry }, signal);
  }

  /**
   * Records the processed versions of several keys (a batch's) in one conditional write (or one
   * delta), merging with whatever others wrote meanwhile: all of them are recorded, or none.
   */
  async recordAll(entries: Readonly<Record<string, ProcessedEntry>>, signal?: AbortSignal): Promise<void> {
    const keys = Object.keys(entries);
    if (keys.length === 0) return;
    const named = keys.length === 1 ? keys[0] : `${keys.length} keys`;
    for (let attempt = 0; ; attempt++) {
      const view = await this.#view(signal);
      const last = view.pending.at(-1) ?? view.base.document.foldedThrough ?? 0;
      try {
        if (Object.keys(view.document.files).length < this.#deltasFrom || view.pending.length + 1 >= this.#foldEvery) {
          await this.#fold(view, last, entries, signal);
          return;
        }
        const seq = last + 1;
        await this.#store.put(deltaKey(seq), deltaText(seq, entries), {
          ifNoneMatch: '*',
          contentType: 'application/json',
          ...(signal ? { signal } : {}),
        });
        // A fold that ran meanwhile may have deleted delta `seq` after folding it in, and this write
        // then took the free number: if the document now covers `seq`, the entry is not in it.
        if ((await this.#store.head(MARKER_KEY, signal))?.etag === view.base.etag) return;
        if (seq > ((await this.#view(signal)).base.document.foldedThrough ?? 0)) return;
        if (attempt >= this.#retries)
          throw new PreconditionFailedError(deltaKey(seq), `recording ${named}: the marker kept being folded under it`);
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= this.#retries) throw error;
      }
    }
  }

  /** Writes processed_files.json with the deltas through `last` (and `extra`) in it, then deletes those deltas. */
  async #fold(view: MarkerView, last: number, extra: Record<string, ProcessedEntry>, signal?: AbortSignal): Promise<void> {
    const document: MarkerDocument = {
      version: MARKER_FORMAT_VERSION,
      updatedAt: this.#now().toISOString(),
      ...(last > 0 ? { foldedThrough: last } : {}),
      files: { ...view.document.files, ...extra },
    };
    const { etag } = await this.#store.put(MARKER_KEY, `${JSON.stringify(document, null, 1)}\n`, {
      ...(view.base.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: view.base.etag }),
      contentType: 'application/json',
      ...(signal ? { signal } : {}),
    });
    this.#base = { etag, document };
    const folded = view.listed.filter((seq) => seq <= last);
    for (const seq of folded) this.#deltas.delete(seq);
    // Housekeeping: a delta left behind is at or below foldedThrough, so it is ignored, and the next fold deletes it.
    await Promise.all(folded.map((seq) => this.#store.delete(deltaKey(seq), signal).catch(() => undefined)));
  }

  /** processed_files.json and the deltas after it, read so that no fold ran in between. */
  async #view(signal?: AbortSignal): Promise<MarkerView> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.#store.head(MARKER_KEY, signal);
      let base: Base | undefined = head === undefined ? { etag: undefined, document: emptyMarker() } : this.#base;
      if (head !== undefined && base?.etag !== head.etag) {
        const object = await this.#store.get(MARKER_KEY, signal);
        base = object === undefined ? undefined : { etag: object.etag, document: parseMarker(object.body.toString('utf8')) };
      }
      const folded = base?.document.foldedThrough ?? 0;
      const listed = base === undefined ? [] : await listDeltaSeqs(this.#store, signal);
      const pending = listed.filter((seq) => seq > folded);
      const read = await Promise.all(pending.map((seq) => this.#delta(seq, signal)));
      // Something vanished, or processed_files.json changed while the deltas were read: a fold ran; read again.
      const settled = base !== undefined && !read.includes(undefined) && (await this.#store.head(MARKER_KEY, signal))?.etag === base.etag;
      if (base !== undefined && settled) {
        this.#base = base;
        for (const seq of this.#deltas.keys()) if (seq <= folded) this.#deltas.delete(seq);
        const document =
          pending.length === 0
            ? base.document
            : {
                ...base.document,
                files: Object.assign({ ...base.document.files }, ...read.map((d) => d?.files)) as Record<string, ProcessedEntry>,
              };
        return { base, pending, listed, document };
      }
      if (attempt >= this.#retries) throw new RetryableError(`${MARKER_KEY} kept changing while it was read (${attempt + 1} tries)`);
    }
  }

  async #delta(seq: number, signal?: AbortSignal): Promise<MarkerDelta | undefined> {
    const cached = this.#deltas.get(seq);
    if (cached !== undefined) return cached;
    const object = await this.#store.get(deltaKey(seq), signal);
    if (object === undefined) return undefined;
    const delta = parseDelta(object.body.toString('utf8'), seq);
    this.#deltas.set(seq, delta);
    return delta;
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
  const fail: Fail = (problem, cause) => {
    throw new MarkerCorruptError(
      `${MARKER_KEY} is not a valid marker (${problem}). It was left untouched: fix it, rebuild it from the run reports` +
        ' (`s3-spark-watcher marker rebuild`), or move it away with metadata/processed_files.deltas/ (then every raw file is processed' +
        ' again), and start again.',
      cause === undefined ? undefined : { cause },
    );
  };
  const parsed = parseVersionedObject(text, MARKER_FORMAT_VERSION, fail);
  const files = parsed['files'];
  if (!isRecord(files)) return fail('"files" is not an object');
  for (const [key, entry] of Object.entries(files)) {
    if (!isRecord(entry) || typeof entry['etag'] !== 'string' || entry['etag'] === '') {
      return fail(`the entry for ${JSON.stringify(key)} has no "etag"`);
    }
  }
  const foldedThrough = parsed['foldedThrough'];
  if (foldedThrough !== undefined && !(Number.isSafeInteger(foldedThrough) && (foldedThrough as number) >= 0)) {
    return fail(`"foldedThrough" is ${JSON.stringify(foldedThrough)}, not a whole number`);
  }
  const updatedAt = parsed['updatedAt'];
  return {
    version: MARKER_FORMAT_VERSION,
    updatedAt: typeof updatedAt === 'string' ? updatedAt : null,
    ...(foldedThrough === undefined ? {} : { foldedThrough: foldedThrough as number }),
    files: files as Record<string, ProcessedEntry>,
  };
}
