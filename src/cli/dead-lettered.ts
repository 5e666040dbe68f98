import { datasetOf } from '../discovery/candidates.js';
import { DeadLetterStore } from '../state/dead-letters.js';
import type { ObjectStore } from '../storage/object-store.js';

/** A file version that failed for good and waits in the dead letters (issue 7). */
export interface DeadLetteredVersion {
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly reason: string;
}

/** Where `status` learns the dead-lettered versions; the dead-letter store plugs in here. */
export type DeadLetterView = (signal?: AbortSignal) => Promise<readonly DeadLetteredVersion[]>;

/** The dead letters of a lake (metadata/dead_letter.json). */
export function deadLettersIn(store: ObjectStore): DeadLetterView {
  return async (signal) => {
    const { document } = await new DeadLetterStore(store).load(signal);
    return Object.values(document.deadLetters).map((d) => ({ key: d.key, etag: d.etag, dataset: datasetOf(d.key), reason: d.message }));
  };
}
