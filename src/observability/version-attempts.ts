/**
 * Counts submissions of each file version in this process, so a job's log line and metrics can say
 * which attempt it is. Forgotten once the version succeeds. (Issue 7's retries with backoff may
 * carry the attempt on the events themselves; then this becomes their fallback.)
 */
export class VersionAttempts {
  readonly #counts = new Map<string, number>();

  /** Called when a job starts: its attempt number, 1 for the first. */
  started(v: { key: string; etag: string }): number {
    const n = (this.#counts.get(id(v)) ?? 0) + 1;
    this.#counts.set(id(v), n);
    return n;
  }

  /** The attempt number of the running or last job of the version (1 when unknown). */
  current(v: { key: string; etag: string }): number {
    return this.#counts.get(id(v)) ?? 1;
  }

  succeeded(v: { key: string; etag: string }): void {
    this.#counts.delete(id(v));
  }
}

const id = (v: { key: string; etag: string }): string => `${v.key}\u0000${v.etag}`;
