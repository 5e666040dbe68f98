import winston from 'winston';
import type { LogLevel } from '../config/config.js';
import { printable } from './printable.js';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** @default json when the stream is not a terminal */
  readonly format?: LogFormat;
  readonly stream?: NodeJS.WritableStream;
}

/**
 * One JSON object per line for machines, short coloured lines for a person at a terminal. The
 * format follows the stream the lines go to (stderr): JSON unless it is a terminal.
 * Field names are fixed: time, level, msg, event, passId, key, etag, dataset, runId, engine,
 * attempt, durationMs, error (see LOG_EVENT_FIELDS in log-events.ts for which event has which).
 */
export function createLogger(options: LoggerOptions): winston.Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? ((stream as NodeJS.WriteStream).isTTY ? 'pretty' : 'json');
  const json = winston.format.combine(
    winston.format.timestamp(),
    // Symbol-keyed internals are dropped by JSON.stringify, which escapes C0 controls; printable
    // escapes the rest (C1, bidi overrides) as \uXXXX, which JSON reads back as the same text.
    winston.format.printf(({ timestamp, level, message, ...fields }) =>
      printable(JSON.stringify({ time: timestamp, level, msg: message, ...fields })),
    ),
  );
  const pretty = winston.format.combine(
    escapeStrings(),
    winston.format.timestamp({ format: 'HH:mm:ss' }),
    winston.format.colorize({ level: true }),
    winston.format.printf((info) => {
      const { timestamp, level, message, event: _e, ...rest } = info as Record<string, unknown> & { level: string; message: string };
      const extras = Object.entries(rest)
        .filter(([k, v]) => typeof k === 'string' && v !== undefined && ['key', 'dataset', 'attempt', 'durationMs', 'error'].includes(k))
        .filter(([k, v]) => k !== 'attempt' || v !== 1)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      return `${String(timestamp)} ${level} ${message}${extras.length ? `  ${extras.join(' ')}` : ''}`;
    }),
  );
  return winston.createLogger({
    level: options.level,
    format: format === 'json' ? json : pretty,
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** The message and string fields made `printable` (before colorize adds its own escapes). */
const escapeStrings = winston.format((info) => {
  for (const [k, v] of Object.entries(info)) if (typeof v === 'string') (info as Record<string, unknown>)[k] = printable(v);
  return info;
});
