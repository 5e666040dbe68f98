/**
 * The one seam between the controller and where the lake lives. Semantics follow S3 so the
 * local-folder store and the S3 store are interchangeable: keys are `/`-separated strings,
 * listings come in UTF-8 byte order page by page, an ETag is a quoted content hash, and a put
 * may be conditional (If-Match / If-None-Match) and then fails with PreconditionFailedError.
 */

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  /** Quoted, as S3 returns it: `"d41d8cd98f00b204e9800998ecf8427e"`. */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ListPage {
  readonly objects: readonly ObjectInfo[];
  /** Pass back to get the next page; absent on the last page. */
  readonly nextToken?: string;
}

export interface ListOptions {
  readonly continuationToken?: string;
  /** Only keys after this one (S3's StartAfter). */
  readonly startAfter?: string;
  /** At most this many objects per page. @default 1000 */
  readonly pageSize?: number;
  /**
   * Only objects whose key it accepts; called once for each key the listing passes. The local
   * store stats and hashes no other file; S3 lists them and drops them (a page may then be short,
   * even empty, with a next token). @default every key
   */
  readonly only?: (key: string) => boolean;
  readonly signal?: AbortSignal;
}

export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
}

export interface PutOptions {
  /** Write only if the current object has this ETag. */
  readonly ifMatch?: string;
  /** `*`: write only if no object exists under the key. */
  readonly ifNoneMatch?: '*';
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface ObjectStore {
  /** Human-readable location, for logs (`file:///abs/lake`, `s3://bucket/prefix`). */
  readonly description: string;
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** undefined when there is no object under the key. */
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** undefined when there is no object under the key. */
  get(key: string, signal?: AbortSignal): Promise<StoredObject | undefined>;
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }>;
  /** Deleting a missing key is not an error (as in S3). */
  delete(key: string, signal?: AbortSignal): Promise<void>;
}

/** Every object under a prefix, page by page, so a million keys never sit in memory at once. */
export async function* listAll(
  store: ObjectStore,
  prefix: string,
  options: Omit<ListOptions, 'continuationToken'> = {},
): AsyncGenerator<ObjectInfo> {
  let token: string | undefined;
  do {
    options.signal?.throwIfAborted();
    const page = await store.listPage(prefix, {
      ...options,
      ...(token === undefined ? {} : { continuationToken: token }),
    });
    yield* page.objects;
    token = page.nextToken;
  } while (token !== undefined);
}
