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
    for await (const object of listAll(this.#store, RAW_PREFIX, signal ? { signal } : {})) {
      const reason = this.#filter(object);
      if (reason === undefined) candidates.push({ ...object, dataset: datasetOf(object.key) });
      else skipped[reason] += 1;
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
      const object = await this.#store.head(key, signal);
      if (object === undefined) continue; // deleted since the event: nothing to do
      const reason = this.#filter(object);
      if (reason === undefined) candidates.push({ ...object, dataset: datasetOf(object.key) });
      else skipped[reason] += 1;
    }
    return { candidates, skipped };
  }
}
