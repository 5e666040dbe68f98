import { PermanentError, PreconditionFailedError, RetryableError } from '../errors.js';

/** What the AWS SDK puts on a service error. */
interface AwsErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  code?: string;
}

export function awsStatus(error: unknown): number | undefined {
  return (error as AwsErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function awsCode(error: unknown): string | undefined {
  const e = error as AwsErrorShape | undefined;
  return e?.Code ?? e?.name ?? e?.code;
}

export function isNotFound(error: unknown): boolean {
  const code = awsCode(error);
  return code === 'NotFound' || code === 'NoSuchKey' || awsStatus(error) === 404;
}

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

/** Turns an S3 error into the controller's vocabulary: conflict, permanent, or retryable. */
export function mapS3Error(error: unknown, what: string, key: string): Error {
  const code = awsCode(error);
  const status = awsStatus(error);
  if (status === 412 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || status === 409) {
    return new PreconditionFailedError(key, `conditional ${what} failed: the object changed since it was read (${code ?? status})`, {
      cause: error,
    });
  }
  if (code === 'AccessDenied' || status === 403 || CREDENTIAL_CODES.has(code ?? '')) {
    return new PermanentError(`${what}: access denied (${code ?? status}); check the credentials and their IAM policy`, { cause: error });
  }
  if (code === 'NoSuchBucket') return new PermanentError(`${what}: the bucket does not exist`, { cause: error });
  return new RetryableError(`${what} failed: ${code ?? (error instanceof Error ? error.message : String(error))}`, { cause: error });
}
