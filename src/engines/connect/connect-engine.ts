import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TypedEmitter } from '../../controller/typed-emitter.js';
import { describeError } from '../../errors.js';
import type { JobRequest, SparkEngine } from '../engine.js';
import { PermanentJobError, RetryableJobError } from '../job-errors.js';
import { manifestUri } from '../job-arguments.js';
import { type JobReport, parseJobReport } from '../run-report.js';
import {
  ConnectUnavailableError,
  ConnectWorker,
  type ConnectWorkerOptions,
  WorkerDiedError,
  type WorkerJob,
  type WorkerReply,
} from './connect-worker.js';

export interface ConnectEngineOptions {
  readonly remoteUrl: string;
  readonly python: string;
  readonly workerPath: string;
  /** The lake root as the Connect server sees it: `file:///abs/lake` or `s3a://bucket/prefix`. */
  readonly lakeUri: string;
  /** Worker processes, one Connect session each; at most this many jobs run at once. */
  readonly workers: number;
  readonly timeoutMs: number;
  readonly logDir: string;
  readonly env: Readonly<Record<string, string>>;
  /** How a worker is made (tests inject their own spawn). */
  readonly newWorker?: (options: ConnectWorkerOptions) => ConnectWorker;
}

export interface ConnectEngineEvents {
  /** The job went to a worker, which now runs it. */
  'job:sent': { readonly slot: number; readonly runId: string; readonly workerPid: number | undefined };
  /** A worker died mid-job and was replaced; the job runs again on the replacement. */
  'worker:restarted': { readonly slot: number; readonly runId: string; readonly reason: string };
}

interface Slot {
  readonly index: number;
  /** Kept across replacements: a new worker cleans up what its predecessor left in the session. */
  readonly sessionId: string;
  worker: ConnectWorker | undefined;
  busy: boolean;
}

/**
 * The Spark Connect engine: long-lived `spark-jobs/worker.py` processes, each holding its own
 * session on one warm Connect server, so a file costs neither a Python nor a JVM start. Each
 * session has its own settings, so jobs of different datasets run side by side without sharing
 * mutable session state. A worker that dies mid-job is replaced and the job runs once more on
 * the replacement; a lost server rejects with a RetryableJobError caused by ConnectUnavailableError
 * (the auto engine then runs the job with spark-submit).
 */
export class ConnectEngine implements SparkEngine {
  readonly name = 'connect' as const;
  readonly events = new TypedEmitter<ConnectEngineEvents>();
  readonly #o: ConnectEngineOptions;
  readonly #slots: Slot[];
  readonly #waiting: Array<() => void> = [];
  #closed = false;

