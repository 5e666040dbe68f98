import path from 'node:path';

/** Where the lake lives: a local folder (development, CI, the demo) or an S3 bucket and prefix. */
export type LakeLocation =
  { readonly kind: 'local'; readonly root: string } | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/u;

/** Parses `s3://bucket[/prefix]`, `file:///abs/path` or a folder path (relative to cwd). */
export function parseLake(value: string, cwd: string): LakeLocation | string {
  if (/^s3a?:\/\//iu.test(value)) {
    const rest = value.replace(/^s3a?:\/\//iu, '');
    const [bucket = '', ...parts] = rest.split('/');
    if (!BUCKET_NAME.test(bucket)) return `"${bucket}" is not a valid S3 bucket name`;
    const prefix = parts.filter((p) => p !== '').join('/');
    if (prefix.split('/').some((p) => p === '..' || p === '.')) return 'the prefix has a "." or ".." segment';
    return { kind: 's3', bucket, prefix: prefix === '' ? '' : `${prefix}/` };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//iu.test(value) && !value.startsWith('file://')) {
    return 'only s3://bucket[/prefix], file:///path or a folder path are supported';
  }
  const folder = value.startsWith('file://') ? decodeURIComponent(new URL(value).pathname) : value;
  return { kind: 'local', root: path.resolve(cwd, folder) };
}

export function bucketNameProblem(name: string): string | undefined {
  return BUCKET_NAME.test(name) ? undefined : `"${name}" is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`;
}

/** The root URI the Spark job gets as --lake. */
export function sparkLakeUri(lake: LakeLocation): string {
  // Not percent-encoded: Hadoop's Path takes the string as it is, so a space stays a space.
  if (lake.kind === 'local') return `file://${lake.root}`;
  return `s3a://${lake.bucket}${lake.prefix === '' ? '' : `/${lake.prefix.replace(/\/$/u, '')}`}`;
}

/** The lake root for people to read, as a folder (ends with `/`): `describeLake(l) + 'raw/'` reads right. */
export function describeLake(lake: LakeLocation): string {
  const root = lake.kind === 'local' ? lake.root : `s3://${lake.bucket}/${lake.prefix}`;
  return root.endsWith('/') ? root : `${root}/`;
}
