import type { PruneResult } from '../state/run-retention.js';
import type { Reconciler } from './reconciler.js';
import { TypedEmitter } from './typed-emitter.js';

export interface RunHistoryUpkeepEvents {
  /** A prune ended; the counts are runs whose reports, manifests and local logs went. */
  'history:pruned': PruneResult & { readonly durationMs: number };
  /** A prune failed; the history is left as it is and the next one tries again. */
  'history:prune-failed': { readonly error: unknown };
}

export interface RunHistoryUpkeepOptions {
  /** At most one prune this often. @default one hour */
  readonly everyMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Prunes the run history (`RunHistoryPruner`) after a pass, at most once per `everyMs`, one prune
 * at a time. A failed prune is reported and never fails the pass.
 */
export class RunHistoryUpkeep {
  readonly events = new TypedEmitter<RunHistoryUpkeepEvents>();
  readonly #prune: (signal?: AbortSignal) => Promise<PruneResult>;
  readonly #everyMs: number;
  readonly #now: () => number;
  #lastAt = -Infinity;
  #running: Promise<void> | undefined;

  constructor(pruner: { prune(signal?: AbortSignal): Promise<PruneResult> }, options: RunHistoryUpkeepOptions = {}) {
    this.#prune = (signal) => pruner.prune(signal);
    this.#everyMs = options.everyMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  /** Prunes after each pass of `reconciler` that finishes (when one is due). */
  follow(reconciler: Reconciler, signal?: AbortSignal): void {
    reconciler.events.on('pass:finished', () => void this.maybePrune(signal));
  }

  /** Prunes unless one ran within `everyMs` or is running; resolves when that prune is over. */
  maybePrune(signal?: AbortSignal): Promise<void> {
    if (this.#running !== undefined) return this.#running;
    if (this.#now() - this.#lastAt < this.#everyMs) return Promise.resolve();
    this.#lastAt = this.#now();
    const started = this.#now();
    this.#running = this.#prune(signal)
      .then((result) => this.events.emit('history:pruned', { ...result, durationMs: this.#now() - started }))
      .catch((error: unknown) => this.events.emit('history:prune-failed', { error }))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Resolves once no prune is running. */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }
}
