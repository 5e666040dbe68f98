import { PreconditionFailedError, WatcherError } from '../errors.js';
import { assertSafeKey } from '../storage/keys.js';
import type { ObjectStore } from '../storage/object-store.js';
import { defaultOwner, goneFromThisHost } from './claim-owner.js';

/** One lease per dataset under this prefix: `metadata/claims/<encoded dataset>.json`. */
export const CLAIMS_PREFIX = 'metadata/claims/';
export const CLAIM_FORMAT_VERSION = 1;

/** The version a claim is taken for. */
export interface ClaimedVersion {
  readonly dataset: string;
  readonly key: string;
  readonly etag: string;
}

/** The stored lease. `releasedAt` set: free for anyone, like an expired one. */
export interface ClaimDocument extends ClaimedVersion {
  readonly version: typeof CLAIM_FORMAT_VERSION;
  /** `host/pid/random/scope` (`defaultOwner`): which controller holds it. */
  readonly owner: string;
  readonly claimedAt: string;
  readonly expiresAt: string;
  readonly releasedAt?: string;
}

/** A lease this controller holds: `etag` is what the next renewal or release is conditional on. */
export interface HeldClaim {
  readonly objectKey: string;
  readonly etag: string;
  readonly document: ClaimDocument;
}

export type ClaimResult =
  | { readonly acquired: true; readonly claim: HeldClaim }
  /** Another live controller holds the dataset: leave its versions for now. */
  | { readonly acquired: false; readonly heldBy: ClaimDocument };

/** A claim document that cannot be understood. It is not overwritten: the message says what to do. */
export class ClaimCorruptError extends WatcherError {}

/** Renewing found the claim taken over (it expired and another controller took it): stop the job. */
export class ClaimLostError extends WatcherError {}

export interface ClaimStoreOptions {
  /** How long a claim lives without renewal; a controller that dies is taken over after this. */
  readonly ttlMs: number;
  /** @default `host/pid/random/scope` (`defaultOwner`) */
  readonly owner?: string;
  readonly now?: () => Date;
  /**
   * Is the controller that holds a claim known to be gone? Its claim is then taken over at once
   * instead of after its TTL. @default gone when it ran in this process table and its pid no longer runs
   */
  readonly ownerGone?: (owner: string) => boolean;
}

/**
 * Leases that let several controllers (replicas) share one lake: before running a version, a
 * controller claims the version's dataset with a conditional write (If-None-Match `*` for a new
 * claim, If-Match for one that expired or was released), renews it while the job runs, and
 * releases it once the version is recorded. The claim is per dataset, not per version, because the
 * jobs of one dataset merge into the same `curated/<dataset>/` and must never run at the same time,
 * on one controller or across several. It names the version being run, for people reading it.
 */
export class ClaimStore {
  readonly ttlMs: number;
  readonly owner: string;
  readonly #store: ObjectStore;
  readonly #now: () => Date;
  readonly #ownerGone: (owner: string) => boolean;

