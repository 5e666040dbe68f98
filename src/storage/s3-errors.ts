import { AccessDeniedError, PermanentError, PreconditionFailedError, RetryableError } from '../errors.js';

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

/**
 * Turns an S3 error into the controller's vocabulary: conflict, access denied (naming `action`, the
 * IAM permission the request needs), permanent, or retryable.
 */
export function mapS3Error(error: unknown, what: string, key: string, action?: string): Error {
  const code = awsCode(error);
  const status = awsStatus(error);
  if (status === 412 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || status === 409) {
    return new PreconditionFailedError(key, `conditional ${what} failed: the object changed since it was read (${code ?? status})`, {
      cause: error,
    });
  }
  if (CREDENTIAL_CODES.has(code ?? '')) {
    return new AccessDeniedError(key, action, `${what}: the credentials were refused (${code}); check ACCESS_KEY/SECRET_KEY or the role`, {
      cause: error,
    });
  }
  if (code === 'AccessDenied' || status === 403) {
    const needs =
      action === undefined
        ? 'check the IAM policy'
        : `the IAM policy must allow ${action} on it` +
          (action === 's3:GetObject' ? ' (and s3:ListBucket on the bucket: without it a missing key answers 403, not 404)' : '');
    return new AccessDeniedError(key, action, `${what}: access denied (${code ?? status}); ${needs} (deploy/iam/controller-policy.json)`, {
      cause: error,
    });
  }
  if (code === 'NoSuchBucket') return new PermanentError(`${what}: the bucket does not exist`, { cause: error });
  return new RetryableError(`${what} failed: ${code ?? (error instanceof Error ? error.message : String(error))}`, { cause: error });
}
