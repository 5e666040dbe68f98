import { TypedEmitter } from '../controller/typed-emitter.js';
import { isConnectUnavailable } from './connect/connect-engine.js';
import type { JobRequest, SparkEngine } from './engine.js';
import type { JobReport } from './run-report.js';

export type ActiveEngine = 'connect' | 'local';

export interface AutoEngineEvents {
  /** Jobs now go to another engine; emitted once per switch, not per job. */
  'engine:switched': { readonly from: ActiveEngine | undefined; readonly to: ActiveEngine; readonly reason: string };
}

export interface AutoEngineOptions {
  readonly connect: SparkEngine;
  readonly local: SparkEngine;
  /** Does the Connect server answer now? Asked before each job (a loopback TCP connect). */
  readonly connectAnswers: (signal?: AbortSignal) => Promise<boolean>;
}

/**
 * ENGINE=auto: each job runs over Spark Connect while its server answers, else with a cold
 * spark-submit; when the server comes back, work moves back to it. A job whose Connect server
 * went away mid-run runs again at once with spark-submit.
 */
export class AutoEngine implements SparkEngine {
  readonly name = 'auto' as const;
  readonly events = new TypedEmitter<AutoEngineEvents>();
  readonly #o: AutoEngineOptions;
  #active: ActiveEngine | undefined;

  constructor(options: AutoEngineOptions) {
    this.#o = options;
  }

  get connectEngine(): SparkEngine {
    return this.#o.connect;
  }

  get localEngine(): SparkEngine {
    return this.#o.local;
  }

  async submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    if (!(await this.#o.connectAnswers(signal))) {
      this.#switch('local', 'the Spark Connect server does not answer');
      return { ...(await this.#o.local.submit(job, signal)), engine: 'local' };
    }
    this.#switch('connect', 'the Spark Connect server answers');
    try {
      return { ...(await this.#o.connect.submit(job, signal)), engine: 'connect' };
    } catch (error) {
      if (signal?.aborted || !isConnectUnavailable(error)) throw error;
      this.#switch('local', 'the Spark Connect server went away during a job; running it again with spark-submit');
      return { ...(await this.#o.local.submit(job, signal)), engine: 'local' };
    }
  }

  #switch(to: ActiveEngine, reason: string): void {
    if (this.#active === to) return;
    const from = this.#active;
    this.#active = to;
    this.events.emit('engine:switched', { from, to, reason });
  }

  async close(): Promise<void> {
    await Promise.all([this.#o.connect.close(), this.#o.local.close()]);
  }
}
