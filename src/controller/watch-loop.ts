import { setTimeout as sleep } from 'node:timers/promises';
import { MarkerCorruptError } from '../errors.js';
import type { PassSignals, Reconciler } from './reconciler.js';

export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

export interface WatchOptions extends Required<Pick<PassSignals, 'stopStarting'>>, Pick<PassSignals, 'stopJobs'> {
  readonly intervalMs: number;
  /** Injected so tests need not wait. @default node:timers/promises setTimeout */
  readonly delay?: Delay;
}

const defaultDelay: Delay = (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined);

/**
 * Runs a pass, waits the poll interval, and again, until `stopStarting` is aborted. A failed pass
 * is reported (by the reconciler's events) and the next one tries again, except a corrupt marker,
 * which stops the watcher: it must not be overwritten and a person has to look at it.
 */
export async function watch(reconciler: Reconciler, options: WatchOptions): Promise<void> {
  const delay = options.delay ?? defaultDelay;
  while (!options.stopStarting.aborted) {
    try {
      await reconciler.runPass(options);
    } catch (error) {
      if (error instanceof MarkerCorruptError) throw error;
      if (options.stopStarting.aborted) break;
    }
    if (options.stopStarting.aborted) break;
    await delay(options.intervalMs, options.stopStarting);
  }
}
