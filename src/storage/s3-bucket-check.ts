import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import { awsCode, awsStatus } from './s3-errors.js';

/**
 * Start-up check: the bucket is there and these credentials may use it. Each way it can fail
 * gets a message that says what is wrong and what to change (exit code 2), not an SDK stack.
 */
export async function checkBucketReachable(
  client: S3Client,
  bucket: string,
  endpoint: string | undefined,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }), signal ? { abortSignal: signal } : {});
  } catch (error) {
    throw new ConfigError(bucketProblem(error, bucket, endpoint), { cause: error });
  }
}

function bucketProblem(error: unknown, bucket: string, endpoint: string | undefined): string {
  const code = awsCode(error);
  const status = awsStatus(error);
  const message = error instanceof Error ? error.message : String(error);
  const where = endpoint ?? 'AWS S3';
  if (code === 'CredentialsProviderError' || /Could not load credentials/iu.test(message)) {
    return 'No AWS credentials were found. Set ACCESS_KEY and SECRET_KEY, or configure the AWS default chain (AWS_PROFILE, SSO, an instance or container role).';
  }
  if (/Region is missing|Region not accepted/iu.test(message))
    return `No AWS region is set. Set AWS_REGION to the region of bucket "${bucket}", e.g. AWS_REGION=eu-west-1.`;
  if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'ExpiredToken' || code === 'InvalidToken') {
    return `The AWS credentials were rejected by ${where} (${code}). Check ACCESS_KEY and SECRET_KEY (or the profile in use).`;
  }
  if (status === 404 || code === 'NotFound' || code === 'NoSuchBucket') {
    return `The bucket "${bucket}" does not exist on ${where}. Create it, or fix LAKE / BUCKET_NAME.`;
  }
  if (status === 403 || code === 'AccessDenied' || code === 'Forbidden') {
    return `Access to bucket "${bucket}" is denied. The credentials in use need s3:ListBucket on it, and s3:GetObject/PutObject/DeleteObject under the lake (see README).`;
  }
  if (status === 301 || code === 'PermanentRedirect')
    return `Bucket "${bucket}" is in another region than AWS_REGION. Set AWS_REGION to the bucket's region.`;
  const network = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  if (network !== undefined && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN)$/u.test(network)) {
    return `Cannot reach ${where} (${network}). Check S3_ENDPOINT and the network.`;
  }
  return `Cannot use bucket "${bucket}" on ${where}: ${code ?? message}.`;
}
