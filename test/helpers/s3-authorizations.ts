import { type Authorization, describeAuthorization, evaluate } from './iam-evaluator.js';
import type { RecordedRequest } from './s3-request-recorder.js';
import type { PolicyDocument } from './shipped-policy.js';

const bucketArn = (bucket: string): string => `arn:aws:s3:::${bucket}`;
const objectArn = (bucket: string, key: string): string => `arn:aws:s3:::${bucket}/${key}`;

/** Bucket and key of a path-style request path (`/<bucket>/<key>`), the key percent-decoded. */
export function bucketAndKey(path: string): { bucket: string; key: string } {
  const [bucket = '', ...rest] = path.replace(/^\//u, '').split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/') };
}

/** What a request is, for messages: `PutObject lake/metadata/claims/orders.json`. */
export function describeRequest(r: RecordedRequest): string {
  const { key, bucket } = bucketAndKey(r.path);
  const q = new URLSearchParams(r.query);
  const operation = operationOf(r.method, key !== '', q, r.headers);
  const prefix = q.get('prefix');
  return `${operation} ${bucket}/${key}${prefix !== null ? ` (prefix ${JSON.stringify(prefix)})` : ''} → HTTP ${r.status}`;
}

function operationOf(method: string, onKey: boolean, q: URLSearchParams, headers: Readonly<Record<string, string>>): string {
  if (!onKey) {
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'POST' && q.has('delete')) return 'DeleteObjects';
    if (method === 'GET') {
      if (q.has('versions')) return 'ListObjectVersions';
      if (q.has('uploads')) return 'ListMultipartUploads';
      if (q.has('location')) return 'GetBucketLocation';
      return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    }
  } else {
    const copy = headers['x-amz-copy-source'] !== undefined;
    if (method === 'HEAD') return 'HeadObject';
    if (method === 'GET') return q.has('uploadId') ? 'ListParts' : 'GetObject';
    if (method === 'PUT') return q.has('uploadId') ? (copy ? 'UploadPartCopy' : 'UploadPart') : copy ? 'CopyObject' : 'PutObject';
    if (method === 'POST') {
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
    }
    if (method === 'DELETE') return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  }
  throw new Error(`an S3 request the policy check does not know: ${method} ${onKey ? 'object' : 'bucket'} ?${q.toString()}`);
}

/**
 * The authorizations S3 makes for a request (per the S3 user guide's "Actions, resources, and
 * condition keys"), including the ones moto does not: the source of a copy needs s3:GetObject,
 * a multi-object delete needs s3:DeleteObject on each key, a listing carries `s3:prefix`, and a
 * HEAD or GET of a missing key answers 404 only with s3:ListBucket on the bucket (else 403).
 */
export function authorizationsFor(r: RecordedRequest): Authorization[] {
  const { bucket, key } = bucketAndKey(r.path);
  const q = new URLSearchParams(r.query);
  const operation = operationOf(r.method, key !== '', q, r.headers);
  const onObject = (action: string): Authorization => ({ action, resource: objectArn(bucket, key) });
  const copySource = (): Authorization => {
    const source = decodeURIComponent((r.headers['x-amz-copy-source'] ?? '').replace(/^\//u, '').split('?')[0] ?? '');
    return { action: 's3:GetObject', resource: `arn:aws:s3:::${source}` };
  };
  switch (operation) {
    case 'HeadBucket':
      return [{ action: 's3:ListBucket', resource: bucketArn(bucket) }];
    case 'ListObjects':
    case 'ListObjectsV2': {
      const prefix = q.get('prefix');
      return [{ action: 's3:ListBucket', resource: bucketArn(bucket), ...(prefix !== null ? { context: { 's3:prefix': prefix } } : {}) }];
    }
    case 'ListObjectVersions':
      return [{ action: 's3:ListBucketVersions', resource: bucketArn(bucket) }];
    case 'ListMultipartUploads':
      return [{ action: 's3:ListBucketMultipartUploads', resource: bucketArn(bucket) }];
    case 'GetBucketLocation':
      return [{ action: 's3:GetBucketLocation', resource: bucketArn(bucket) }];
    case 'DeleteObjects':
      return [...(r.body ?? '').matchAll(/<Key>([^<]*)<\/Key>/gu)].map((m) => ({
        action: 's3:DeleteObject',
        resource: objectArn(bucket, unescapeXml(m[1] ?? '')),
      }));
    case 'HeadObject':
    case 'GetObject':
      return [onObject('s3:GetObject'), ...(r.status === 404 ? [{ action: 's3:ListBucket', resource: bucketArn(bucket) }] : [])];
    case 'ListParts':
      return [onObject('s3:ListMultipartUploadParts')];
    case 'PutObject':
    case 'UploadPart':
    case 'CreateMultipartUpload':
    case 'CompleteMultipartUpload':
      return [onObject('s3:PutObject')];
    case 'CopyObject':
    case 'UploadPartCopy':
      return [onObject('s3:PutObject'), copySource()];
    case 'AbortMultipartUpload':
      return [onObject('s3:AbortMultipartUpload')];
    case 'DeleteObject':
      return [onObject('s3:DeleteObject')];
    default:
      throw new Error(`no authorizations known for ${operation}`);
  }
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/gu, '<')
    .replace(/&gt;/gu, '>')
    .replace(/&quot;/gu, '"')
    .replace(/&apos;/gu, "'")
    .replace(/&amp;/gu, '&');
}

/** One request that the policy of its signer would deny on AWS (or that the server denied). */
export interface DeniedRequest {
  readonly who: string;
  readonly request: string;
  readonly needs: string;
}

/**
 * Every recorded request checked against the policy of the user who signed it: the ones AWS would
 * deny, each named by user, operation, key and the permission it lacks. A request signed by a key
 * not in `policies` is an error (every request must be someone's).
 */
export function deniedRequests(
  requests: readonly RecordedRequest[],
  policies: ReadonlyMap<string, { readonly who: string; readonly policy: PolicyDocument }>,
): DeniedRequest[] {
  const denied: DeniedRequest[] = [];
  for (const r of requests) {
    const signer = policies.get(r.accessKeyId);
    if (signer === undefined) throw new Error(`a request signed by an unknown key: ${describeRequest(r)}`);
    const missing = authorizationsFor(r).filter((a) => !evaluate(signer.policy, a).allowed);
    for (const a of missing) denied.push({ who: signer.who, request: describeRequest(r), needs: describeAuthorization(a) });
    if (missing.length === 0 && r.status === 403)
      denied.push({ who: signer.who, request: describeRequest(r), needs: '(denied by the server)' });
  }
  return denied;
}

/** Denied requests as lines for a failure message. */
export function formatDenied(denied: readonly DeniedRequest[]): string {
  return denied.map((d) => `${d.who}: ${d.request} needs ${d.needs}`).join('\n');
}
