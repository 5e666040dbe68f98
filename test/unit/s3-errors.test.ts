import { describe, expect, it } from 'vitest';
import { PermanentError, PreconditionFailedError, RetryableError } from '../../src/errors.js';
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
    const slowDown = awsError('SlowDown', 503);
    const mapped = mapS3Error(slowDown, 'listing', 'raw/');
    expect(mapped).toBeInstanceOf(RetryableError);
    expect(mapped.cause).toBe(slowDown);
  });
});
