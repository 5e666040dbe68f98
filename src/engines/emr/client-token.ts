import { createHash } from 'node:crypto';

/**
 * The StartJobRun `clientToken` of one attempt at one file version of one lake: the same lake,
 * key, ETag and attempt always give the same token, so a retried (or re-sent after a crash)
 * StartJobRun call returns the job run that already exists instead of starting a second one. The
 * lake (`s3://bucket/prefix`) is part of it: two lakes that share an application and hold the
 * same key and ETag (a copied bucket, a test lake beside the real one) never collide. 64 hex
 * characters (EMR's limit is 64, `[A-Za-z0-9._-]`).
 */
export function clientTokenFor(lakeUri: string, key: string, etag: string, attempt: number): string {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number >= 1, got ${attempt}`);
  return createHash('sha256')
    .update(JSON.stringify(['s3-spark-watcher/v2', lakeUri, key, etag, attempt]))
    .digest('hex');
}

/** A short, stable hash of a key, for tags and record names (S3 keys may hold characters tags may not). */
export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
