import { describe, expect, it } from 'vitest';
import { AccessDeniedError, PermanentError, PreconditionFailedError, RetryableError } from '../../src/errors.js';
import { mapS3Error } from '../../src/storage/s3-errors.js';

/** Error shapes as the AWS SDK raises them; a server cannot be made to answer 409 or 503 on demand. */
const awsError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('S3 errors in the controller vocabulary', () => {
  it('treats 412 and 409 ConditionalRequestConflict as a lost conditional write', () => {
    expect(mapS3Error(awsError('PreconditionFailed', 412), 'writing', 'm.json')).toBeInstanceOf(PreconditionFailedError);
    expect(mapS3Error(awsError('ConditionalRequestConflict', 409), 'writing', 'm.json')).toBeInstanceOf(PreconditionFailedError);
  });

  it('makes access problems permanent and throttling retryable, keeping the cause', () => {
    expect(mapS3Error(awsError('AccessDenied', 403), 'reading', 'k')).toBeInstanceOf(PermanentError);
    const denied = mapS3Error(
      awsError('AccessDenied', 403),
      'writing s3://b/lake/metadata/claims/orders.json',
      'metadata/claims/orders.json',
      's3:PutObject',
    );
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied).toMatchObject({ key: 'metadata/claims/orders.json', action: 's3:PutObject' });
    expect(denied.message).toBe(
      'writing s3://b/lake/metadata/claims/orders.json: access denied (AccessDenied); the IAM policy must allow s3:PutObject on it (deploy/iam/controller-policy.json)',
    );
    expect(mapS3Error(awsError('InvalidAccessKeyId', 403), 'reading', 'k')).toBeInstanceOf(AccessDeniedError);
    const slowDown = awsError('SlowDown', 503);
    const mapped = mapS3Error(slowDown, 'listing', 'raw/');
    expect(mapped).toBeInstanceOf(RetryableError);
    expect(mapped.cause).toBe(slowDown);
  });
});
