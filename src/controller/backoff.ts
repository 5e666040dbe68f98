/** How often, and how patiently, a retryable failure is tried again. */
export interface RetryPolicy {
  /** Attempts per file version in all, the first included (counted across restarts). */
  readonly maxAttempts: number;
  /** The wait after the first failed attempt is from this to twice this... */
  readonly baseDelayMs: number;
  /** ...doubling after each further failure, never more than this. */
  readonly maxDelayMs: number;
}

/** MAX_ATTEMPTS=3, RETRY_BASE_SECONDS=10, RETRY_MAX_SECONDS=300. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 300_000 };

/**
 * The wait before the attempt after failed attempt `attempt` (1, 2, ...): exponential with jitter,
 * `base * 2^(attempt-1) * (1 + random)`, capped at `maxDelayMs` (the formula of p-retry's
 * `randomize`). The ranges of successive attempts do not overlap, so waits grow until the cap, and
 * two controllers that failed together do not retry in step. `random` is in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(policy.maxDelayMs, Math.round(exponential * (1 + random())));
}
