export interface ShutdownSignals {
  /** Aborted on the first SIGINT/SIGTERM: start nothing new. */
  readonly stopStarting: AbortSignal;
  /** Aborted after the grace period, or on a second signal: stop running jobs. */
  readonly stopJobs: AbortSignal;
  dispose(): void;
}

/**
 * First SIGINT/SIGTERM: stop discovering and starting jobs, let running ones finish for
 * `graceMs`; then, or on a second signal, stop them. Their versions stay unrecorded.
 */
export function handleShutdownSignals(graceMs: number, onSignal: (message: string) => void): ShutdownSignals {
  const starting = new AbortController();
  const jobs = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (!starting.signal.aborted) {
      onSignal(`${signal}: finishing running jobs (up to ${Math.round(graceMs / 1000)} s; ${signal} again to stop them now)`);
      starting.abort(new Error(`received ${signal}`));
      graceTimer = setTimeout(() => jobs.abort(new Error('shutdown grace period over')), graceMs);
      graceTimer.unref();
    } else if (!jobs.signal.aborted) {
      onSignal(`${signal} again: stopping running jobs`);
      jobs.abort(new Error(`received ${signal} twice`));
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stopStarting: starting.signal,
    stopJobs: jobs.signal,
    dispose: () => {
      clearTimeout(graceTimer);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
