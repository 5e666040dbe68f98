import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. Injected so tests never wait. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal ? { signal } : {});
};

const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServerException',
  'ServiceUnavailableException',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Throttling, a 5xx or a dropped connection: worth the same call again a little later. */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string };
  if (RETRYABLE_NAMES.has(e.name) || e.$retryable !== undefined) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  return e.code !== undefined && RETRYABLE_CODES.has(e.code);
}

export interface RetryOptions {
  readonly sleep: Sleep;
  readonly signal?: AbortSignal | undefined;
  /** Calls in all. @default 6 */
  readonly attempts?: number;
  /** First pause; doubles each time, at most maxDelayMs. @default 500 */
  readonly baseDelayMs?: number;
  /** @default 20000 */
  readonly maxDelayMs?: number;
}

/**
 * Calls `fn` until it succeeds, retrying transient AWS errors (throttling, 5xx, connection drops)
 * with exponential backoff; any other error, or the last transient one, is thrown as it is.
 * The caller keeps the request identical across calls (StartJobRun keeps its clientToken).
 */
export async function withAwsRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isTransientAwsError(error) || options.signal?.aborted) throw error;
      const pause = Math.min(options.maxDelayMs ?? 20_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
      await options.sleep(pause, options.signal);
    }
  }
}
