import { setTimeout as sleep } from 'node:timers/promises';
import { MalformedEventError, parseS3EventMessage } from '../discovery/s3-event.js';
import type { QueueMessage, SqsSource } from '../discovery/sqs-source.js';
import { RAW_PREFIX } from '../discovery/candidates.js';
import { MarkerCorruptError } from '../errors.js';
import { assertSafeKey } from '../storage/keys.js';
import type { PassSignals, Reconciler } from './reconciler.js';
import { TypedEmitter } from './typed-emitter.js';

export interface SqsWatchEvents {
  /** Not ours or nothing to do (a test event, another bucket or prefix, a deletion): deleted. */
  'message:ignored': { readonly messageId: string; readonly reason: string };
  /** Cannot be understood: logged and left for the queue's redrive policy. */
  'message:malformed': { readonly messageId: string; readonly problem: string };
  /** Its versions are recorded (or were already): deleted. */
  'message:done': { readonly messageId: string; readonly keys: readonly string[]; readonly passId: string };
  /** Some version failed: left to become visible again and be retried. */
  'message:kept': { readonly messageId: string; readonly keys: readonly string[]; readonly passId: string };
  /** A receive call returned (possibly with no message): the consumer is polling. */
  'queue:received': { readonly messages: number };
  'queue:error': { readonly error: unknown };
}

export interface SqsWatchOptions extends Required<Pick<PassSignals, 'stopStarting'>>, Pick<PassSignals, 'stopJobs'> {
  readonly source: Pick<SqsSource, 'receive' | 'delete' | 'extendVisibility' | 'visibilitySeconds'>;
  readonly bucket: string;
  /** The lake's prefix in the bucket ('' or `some/prefix/`); event keys are bucket keys. */
  readonly lakePrefix: string;
  /** A full relisting this often, because S3 event delivery is not guaranteed. */
  readonly reconcileIntervalMs: number;
  readonly now?: () => number;
  /** After a failed receive. @default 5 s, abortable */
  readonly backoff?: (signal: AbortSignal) => Promise<void>;
}

/**
 * SQS discovery. An event only says "look at these keys now": they are looked up and diffed
 * against the marker like any pass. A message is deleted only once every version it names is
 * recorded; while their jobs run its visibility is extended. A full pass runs at start and every
 * reconcile interval, as a safety net.
 */
export class SqsWatcher {
  readonly events = new TypedEmitter<SqsWatchEvents>();
  readonly #reconciler: Reconciler;
  readonly #o: SqsWatchOptions;
  readonly #now: () => number;

  constructor(reconciler: Reconciler, options: SqsWatchOptions) {
    this.#reconciler = reconciler;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async run(): Promise<void> {
    const { stopStarting } = this.#o;
    let lastFullPass = -Infinity;
    while (!stopStarting.aborted) {
      if (this.#now() - lastFullPass >= this.#o.reconcileIntervalMs) {
        await this.#guard(() => this.#reconciler.runPass(this.#o));
        lastFullPass = this.#now();
        continue;
      }
      let messages: QueueMessage[];
      try {
        messages = await this.#o.source.receive(stopStarting);
        this.events.emit('queue:received', { messages: messages.length });
      } catch (error) {
        if (stopStarting.aborted) break;
        this.events.emit('queue:error', { error });
        await (this.#o.backoff ?? defaultBackoff)(stopStarting);
        continue;
      }
      await this.#guard(() => this.handleBatch(messages));
    }
  }

  /** One received batch: sort the messages, run the named keys, delete what is settled. */
  async handleBatch(messages: readonly QueueMessage[]): Promise<void> {
    const work = new Map<QueueMessage, string[]>();
    for (const message of messages) {
      const keys = await this.#keysOf(message);
      if (keys !== undefined) work.set(message, keys);
    }
    if (work.size === 0) return;
    const inFlight = [...work.keys()];
    const heartbeat = setInterval(
      () => void this.#o.source.extendVisibility(inFlight).catch((error: unknown) => this.events.emit('queue:error', { error })),
      (this.#o.source.visibilitySeconds * 1000) / 2,
    );
    heartbeat.unref();
    let unfinished: Set<string>;
    let passId: string;
    try {
      const summary = await this.#reconciler.runTargetedPass([...new Set([...work.values()].flat())], this.#o);
      unfinished = new Set(summary.unfinishedKeys);
      passId = summary.passId;
    } finally {
      clearInterval(heartbeat);
    }
    for (const [message, keys] of work) {
      if (keys.some((k) => unfinished.has(k))) {
        this.events.emit('message:kept', { messageId: message.id, keys, passId });
        continue;
      }
      await this.#delete(message);
      this.events.emit('message:done', { messageId: message.id, keys, passId });
    }
  }

  /** The lake keys under raw/ a message names; undefined when the message was dealt with here. */
  async #keysOf(message: QueueMessage): Promise<string[] | undefined> {
    let parsed;
    try {
      parsed = parseS3EventMessage(message.body);
      if (parsed.kind === 'records') for (const r of parsed.records) assertSafeKey(r.key);
    } catch (error) {
      if (!(error instanceof MalformedEventError) && !(error instanceof Error && error.name === 'UnsafeKeyError')) throw error;
      this.events.emit('message:malformed', { messageId: message.id, problem: error.message });
      return undefined;
    }
    if (parsed.kind === 'test') return this.#ignore(message, 's3:TestEvent');
    const keys = parsed.records
      .filter((r) => r.eventName.startsWith('ObjectCreated') && r.bucket === this.#o.bucket && r.key.startsWith(this.#o.lakePrefix))
      .map((r) => r.key.slice(this.#o.lakePrefix.length))
      .filter((k) => k.startsWith(RAW_PREFIX));
    if (keys.length === 0) return this.#ignore(message, 'no object created under raw/ of this lake');
    return keys;
  }

  async #ignore(message: QueueMessage, reason: string): Promise<undefined> {
    await this.#delete(message);
    this.events.emit('message:ignored', { messageId: message.id, reason });
    return undefined;
  }

  async #delete(message: QueueMessage): Promise<void> {
    try {
      await this.#o.source.delete(message);
    } catch (error) {
      // It comes back after its visibility timeout and is settled again then: harmless.
      this.events.emit('queue:error', { error });
    }
  }

  /** A failed pass is reported by the reconciler's events; only a corrupt marker stops the watcher. */
  async #guard(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (error instanceof MarkerCorruptError) throw error;
    }
  }
}

const defaultBackoff = (signal: AbortSignal): Promise<void> => sleep(5000, undefined, { signal }).catch(() => undefined);
