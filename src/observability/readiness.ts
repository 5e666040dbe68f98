/** What `/readyz` answers. */
export interface ReadinessState {
  readonly ready: boolean;
  readonly reason: string;
}

export interface ReadinessOptions {
  /** The time between full passes; ready while the last successful pass is younger than 3 of them. */
  readonly passIntervalMs: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Ready while a pass whose listing succeeded is still running its jobs (a long pass is progress,
 * and JOB_TIMEOUT_SECONDS bounds it); else unready when the last pass failed, whatever the SQS
 * consumer does (a consumer that polls while every pass fails is no progress); else ready while
 * the SQS consumer is polling, or when the last pass succeeded within 3 × the pass interval. The
 * next good pass makes it ready again. Fed by the controller's events (see metric-events.ts).
 */
export class Readiness {
  readonly #windowMs: number;
  readonly #now: () => number;
  #lastSuccessAt: number | undefined;
  #lastFailure: string | undefined;
  #passListed = false;
  #consumer: 'unknown' | 'polling' | 'failing' = 'unknown';

  constructor(options: ReadinessOptions) {
    this.#windowMs = 3 * options.passIntervalMs;
    this.#now = options.now ?? Date.now;
  }

  passListed(): void {
    this.#passListed = true;
  }

  passSucceeded(): void {
    this.#passListed = false;
    this.#lastSuccessAt = this.#now();
    this.#lastFailure = undefined;
  }

  passFailed(problem: string): void {
    this.#passListed = false;
    this.#lastFailure = problem;
  }

  consumerPolling(): void {
    this.#consumer = 'polling';
  }

  consumerFailed(): void {
    this.#consumer = 'failing';
  }

  check(): ReadinessState {
    if (this.#passListed) return { ready: true, reason: 'a pass is running its jobs' };
    if (this.#lastFailure !== undefined) return { ready: false, reason: `the last pass failed: ${this.#lastFailure}` };
    if (this.#consumer === 'polling') return { ready: true, reason: 'the SQS consumer is polling' };
    if (this.#lastSuccessAt === undefined) return { ready: false, reason: 'no pass has finished yet' };
    const age = this.#now() - this.#lastSuccessAt;
    if (age > this.#windowMs) {
      return { ready: false, reason: `the last successful pass was ${Math.round(age / 1000)} s ago (more than 3 intervals)` };
    }
    return { ready: true, reason: `the last pass succeeded ${Math.round(age / 1000)} s ago` };
  }
}
