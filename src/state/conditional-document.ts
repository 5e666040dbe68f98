import { PreconditionFailedError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';

/** A document as read, with the ETag to make the next write conditional on (undefined: none yet). */
export interface DocumentSnapshot<D> {
  readonly document: D;
  readonly etag: string | undefined;
}

export interface ConditionalDocumentOptions<D> {
  /** Parses and checks the stored text; throws (a corrupt-document error) when in doubt. */
  readonly parse: (text: string) => D;
  /** The document when there is none yet. */
  readonly empty: () => D;
  /** Re-read and reapply at most this many times when another writer got in first. @default 20 */
  readonly maxConflictRetries?: number;
}

/**
 * One JSON document in the lake that several writers share (the dead letters; the marker writes
 * its document the same way, with its numbered deltas besides: marker.ts): every write is conditional on the ETag it read (If-None-Match for the first), and a lost race is met
 * by reading again and reapplying the change, never by overwriting. A document that cannot be
 * parsed is never written over: `parse` throws before any write.
 */
export class ConditionalDocument<D> {
  readonly #store: ObjectStore;
  readonly #key: string;
  readonly #o: ConditionalDocumentOptions<D>;

  constructor(store: ObjectStore, key: string, options: ConditionalDocumentOptions<D>) {
    this.#store = store;
    this.#key = key;
    this.#o = options;
  }

  async load(signal?: AbortSignal): Promise<DocumentSnapshot<D>> {
    const object = await this.#store.get(this.#key, signal);
    if (object === undefined) return { document: this.#o.empty(), etag: undefined };
    return { document: this.#o.parse(object.body.toString('utf8')), etag: object.etag };
  }

  /** Read, change, write conditionally; on a lost race read again and reapply. `change` returns undefined for "nothing to write". */
  async update(change: (document: D) => D | undefined, signal?: AbortSignal): Promise<void> {
    const retries = this.#o.maxConflictRetries ?? 20;
    for (let attempt = 0; ; attempt++) {
      const { document, etag } = await this.load(signal);
      const next = change(document);
      if (next === undefined) return;
      try {
        await this.#store.put(this.#key, `${JSON.stringify(next, null, 1)}\n`, {
          ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
          contentType: 'application/json',
          ...(signal ? { signal } : {}),
        });
        return;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError) || attempt >= retries) throw error;
      }
    }
  }
}
