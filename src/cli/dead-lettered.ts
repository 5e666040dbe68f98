/** A file version that failed for good and waits in the dead letters (issue 7). */
export interface DeadLetteredVersion {
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly reason: string;
}

/** Where `status` learns the dead-lettered versions; the dead-letter store plugs in here. */
export type DeadLetterView = (signal?: AbortSignal) => Promise<readonly DeadLetteredVersion[]>;

/** Until dead letters exist (issue 7): none. */
export const noDeadLetters: DeadLetterView = async () => [];
