import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.js';

/** One S3 client from the Config: explicit keys when ACCESS_KEY/SECRET_KEY are set, else the SDK's default chain. */
export function createS3Client(config: Pick<Config, 's3' | 'credentials'>): S3Client {
  return new S3Client({
    ...(config.s3.region !== undefined ? { region: config.s3.region } : {}),
    ...(config.s3.endpoint !== undefined ? { endpoint: config.s3.endpoint } : {}),
    forcePathStyle: config.s3.forcePathStyle,
    ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
    // The SDK retries throttling and 5xx with its own backoff before an error reaches us.
    maxAttempts: 5,
  });
}