  constructor(store: ObjectStore, options: ClaimStoreOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${options.ttlMs}`);
    this.#store = store;
    this.ttlMs = options.ttlMs;
    this.owner = options.owner ?? defaultOwner();
    this.#now = options.now ?? (() => new Date());
    this.#ownerGone = options.ownerGone ?? ((owner) => goneFromThisHost(owner, this.owner));
  }

  /** The claim's object key; the dataset is percent-encoded into one segment, so it cannot leave `metadata/claims/`. */
  static keyFor(dataset: string): string {
    return assertSafeKey(`${CLAIMS_PREFIX}${encodeURIComponent(dataset).replace(/\./gu, '%2E')}.json`);
  }

  /** Takes the dataset's claim for `version`, unless another controller holds it and it has not expired. */
  async acquire(version: ClaimedVersion, signal?: AbortSignal): Promise<ClaimResult> {
    const objectKey = ClaimStore.keyFor(version.dataset);
    const current = await this.#store.get(objectKey, signal);
    const document = current === undefined ? undefined : parseClaim(objectKey, current.body.toString('utf8'));
    if (document !== undefined && current !== undefined && this.#isLive(document) && document.owner !== this.owner) {
      return { acquired: false, heldBy: document };
    }
    const now = this.#now();
    const next: ClaimDocument = {
      version: CLAIM_FORMAT_VERSION,
      ...pick(version),
      owner: this.owner,
      claimedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.ttlMs).toISOString(),
    };
    try {
      const { etag } = await this.#write(objectKey, next, current === undefined ? { ifNoneMatch: '*' } : { ifMatch: current.etag }, signal);
      return { acquired: true, claim: { objectKey, etag, document: next } };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      // Another controller got in between the read and the write: it holds the claim now.
      const winner = await this.#store.get(objectKey, signal);
      if (winner === undefined) throw error;
      return { acquired: false, heldBy: parseClaim(objectKey, winner.body.toString('utf8')) };
    }
  }

  /** Pushes the expiry a TTL ahead; ClaimLostError when another controller took the claim over. */
  async renew(claim: HeldClaim, signal?: AbortSignal): Promise<HeldClaim> {
    const document: ClaimDocument = { ...claim.document, expiresAt: new Date(this.#now().getTime() + this.ttlMs).toISOString() };
    try {
      const { etag } = await this.#write(claim.objectKey, document, { ifMatch: claim.etag }, signal);
      return { objectKey: claim.objectKey, etag, document };
    } catch (error) {
      if (error instanceof PreconditionFailedError) {
        throw new ClaimLostError(`the claim ${claim.objectKey} on ${claim.document.key} was taken over by another controller`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** How long until `claim` expires, by this store's clock (which wrote its `expiresAt`); negative once it has. */
  expiresIn(claim: HeldClaim): number {
    return Date.parse(claim.document.expiresAt) - this.#now().getTime();
  }

  /**
   * Marks the claim released (a conditional write, not a delete, so a claim another controller
   * took over meanwhile is never removed). A lost claim is not an error: there is nothing to give back.
   */
  async release(claim: HeldClaim, signal?: AbortSignal): Promise<void> {
    const now = this.#now().toISOString();
    try {
      await this.#write(claim.objectKey, { ...claim.document, expiresAt: now, releasedAt: now }, { ifMatch: claim.etag }, signal);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }

  /** The claim of a dataset as stored; undefined when there is none. */
  async read(dataset: string, signal?: AbortSignal): Promise<ClaimDocument | undefined> {
    const objectKey = ClaimStore.keyFor(dataset);
    const current = await this.#store.get(objectKey, signal);
    return current === undefined ? undefined : parseClaim(objectKey, current.body.toString('utf8'));
  }

  /** Held by someone: not released, not expired, and its controller not known to be gone (a restart on this host need not wait a TTL). */
  #isLive(document: ClaimDocument): boolean {
    return document.releasedAt === undefined && Date.parse(document.expiresAt) > this.#now().getTime() && !this.#ownerGone(document.owner);
  }

  #write(
    objectKey: string,
    document: ClaimDocument,
    condition: { ifMatch: string } | { ifNoneMatch: '*' },
    signal: AbortSignal | undefined,
  ): Promise<{ etag: string }> {
    return this.#store.put(objectKey, `${JSON.stringify(document, null, 1)}\n`, {
      ...condition,
      contentType: 'application/json',
      ...(signal ? { signal } : {}),
    });
  }
}

function pick({ dataset, key, etag }: ClaimedVersion): ClaimedVersion {
  return { dataset, key, etag };
}

function parseClaim(objectKey: string, text: string): ClaimDocument {
  const fail = (problem: string): never => {
    throw new ClaimCorruptError(
      `the claim ${objectKey} cannot be read (${problem}); no controller runs its dataset while it is there. ` +
        'If no controller is running that dataset, delete the file.',
    );
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (typeof value !== 'object' || value === null) return fail('not a JSON object');
  const d = value as Record<string, unknown>;
  if (d['version'] !== CLAIM_FORMAT_VERSION) return fail(`unknown version ${JSON.stringify(d['version'])}`);
  for (const field of ['dataset', 'key', 'etag', 'owner', 'claimedAt', 'expiresAt'] as const) {
    if (typeof d[field] !== 'string') return fail(`"${field}" is not a string`);
  }
  if (Number.isNaN(Date.parse(d['expiresAt'] as string))) return fail('"expiresAt" is not a time');
  if (d['releasedAt'] !== undefined && typeof d['releasedAt'] !== 'string') return fail('"releasedAt" is not a string');
  return value as ClaimDocument;
}
