import { DeadLetterCorruptError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ConditionalDocument, type DocumentSnapshot } from './conditional-document.js';
import type { JobFailure } from './job-failure.js';
import { type Fail, isRecord, parseVersionedObject } from './json-document.js';

/** One document next to the marker, written like it: conditionally, merged on conflict. */
export const DEAD_LETTER_KEY = 'metadata/dead_letter.json';
export const DEAD_LETTER_FORMAT_VERSION = 1;

/** A version that failed for good: passes skip it until it is replayed or its key gets a new ETag. */
export interface DeadLetterEntry extends JobFailure {
  readonly key: string;
  readonly etag: string;
  /** Attempts started (a permanent failure: usually 1). */
  readonly attempts: number;
  readonly deadLetteredAt: string;
  /** The run of the last attempt: its report and driver log carry this id. */
  readonly runId: string;
}

/** A version still being tried: how many attempts have started, so a restarted controller goes on counting. */
export interface AttemptRecord {
  readonly etag: string;
  readonly attempts: number;
  readonly lastAttemptAt: string;
  readonly runId: string;
  /** Why the last finished attempt failed; absent while the first attempt runs (or if the controller died in it). */
  readonly lastFailure?: JobFailure;
}

export interface DeadLetterDocument {
  readonly version: typeof DEAD_LETTER_FORMAT_VERSION;
  readonly updatedAt: string | null;
  /** By raw key: one entry per key, for the version that failed. */
  readonly deadLetters: Readonly<Record<string, DeadLetterEntry>>;
  /** By raw key: attempts of the key's version that is neither processed nor dead-lettered yet. */
  readonly attempts: Readonly<Record<string, AttemptRecord>>;
}

export type DeadLetterSnapshot = DocumentSnapshot<DeadLetterDocument>;

/** A version by key and ETag. */
export interface VersionRef {
  readonly key: string;
  readonly etag: string;
}

/** What beginAttempt decided: the attempt's number, or that the version has used up its attempts. */
export type AttemptStart =
  { readonly started: true; readonly attempt: number } | { readonly started: false; readonly record: AttemptRecord };

export interface ReplayResult {
  readonly replayed: readonly DeadLetterEntry[];
  /** Named keys that had no dead letter. */
  readonly notDeadLettered: readonly string[];
}

export interface DeadLetterStoreOptions {
  readonly now?: () => Date;
  /** Re-read and merge at most this many times when another writer got in first. @default 20 */
  readonly maxConflictRetries?: number;
}

/**
 * `metadata/dead_letter.json`: the versions that failed for good (`deadLetters`) and the attempt
 * counts of versions still being retried (`attempts`). One document, so moving a version from
 * "being retried" to "dead-lettered" is one atomic write, and a pass reads it with one GET. Every
 * write is conditional on the ETag it read (If-None-Match for the first), re-read and merged when
 * another writer got in first; a document that cannot be understood is never overwritten.
 */
export class DeadLetterStore {
  readonly #doc: ConditionalDocument<DeadLetterDocument>;
  readonly #now: () => Date;

