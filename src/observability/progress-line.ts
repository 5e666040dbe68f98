import { Writable } from 'node:stream';
import type { Reconciler } from '../controller/reconciler.js';
import { printable } from './printable.js';

export interface ProgressLineOptions {
  /** A terminal (stderr). */
  readonly stream: NodeJS.WritableStream & { columns?: number };
  /** @default Date.now */
  readonly now?: () => number;
  /** Redraw this often so the elapsed time moves; 0: only on events. @default 1000 */
  readonly tickMs?: number;
}

const CLEAR = '\r\u001b[K';

/**
 * A live line at the bottom of a terminal while a pass runs jobs: done / total, the file being
 * processed, the elapsed time. Log lines written through `logStream` appear above it. Passes
 * with nothing to run draw nothing, so an idle `watch` stays quiet.
 */
export class ProgressLine {
  /** Give this to the logger instead of the terminal stream. */
  readonly logStream: Writable & { isTTY: boolean };
  readonly #o: ProgressLineOptions;
  readonly #now: () => number;
  #active: { passId: string; total: number; done: number; running: string[]; startedAt: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(options: ProgressLineOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const out = options.stream;
    this.logStream = Object.assign(
      new Writable({
        write: (chunk: Buffer | string, _encoding, callback) => {
          this.#erase();
          out.write(chunk);
          this.#draw();
          callback();
        },
      }),
      { isTTY: true },
    );
  }

  follow(reconciler: Reconciler): this {
    const ev = reconciler.events;
    ev.on('pass:discovered', ({ passId, runnable }) => {
      if (runnable === 0) return;
      this.#active = { passId, total: runnable, done: 0, running: [], startedAt: this.#now() };
      const tick = this.#o.tickMs ?? 1000;
      if (tick > 0 && this.#timer === undefined) {
        this.#timer = setInterval(() => this.#redraw(), tick);
        this.#timer.unref();
      }
      this.#redraw();
    });
    ev.on('job:started', ({ passId, key }) => {
      if (this.#active?.passId !== passId) return;
      this.#active.running.push(key);
      this.#redraw();
    });
    const finished = ({ passId, key }: { passId: string; key: string }): void => {
      if (this.#active?.passId !== passId) return;
      this.#active.done += 1;
      this.#active.running = this.#active.running.filter((k) => k !== key);
      this.#redraw();
    };
    ev.on('job:succeeded', finished);
    ev.on('job:failed', finished);
    const end = ({ passId }: { passId: string }): void => {
      if (this.#active?.passId === passId) this.close();
    };
    ev.on('pass:finished', end);
    ev.on('pass:failed', end);
    return this;
  }

  /** The line as it is drawn now ('' when no pass is running jobs). */
  text(): string {
    const a = this.#active;
    if (a === undefined) return '';
    const seconds = Math.floor((this.#now() - a.startedAt) / 1000);
    const elapsed = seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
    const current = a.running.at(-1);
    const more = a.running.length > 1 ? ` (+${a.running.length - 1})` : '';
    const line = `» ${a.done}/${a.total} done  ${elapsed}${current ? `  ${current}${more}` : ''}`;
    const width = (this.#o.stream.columns ?? 100) - 1;
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  }

  /** Stop drawing and erase the line. Idempotent. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#erase();
    this.#active = undefined;
  }

  #redraw(): void {
    this.#erase();
    this.#draw();
  }

  #draw(): void {
    const text = printable(this.text());
    if (text === '') return;
    this.#o.stream.write(text);
    this.#drawn = true;
  }

  #erase(): void {
    if (!this.#drawn) return;
    this.#o.stream.write(CLEAR);
    this.#drawn = false;
  }
}

/** A progress line when `stream` is a terminal and the log lines are for a person; else undefined. */
export function progressLineFor(stream: NodeJS.WritableStream, logFormat: 'json' | 'pretty' | undefined): ProgressLine | undefined {
  if (!(stream as NodeJS.WriteStream).isTTY || logFormat === 'json') return undefined;
  return new ProgressLine({ stream });
}
