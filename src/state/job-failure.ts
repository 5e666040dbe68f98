import { describeError } from '../errors.js';
import { PermanentJobError, RetryableJobError } from '../engines/job-errors.js';

/** At most this many of the driver log's last lines are kept with a failure... */
export const LOG_TAIL_MAX_LINES = 40;
/** ...and at most this many bytes of them (UTF-8), so a dead letter stays small. */
export const LOG_TAIL_MAX_BYTES = 8 * 1024;

/** Why an attempt failed, as stored in the bucket: the error's class, its message (with causes), and the end of the driver log. */
export interface JobFailure {
  readonly errorClass: string;
  readonly message: string;
  readonly logTail?: string;
}

/** The failure record of an error; the driver log's tail is bounded to the last 40 lines and 8 KB. */
export function jobFailureOf(error: unknown): JobFailure {
  const errorClass = error instanceof Error ? error.name : typeof error;
  const tail = error instanceof PermanentJobError || error instanceof RetryableJobError ? error.details.logTail : undefined;
  const logTail = tail === undefined ? undefined : boundLogTail(tail);
  return { errorClass, message: describeError(error), ...(logTail ? { logTail } : {}) };
}

/** The last LOG_TAIL_MAX_LINES lines of `text`, cut further (at a line start where possible) to LOG_TAIL_MAX_BYTES. */
export function boundLogTail(text: string): string {
  let lines = text.replace(/\s+$/u, '').split('\n').slice(-LOG_TAIL_MAX_LINES);
  while (lines.length > 1 && Buffer.byteLength(lines.join('\n'), 'utf8') > LOG_TAIL_MAX_BYTES) lines = lines.slice(1);
  const joined = lines.join('\n');
  if (Buffer.byteLength(joined, 'utf8') <= LOG_TAIL_MAX_BYTES) return joined;
  // One very long line: keep its end.
  const bytes = Buffer.from(joined, 'utf8');
  return bytes
    .subarray(bytes.length - LOG_TAIL_MAX_BYTES)
    .toString('utf8')
    .replace(/^\uFFFD+/u, '');
}