  constructor(store: ObjectStore, options: DeadLetterStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#doc = new ConditionalDocument(store, DEAD_LETTER_KEY, {
      parse: parseDeadLetters,
      empty: emptyDeadLetters,
      ...(options.maxConflictRetries !== undefined ? { maxConflictRetries: options.maxConflictRetries } : {}),
    });
  }

  load(signal?: AbortSignal): Promise<DeadLetterSnapshot> {
    return this.#doc.load(signal);
  }

  /**
   * Counts a new attempt of (key, etag) before it starts, so an attempt during which the controller
   * dies is counted too. When `maxAttempts` have already started, nothing is written and
   * `started: false` says the version is to be dead-lettered. Attempts of an older ETag are dropped.
   */
  async beginAttempt(key: string, etag: string, runId: string, maxAttempts: number, signal?: AbortSignal): Promise<AttemptStart> {
    let result: AttemptStart = { started: true, attempt: 1 };
    await this.#update((doc) => {
      const previous = doc.attempts[key]?.etag === etag ? doc.attempts[key] : undefined;
      if (previous !== undefined && previous.attempts >= maxAttempts) {
        result = { started: false, record: previous };
        return undefined;
      }
      const attempt = (previous?.attempts ?? 0) + 1;
      result = { started: true, attempt };
      const record: AttemptRecord = {
        etag,
        attempts: attempt,
        lastAttemptAt: this.#now().toISOString(),
        runId,
        ...(previous?.lastFailure ? { lastFailure: previous.lastFailure } : {}),
      };
      return { ...doc, attempts: { ...doc.attempts, [key]: record } };
    }, signal);
    return result;
  }

  /**
   * A batch's `beginAttempt`: counts a new attempt of each version in one write. The result says,
   * by key, the attempt's number or that the version has used up its attempts (nothing counted for it).
   */
  async beginAttempts(
    versions: readonly VersionRef[],
    runId: string,
    maxAttempts: number,
    signal?: AbortSignal,
  ): Promise<Map<string, AttemptStart>> {
    let result = new Map<string, AttemptStart>();
    await this.#update((doc) => {
      result = new Map();
      const attempts = { ...doc.attempts };
      const at = this.#now().toISOString();
      for (const { key, etag } of versions) {
        const previous = attempts[key]?.etag === etag ? attempts[key] : undefined;
        if (previous !== undefined && previous.attempts >= maxAttempts) {
          result.set(key, { started: false, record: previous });
          continue;
        }
        const attempt = (previous?.attempts ?? 0) + 1;
        result.set(key, { started: true, attempt });
        attempts[key] = {
          etag,
          attempts: attempt,
          lastAttemptAt: at,
          runId,
          ...(previous?.lastFailure ? { lastFailure: previous.lastFailure } : {}),
        };
      }
      return [...result.values()].some((s) => s.started) ? { ...doc, attempts } : undefined;
    }, signal);
    return result;
  }

  /** A batch's `cancelAttempt`: takes back the current attempt of each version, in one write. */
  async cancelAttempts(versions: readonly VersionRef[], signal?: AbortSignal): Promise<void> {
    await this.#update((doc) => {
      const attempts = { ...doc.attempts };
      let changed = false;
      for (const { key, etag } of versions) {
        const record = attempts[key];
        if (record?.etag !== etag) continue;
        changed = true;
        if (record.attempts > 1) attempts[key] = { ...record, attempts: record.attempts - 1 };
        else delete attempts[key];
      }
      return changed ? { ...doc, attempts } : undefined;
    }, signal);
  }

  /**
   * What a batch run settled, in one write: `succeeded` versions as `succeeded` does, `failed`
   * ones noted like `failAttempt` (to be tried again), `deadLettered` ones as `deadLetter` does.
   */
  async settle(
    outcome: {
      readonly succeeded?: readonly VersionRef[];
      readonly failed?: ReadonlyArray<VersionRef & { readonly failure: JobFailure }>;
      readonly deadLettered?: readonly DeadLetterEntry[];
    },
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#update((doc) => {
      const attempts = { ...doc.attempts };
      const deadLetters = { ...doc.deadLetters };
      for (const { key, etag } of outcome.succeeded ?? []) {
        delete attempts[key];
        if (deadLetters[key] !== undefined && deadLetters[key].etag !== etag) delete deadLetters[key];
      }
      for (const { key, etag, failure } of outcome.failed ?? []) {
        const record = attempts[key];
        if (record?.etag === etag) attempts[key] = { ...record, lastFailure: failure };
      }
      for (const entry of outcome.deadLettered ?? []) {
        delete attempts[entry.key];
        deadLetters[entry.key] = entry;
      }
      return { ...doc, attempts, deadLetters };
    }, signal);
  }

  /** Takes back an attempt that was stopped from outside (shutdown): it does not count. */
  async cancelAttempt(key: string, etag: string, signal?: AbortSignal): Promise<void> {
    await this.#update((doc) => {
      const record = doc.attempts[key];
      if (record?.etag !== etag) return undefined;
      const { [key]: _dropped, ...rest } = doc.attempts;
      return {
        ...doc,
        attempts: record.attempts > 1 ? { ...rest, [key]: { ...record, attempts: record.attempts - 1 } } : rest,
      };
    }, signal);
  }

  /** Notes why the current attempt of (key, etag) failed; it will be retried. */
  async failAttempt(key: string, etag: string, failure: JobFailure, signal?: AbortSignal): Promise<void> {
    await this.#update((doc) => {
      const record = doc.attempts[key];
      if (record?.etag !== etag) return undefined;
      return { ...doc, attempts: { ...doc.attempts, [key]: { ...record, lastFailure: failure } } };
    }, signal);
  }

  /**
   * (key, etag) is processed: its attempts go, and so does a dead letter of an older ETag of the key
   * (a fixed file was uploaded over the poison one; nothing is left to replay).
   */
  async succeeded(key: string, etag: string, signal?: AbortSignal): Promise<void> {
    await this.#update((doc) => {
      const stale = doc.deadLetters[key] !== undefined && doc.deadLetters[key].etag !== etag;
      if (doc.attempts[key] === undefined && !stale) return undefined;
      const { [key]: _attempts, ...attempts } = doc.attempts;
      const { [key]: _dead, ...deadLetters } = doc.deadLetters;
      return { ...doc, attempts, deadLetters: stale ? deadLetters : doc.deadLetters };
    }, signal);
  }

  /** Moves the version from attempts to dead letters (replacing any older dead letter of the key), in one write. */
  async deadLetter(entry: DeadLetterEntry, signal?: AbortSignal): Promise<void> {
    await this.#update((doc) => {
      const { [entry.key]: _attempts, ...attempts } = doc.attempts;
      return { ...doc, attempts, deadLetters: { ...doc.deadLetters, [entry.key]: entry } };
    }, signal);
  }

  /** Removes the dead letters (and attempts) of `keys`, or of every key with 'all': the next pass runs them afresh. */
  async replay(keys: readonly string[] | 'all', signal?: AbortSignal): Promise<ReplayResult> {
    let result: ReplayResult = { replayed: [], notDeadLettered: [] };
    await this.#update((doc) => {
      const named = keys === 'all' ? Object.keys(doc.deadLetters) : [...new Set(keys)];
      const replayed = named.map((k) => doc.deadLetters[k]).filter((e): e is DeadLetterEntry => e !== undefined);
      result = { replayed, notDeadLettered: named.filter((k) => doc.deadLetters[k] === undefined) };
      if (replayed.length === 0) return undefined;
      const gone = new Set(replayed.map((e) => e.key));
      return {
        ...doc,
        deadLetters: Object.fromEntries(Object.entries(doc.deadLetters).filter(([k]) => !gone.has(k))),
        attempts: Object.fromEntries(Object.entries(doc.attempts).filter(([k]) => !gone.has(k))),
      };
    }, signal);
    return result;
  }

  /** Read, change, write conditionally, stamped with the format version and time; reapplied on a lost race. */
  #update(change: (doc: DeadLetterDocument) => DeadLetterDocument | undefined, signal?: AbortSignal): Promise<void> {
    return this.#doc.update((document) => {
      const changed = change(document);
      return changed === undefined ? undefined : { ...changed, version: DEAD_LETTER_FORMAT_VERSION, updatedAt: this.#now().toISOString() };
    }, signal);
  }
}

