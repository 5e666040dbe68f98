/**
 * S3 event notifications as they arrive in SQS (directly, not through SNS). Keys in events are
 * URL-encoded with `+` for spaces; ETags come without quotes.
 */

export interface S3EventRecord {
  readonly eventName: string;
  readonly bucket: string;
  /** Decoded: the key as it is in the bucket. */
  readonly key: string;
  /** Quoted, as listings return it; undefined when the event has none (deletions). */
  readonly etag?: string;
  readonly size?: number;
}

export type S3EventMessage = { readonly kind: 'test' } | { readonly kind: 'records'; readonly records: readonly S3EventRecord[] };

export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

export function decodeEventKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/gu, ' '));
  } catch {
    throw new MalformedEventError(`the object key ${JSON.stringify(raw)} is not URL-encoded`);
  }
}

/** Parses an SQS message body holding an S3 event; anything else is a MalformedEventError. */
export function parseS3EventMessage(body: string | undefined): S3EventMessage {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    throw new MalformedEventError('the message body is not JSON');
  }
  if (!isRecord(value)) throw new MalformedEventError('the message body is not a JSON object');
  if (value['Event'] === 's3:TestEvent') return { kind: 'test' };
  const records = value['Records'];
  if (!Array.isArray(records)) throw new MalformedEventError('the message has no "Records" list (is it an S3 event notification?)');
  return {
    kind: 'records',
    records: records.map((r: unknown, i) => {
      const s3 = isRecord(r) && isRecord(r['s3']) ? r['s3'] : undefined;
      const bucket = s3 && isRecord(s3['bucket']) ? s3['bucket']['name'] : undefined;
      const object = s3 && isRecord(s3['object']) ? s3['object'] : undefined;
      const eventName = isRecord(r) ? r['eventName'] : undefined;
      if (typeof eventName !== 'string' || typeof bucket !== 'string' || !object || typeof object['key'] !== 'string') {
        throw new MalformedEventError(`Records[${i}] lacks eventName, s3.bucket.name or s3.object.key`);
      }
      const etag = typeof object['eTag'] === 'string' && object['eTag'] !== '' ? `"${object['eTag'].replace(/"/gu, '')}"` : undefined;
      return {
        eventName,
        bucket,
        key: decodeEventKey(object['key']),
        ...(etag !== undefined ? { etag } : {}),
        ...(typeof object['size'] === 'number' ? { size: object['size'] } : {}),
      };
    }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