  constructor(options: ConnectEngineOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`);
    if (!(options.workers >= 1)) throw new RangeError(`workers must be at least 1, got ${options.workers}`);
    this.#o = options;
    this.#slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      sessionId: randomUUID(),
      worker: undefined,
      busy: false,
    }));
  }

  /** Process ids of the live workers (for status and tests). */
  get workerPids(): number[] {
    return this.#slots.flatMap((s) => (s.worker?.alive && s.worker.pid !== undefined ? [s.worker.pid] : []));
  }

  async submit(job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    signal?.throwIfAborted();
    const slot = await this.#acquire(signal);
    try {
      return await this.#run(slot, job, signal);
    } finally {
      slot.busy = false;
      this.#waiting.shift()?.();
    }
  }

  async #run(slot: Slot, job: JobRequest, signal?: AbortSignal): Promise<JobReport> {
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    const stop = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const details = { runId: job.runId, logPath: this.#logFile(slot) };
    for (let attempt = 1; ; attempt++) {
      let reply: WorkerReply;
      try {
        const worker = await this.#workerFor(slot, stop);
        const replied = worker.run(job.runId, this.#workerJob(job), stop);
        this.events.emit('job:sent', { slot: slot.index, runId: job.runId, workerPid: worker.pid });
        reply = await replied;
      } catch (error) {
        if (stop.aborted) {
          // Whatever the session still runs on the server is interrupted by the replacement.
          await this.#replace(slot);
          const why = signal?.aborted ? describeError(signal.reason) : `timed out after ${Math.round(this.#o.timeoutMs / 1000)} s`;
          throw new RetryableJobError(`stopped before it finished (${why})`, details, { cause: signal?.reason ?? error });
        }
        if (error instanceof WorkerDiedError && attempt === 1) {
          this.events.emit('worker:restarted', { slot: slot.index, runId: job.runId, reason: error.message });
          slot.worker = undefined;
          continue;
        }
        throw new RetryableJobError(describeError(error), details, { cause: error });
      }
      if (reply.connectionLost) {
        // The server stopped answering mid-job, yet it may still run the job (a reset connection,
        // a server that comes back): a worker on the same session interrupts it before the job
        // runs anywhere else. A server that is gone fails that start at once, with nothing to stop.
        await this.#replace(slot);
      }
      return this.#outcome(reply, details);
    }
  }

  #outcome(reply: WorkerReply, details: { runId: string; logPath: string }): JobReport {
    const withCode = { ...details, exitCode: reply.exitCode };
    if (reply.exitCode === 0) {
      const report = parseJobReport(JSON.stringify(reply.report ?? null), `of run ${details.runId}`);
      if (report.status !== 'succeeded') throw new RetryableJobError(`the job succeeded but its report says ${report.status}`, withCode);
      return report;
    }
    const message = reply.message ?? `the job failed (${reply.errorType ?? 'no reason given'})`;
    if (reply.connectionLost) {
      throw new RetryableJobError(message, withCode, {
        cause: new ConnectUnavailableError(`lost the Spark Connect server ${this.#o.remoteUrl}`),
      });
    }
    if (reply.exitCode === 2) throw new PermanentJobError(message, withCode);
    throw new RetryableJobError(message, withCode);
  }

  /** The request's job (serve.py): the contract's arguments as fields, the manifest's URI for a batch. */
  #workerJob(job: JobRequest): WorkerJob {
    return {
      lake: this.#o.lakeUri,
      ...(job.batch !== undefined ? { manifest: manifestUri(this.#o.lakeUri, job.batch.manifestKey) } : { key: job.key, etag: job.etag }),
      runId: job.runId,
      ...(job.spec !== undefined ? { spec: JSON.stringify(job.spec) } : {}),
    };
  }

  #logFile(slot: Slot): string {
    return path.join(this.#o.logDir, `connect-worker-${slot.index}.log`);
  }

  async #workerFor(slot: Slot, signal: AbortSignal): Promise<ConnectWorker> {
    if (slot.worker?.alive) return slot.worker;
    const worker = (this.#o.newWorker ?? ((o) => new ConnectWorker(o)))({
      python: this.#o.python,
      workerPath: this.#o.workerPath,
      remoteUrl: this.#o.remoteUrl,
      sessionId: slot.sessionId,
      env: this.#o.env,
      logFile: this.#logFile(slot),
    });
    slot.worker = worker;
    try {
      await worker.start(signal);
    } catch (error) {
      slot.worker = undefined;
      await worker.kill();
      throw error;
    }
    return worker;
  }

  /** Kills the slot's worker and starts a fresh one on the same session, which interrupts leftovers. */
  async #replace(slot: Slot): Promise<void> {
    await slot.worker?.kill();
    slot.worker = undefined;
    if (this.#closed) return;
    await this.#workerFor(slot, AbortSignal.timeout(60_000)).catch(() => undefined); // server gone: nothing left to interrupt
  }

  #acquire(signal?: AbortSignal): Promise<Slot> {
    for (;;) {
      const free = this.#slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return Promise.resolve(free);
      }
      return new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.#waiting.splice(this.#waiting.indexOf(wake), 1); // so a release wakes a live waiter
          reject(signal?.reason as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(wake);
      }).then(() => this.#acquire(signal));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map(async (s) => (s.busy ? s.worker?.kill() : s.worker?.stop())));
  }
}

/** True when the error says the Connect server could not be reached. */
export function isConnectUnavailable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof ConnectUnavailableError) return true;
  return false;
}
