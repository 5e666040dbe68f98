import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { RUNS_PREFIX } from '../engines/run-report.js';
import { type ObjectStore, listAll } from '../storage/object-store.js';
import { BATCHES_PREFIX } from './batch-manifests.js';
import type { DeadLetterStore } from './dead-letters.js';
import type { MarkerStore } from './marker.js';

export interface RunRetentionOptions {
  /** Runs that started longer ago than this are forgotten (`RUN_HISTORY_DAYS`). */
  readonly keepMs: number;
  /** Where the local engine writes `<run-id>.log` (`RUN_LOG_DIR`); undefined: no local logs to prune. */
  readonly logDir?: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** What one prune removed: runs by what of them went. */
export interface PruneResult {
  readonly reports: number;
  readonly manifests: number;
  readonly logs: number;
}

/**
 * Bounds the per-run history that would otherwise grow with every run: the run reports
 * (`metadata/runs/<run-id>.json`, a file or a folder), the batch manifests
 * (`metadata/batches/<run-id>.json`) and the local driver logs (`<RUN_LOG_DIR>/<run-id>.log`) of
 * runs that started more than `keepMs` ago. A run's age is its id's (run ids start with their UTC
 * start time); an id without one is kept. So is every run the marker, a dead letter or an attempt
 * record names: the run that processed each recorded version (`marker rebuild` rebuilds the marker
 * from those reports), and the one that says why a version failed, for as long as it is on record.
 * So the history is bounded by the raw keys plus the runs of the last `keepMs`.
 */
export class RunHistoryPruner {
  readonly #store: ObjectStore;
  readonly #marker: MarkerStore;
  readonly #deadLetters: DeadLetterStore;
  readonly #o: RunRetentionOptions;
  readonly #now: () => Date;

  constructor(store: ObjectStore, state: { marker: MarkerStore; deadLetters: DeadLetterStore }, options: RunRetentionOptions) {
    if (!(options.keepMs > 0)) throw new RangeError(`keepMs must be positive, got ${options.keepMs}`);
    this.#store = store;
    this.#marker = state.marker;
    this.#deadLetters = state.deadLetters;
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  async prune(signal?: AbortSignal): Promise<PruneResult> {
    const cutoff = this.#now().getTime() - this.#o.keepMs;
    const [{ document: marker }, { document: dead }] = await Promise.all([this.#marker.load(signal), this.#deadLetters.load(signal)]);
    const named = new Set(
      [...Object.values(marker.files), ...Object.values(dead.deadLetters), ...Object.values(dead.attempts)].map((e) => e.runId),
    );
    const expired = (runId: string | undefined): runId is string => {
      if (runId === undefined || named.has(runId)) return false;
      const started = runStartedAt(runId);
      return started !== undefined && started < cutoff;
    };
    const reports = await this.#deleteObjects(RUNS_PREFIX, /^metadata\/runs\/([^/]+)\.json(?:\/.*)?$/su, expired, signal);
    const manifests = await this.#deleteObjects(BATCHES_PREFIX, /^metadata\/batches\/([^/]+)\.json$/su, expired, signal);
    const logs = this.#o.logDir === undefined ? 0 : await deleteLogs(this.#o.logDir, expired, signal);
    return { reports, manifests, logs };
  }

  /** Deletes the objects under `prefix` whose run id (`pattern`'s group) is expired; returns how many runs lost them. */
  async #deleteObjects(
    prefix: string,
    pattern: RegExp,
    expired: (runId: string | undefined) => boolean,
    signal?: AbortSignal,
  ): Promise<number> {
    const runs = new Set<string>();
    const only = (key: string): boolean => expired(pattern.exec(key)?.[1]);
    for await (const o of listAll(this.#store, prefix, { only, ...(signal ? { signal } : {}) })) {
      await this.#store.delete(o.key, signal);
      runs.add(pattern.exec(o.key)?.[1] ?? o.key);
    }
    return runs.size;
  }
}

async function deleteLogs(dir: string, expired: (runId: string | undefined) => boolean, signal?: AbortSignal): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let deleted = 0;
  for (const name of names) {
    signal?.throwIfAborted();
    if (!expired(/^(.+)\.log$/su.exec(name)?.[1])) continue;
    await unlink(path.join(dir, name)).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
    deleted += 1;
  }
  return deleted;
}

/** The start time (epoch ms) a run id begins with (`20261202T164226123Z-…`, `newRunId`), else undefined. */
export function runStartedAt(runId: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z(?:-|$)/u.exec(runId);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  // Date.UTC rolls a month 13 or an hour 25 over: such an id names no time.
  return back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s
    ? t
    : undefined;
}
