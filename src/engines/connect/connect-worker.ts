import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { RetryableError } from '../../errors.js';
import { rotateLogIfLarger } from '../log-rotation.js';
import { signalProcessGroup } from '../process-tree.js';

/** What the worker needs to run one job (the job contract's arguments, DESIGN.md). */
/** The job of one request: one version (`key`, `etag`) or a batch (`manifest`, a URI). */
export type WorkerJob = {
  readonly lake: string;
  readonly runId: string;
  readonly spec?: string;
} & ({ readonly key: string; readonly etag: string } | { readonly manifest: string });

/** One reply line of spark-jobs/worker.py (see watcher_job/serve.py). */
export interface WorkerReply {
  readonly type: 'result';
  readonly id: string | null;
  readonly exitCode: number;
  readonly kind?: 'permanent' | 'retryable';
  readonly errorType?: string;
  readonly message?: string;
  readonly connectionLost?: boolean;
  readonly report?: unknown;
}

/** The Spark Connect server cannot be reached (at start, or it went away mid-job). */
export class ConnectUnavailableError extends RetryableError {}

/** The worker process ended (crash, kill) before it answered. */
export class WorkerDiedError extends RetryableError {}

export type WorkerSpawnFn = (file: string, args: readonly string[], options: { env: Record<string, string>; cwd: string }) => ChildProcess;

const defaultSpawn: WorkerSpawnFn = (file, args, options) =>
  // An argument array, no shell; its own process group so a kill takes its children too.
  nodeSpawn(file, [...args], { env: options.env, cwd: options.cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });

export interface ConnectWorkerOptions {
  readonly python: string;
  readonly workerPath: string;
  readonly remoteUrl: string;
  /** The Spark Connect session this worker holds; a replacement reuses it to clean up after a dead one. */
  readonly sessionId: string;
  readonly env: Readonly<Record<string, string>>;
  /** The worker's stderr (Spark client logs, tracebacks) is appended here; rotated to `<logFile>.1` at start when larger than `rotateLogAtBytes`. */
  readonly logFile: string;
  /** @default ROTATE_LOG_AT_BYTES (64 MiB) */
  readonly rotateLogAtBytes?: number;
  readonly spawn?: WorkerSpawnFn;
}

type Pending = { resolve: (line: unknown) => void; reject: (error: Error) => void };

/**
 * One long-lived `spark-jobs/worker.py` process holding one Spark Connect session: JSON lines
 * over stdin/stdout, one request at a time.
 */
export class ConnectWorker {
  readonly #o: ConnectWorkerOptions;
  #child: ChildProcess | undefined;
  #pending: Pending | undefined;
  #exited: Promise<void> | undefined;
  #exit: string | undefined;

  constructor(options: ConnectWorkerOptions) {
    this.#o = options;
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#exit === undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process and resolves once its session answers. */
  async start(signal?: AbortSignal): Promise<void> {
    await mkdir(path.dirname(this.#o.logFile), { recursive: true });
    await rotateLogIfLarger(this.#o.logFile, this.#o.rotateLogAtBytes);
    const log = await open(this.#o.logFile, 'a', 0o600);
    const child = (this.#o.spawn ?? defaultSpawn)(
      this.#o.python,
      [this.#o.workerPath, '--remote', this.#o.remoteUrl, '--session-id', this.#o.sessionId],
      {
        env: { ...this.#o.env, PYTHONUNBUFFERED: '1' },
        cwd: path.dirname(this.#o.workerPath),
      },
    );
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => void log.write(chunk).catch(() => undefined));
    this.#exited = new Promise<void>((resolve) => {
      const finish = (why: string): void => {
        if (this.#exit !== undefined) return;
        this.#exit = why;
        this.#pending?.reject(new WorkerDiedError(`the Spark Connect worker ${why} before it answered (its log: ${this.#o.logFile})`));
        this.#pending = undefined;
        void log.close().catch(() => undefined);
        resolve();
      };
      child.once('error', (error) => finish(`could not start (${error.message})`));
      child.once('exit', (code, sig) => finish(sig ? `was killed by ${sig}` : `exited with code ${code}`));
    });
    child.stdin?.on('error', () => undefined); // a dead worker's pipe; the exit handler reports it
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending === undefined) return;
      try {
        pending.resolve(JSON.parse(line));
      } catch {
        pending.reject(new WorkerDiedError(`the Spark Connect worker wrote a line that is not JSON: ${line.slice(0, 200)}`));
      }
    });

    const first = (await this.#next(signal)) as { type?: string; message?: string; connectionLost?: boolean };
    if (first.type === 'ready') return;
    await this.kill();
    const message = `the Spark Connect worker could not open a session on ${this.#o.remoteUrl}: ${first.message ?? JSON.stringify(first)}`;
    throw first.connectionLost ? new ConnectUnavailableError(message) : new WorkerDiedError(message);
  }

  /** Runs one job; rejects with WorkerDiedError if the process ends first, or with the signal's reason. */
  async run(id: string, job: WorkerJob, signal?: AbortSignal): Promise<WorkerReply> {
    if (!this.alive) throw new WorkerDiedError(`the Spark Connect worker is not running (${this.#exit ?? 'not started'})`);
    const reply = this.#next(signal);
    this.#child?.stdin?.write(`${JSON.stringify({ id, job })}\n`);
    const line = (await reply) as WorkerReply;
    if (line.type !== 'result' || line.id !== id) {
      throw new WorkerDiedError(`the Spark Connect worker answered out of turn: ${JSON.stringify(line).slice(0, 200)}`);
    }
    return line;
  }

  #next(signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#exit !== undefined) return reject(new WorkerDiedError(`the Spark Connect worker ${this.#exit}`));
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => {
        this.#pending = undefined;
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending = {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
    });
  }

  /** Ends the worker: close stdin (it releases its session) and wait; SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return this.#exited;
    this.#child?.stdin?.end();
    const timer = setTimeout(() => signalProcessGroup(this.#child?.pid, 'SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the worker's process group at once and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.#child === undefined) return;
    if (this.alive) signalProcessGroup(this.#child.pid, 'SIGKILL');
    await this.#exited;
  }
}
