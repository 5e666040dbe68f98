import { listAll, type ObjectStore } from '../storage/object-store.js';
import { type CandidateFilter, type CandidateVersion, type SkipReason, RAW_PREFIX, datasetOf } from './candidates.js';

export interface Discovery {
  readonly candidates: CandidateVersion[];
  /** Raw objects passed over, by reason: reported, never submitted. */
  readonly skipped: Record<SkipReason, number>;
}

/** Lists raw/ page by page and keeps the candidates. Level-triggered: it sees what is there now. */
export class PollingDiscovery {
  readonly #store: ObjectStore;
  readonly #filter: CandidateFilter;

  constructor(store: ObjectStore, filter: CandidateFilter) {
    this.#store = store;
    this.#filter = filter;
  }

  async discover(signal?: AbortSignal): Promise<Discovery> {
    const candidates: CandidateVersion[] = [];
    const skipped: Record<SkipReason, number> = { 'folder-marker': 0, 'hidden-or-temporary': 0, 'not-matching': 0 };
    // The filter runs on each key as the listing passes it: the rest are never looked at (a local
    // lake hashes only candidates).
    const only = (key: string): boolean => {
      const reason = this.#filter(key);
      if (reason !== undefined) skipped[reason] += 1;
      return reason === undefined;
    };
    for await (const object of listAll(this.#store, RAW_PREFIX, { only, ...(signal ? { signal } : {}) })) {
      candidates.push({ ...object, dataset: datasetOf(object.key) });
    }
    return { candidates, skipped };
  }

  /** The same view for named keys only (an event said they changed): each is looked up, not listed. */
  async lookup(keys: readonly string[], signal?: AbortSignal): Promise<Discovery> {
    const candidates: CandidateVersion[] = [];
    const skipped: Record<SkipReason, number> = { 'folder-marker': 0, 'hidden-or-temporary': 0, 'not-matching': 0 };
    for (const key of new Set(keys)) {
      signal?.throwIfAborted();
      if (!key.startsWith(RAW_PREFIX)) continue;
      const reason = this.#filter(key);
      if (reason !== undefined) {
        skipped[reason] += 1;
        continue;
      }
      const object = await this.#store.head(key, signal);
      if (object === undefined) continue; // deleted since the event: nothing to do
      candidates.push({ ...object, dataset: datasetOf(object.key) });
    }
    return { candidates, skipped };
  }
}