export function emptyDeadLetters(): DeadLetterDocument {
  return { version: DEAD_LETTER_FORMAT_VERSION, updatedAt: null, deadLetters: {}, attempts: {} };
}

export function isDeadLettered(document: DeadLetterDocument, key: string, etag: string): boolean {
  return document.deadLetters[key]?.etag === etag;
}

/** Parses and checks the document; any doubt is a DeadLetterCorruptError that says where to look. */
export function parseDeadLetters(text: string): DeadLetterDocument {
  const fail: Fail = (problem, cause) => {
    throw new DeadLetterCorruptError(
      `${DEAD_LETTER_KEY} is not a valid dead-letter document (${problem}). It was left untouched: fix or move it away, then start again` +
        ' (moving it away means dead-lettered versions are tried again).',
      cause === undefined ? undefined : { cause },
    );
  };
  const parsed = parseVersionedObject(text, DEAD_LETTER_FORMAT_VERSION, fail);
  const deadLetters = parsed['deadLetters'] ?? {};
  const attempts = parsed['attempts'] ?? {};
  if (!isRecord(deadLetters)) return fail('"deadLetters" is not an object');
  if (!isRecord(attempts)) return fail('"attempts" is not an object');
  for (const [key, entry] of Object.entries(deadLetters)) {
    if (!isRecord(entry) || typeof entry['etag'] !== 'string' || entry['etag'] === '' || entry['key'] !== key) {
      return fail(`the dead letter of ${JSON.stringify(key)} has no "etag" or names another key`);
    }
  }
  for (const [key, record] of Object.entries(attempts)) {
    if (!isRecord(record) || typeof record['etag'] !== 'string' || !Number.isInteger(record['attempts'])) {
      return fail(`the attempts of ${JSON.stringify(key)} have no "etag" or no whole "attempts"`);
    }
  }
  const updatedAt = parsed['updatedAt'];
  return {
    version: DEAD_LETTER_FORMAT_VERSION,
    updatedAt: typeof updatedAt === 'string' ? updatedAt : null,
    deadLetters: deadLetters as Record<string, DeadLetterEntry>,
    attempts: attempts as Record<string, AttemptRecord>,
  };
}
