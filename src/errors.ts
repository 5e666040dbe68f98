/**
 * The error vocabulary of the controller. Every failure that crosses a module boundary is one of
 * these, so callers decide by class, not by message: a PermanentError is never retried, a
 * RetryableError may pass on a later attempt. The original error travels as `cause`.
 */

/** Base class: sets `name` from the subclass so logs and `instanceof` agree. */
export class WatcherError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Retrying cannot help (bad input, bad spec, object gone): record the failure and move on. */
export class PermanentError extends WatcherError {}

/** May pass on a later attempt (a crashed JVM, a timeout, a network error). */
export class RetryableError extends WatcherError {}

/** A setting is missing or invalid. The message names the variable, the problem and the fix. */
export class ConfigError extends WatcherError {}

/** Something the machine needs is not installed (Java, Python, Spark). The message says how to get it. */
export class PrerequisiteError extends WatcherError {}

/** A key that would resolve outside the lake root, or is otherwise not a safe object key. */
export class UnsafeKeyError extends PermanentError {}

/** A raw object no job can use (zero bytes): dead-lettered without running one. */
export class UnusableInputError extends PermanentError {}

/** A conditional write lost: the object changed (If-Match) or exists (If-None-Match). */
export class PreconditionFailedError extends RetryableError {
  constructor(
    readonly key: string,
    message = `conditional write of ${key} failed: the object changed since it was read`,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The controller's credentials may not do this (HTTP 403, or credentials the service does not
 * accept). Retrying cannot help, and it is not the file's fault: a pass that meets it on the lake's
 * state (claims, marker, dead letters) or on a job's bookkeeping fails, and the version stays
 * pending. `action` is the IAM permission the request needs, when known.
 */
export class AccessDeniedError extends PermanentError {
  constructor(
    readonly key: string,
    readonly action: string | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The AccessDeniedError in an error's cause chain, if there is one. */
export function accessDeniedIn(error: unknown): AccessDeniedError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof AccessDeniedError) return e;
  return undefined;
}

/** The marker exists but cannot be used. It is never overwritten: a person must look at it. */
export class MarkerCorruptError extends PermanentError {}

/** The dead-letter document exists but cannot be used; like the marker, it stops the watcher and is never overwritten. */
export class DeadLetterCorruptError extends MarkerCorruptError {}

/** True when an error (or anything in its cause chain) says retrying is pointless. */
export function isPermanent(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof PermanentError) return true;
    if (e instanceof RetryableError) return false;
  }
  return false;
}

/** `message` of an error and its causes, joined: for logs and summaries. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && e !== null;) {
    if (e instanceof Error) {
      parts.push(e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': caused by: ');
}
