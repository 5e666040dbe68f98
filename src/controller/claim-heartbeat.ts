import { describeError } from '../errors.js';
import { ClaimLostError, type ClaimStore, type HeldClaim } from '../state/claims.js';
import type { Sleep } from './retrying-run.js';

export interface ClaimHeartbeat {
  /** Aborted (with the ClaimLostError) when another controller took the claim over: stop the job. */
  readonly lost: AbortSignal;
  /** Stops renewing; resolves with the claim as last renewed, to release it. */
  stop(): Promise<HeldClaim>;
}

export interface ClaimHeartbeatOptions {
  /** Between renewals (a third of the TTL, so two can fail before the claim expires). */
  readonly everyMs: number;
  /** The wait between renewals; injected so tests drive the clock. Rejects once its signal aborts. */
  readonly sleep: Sleep;
  /**
   * A renewal failed for another reason (the network): the next beat tries again, unless the claim
   * would expire before it; then `lost` aborts, so the job stops while the claim is still held.
   */
  readonly onRenewFailed?: (error: unknown) => void;
}

/** Renews a held claim every `everyMs` until stopped, so a live controller keeps it however long its job runs. */
export function keepClaim(claims: ClaimStore, claim: HeldClaim, options: ClaimHeartbeatOptions): ClaimHeartbeat {
  const stopping = new AbortController();
  const lost = new AbortController();
  let current = claim;
  const loop = (async () => {
    for (;;) {
      try {
        await options.sleep(options.everyMs, stopping.signal);
      } catch {
        return; // stopped during the wait
      }
      if (stopping.signal.aborted) return;
      try {
        current = await claims.renew(current);
      } catch (error) {
        if (error instanceof ClaimLostError) {
          lost.abort(error);
          return;
        }
        options.onRenewFailed?.(error);
        const left = claims.expiresIn(current);
        if (left <= options.everyMs) {
          // The next try would come after the lease ends, when another controller may take it:
          // stop the job while the claim is still ours (fencing by time, with a beat to spare).
          const { key } = current.document;
          lost.abort(
            new ClaimLostError(
              `the claim ${current.objectKey} on ${key} could not be renewed (${describeError(error)}) and expires in ${Math.max(0, Math.round(left / 1000))} s, before the next try`,
              { cause: error },
            ),
          );
          return;
        }
      }
    }
  })();
  let stopped: Promise<HeldClaim> | undefined;
  return {
    lost: lost.signal,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        // A renewal in flight finishes first, so the release is conditional on the latest ETag.
        await loop;
        return current;
      })()),
  };
}
