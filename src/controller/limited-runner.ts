export interface LimitedRunOptions<T> {
  /** At most this many at once. */
  readonly maxConcurrent: number;
  /** Items of one group never run at the same time (jobs of one dataset share curated/<dataset>/). */
  readonly groupOf: (item: T) => string;
  /** Runs one item; must not reject (it records its own failure). */
  readonly run: (item: T) => Promise<void>;
  /** Once aborted, nothing new starts; what runs is awaited. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs items in the given order under a concurrency limit and a one-per-group rule: the next
 * item to start is the first one whose group is free. Resolves, once nothing is running, with
 * the items that never started (non-empty only after an abort).
 */
export async function runLimited<T>(items: readonly T[], options: LimitedRunOptions<T>): Promise<T[]> {
  if (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1) {
    throw new RangeError(`maxConcurrent must be a positive integer, got ${options.maxConcurrent}`);
  }
  const queue = [...items];
  const busyGroups = new Set<string>();
  const running = new Set<Promise<void>>();
  for (;;) {
    if (!options.signal?.aborted) {
      for (let i = 0; i < queue.length && running.size < options.maxConcurrent;) {
        const item = queue[i] as T;
        const group = options.groupOf(item);
        if (busyGroups.has(group)) {
          i++;
          continue;
        }
        queue.splice(i, 1);
        busyGroups.add(group);
        const task: Promise<void> = options.run(item).finally(() => {
          busyGroups.delete(group);
          running.delete(task);
        });
        running.add(task);
      }
    }
    if (running.size === 0) return queue;
    await Promise.race(running);
  }
}
