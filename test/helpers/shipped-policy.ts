import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The values the shipped deploy/iam files are written for, as the README says to replace them. */
const SHIPPED = {
  bucket: 'my-bucket',
  lakePrefix: 'lake',
  account: '123456789012',
  region: 'eu-west-1',
  applicationId: '00fm4lq8d7u1ab09',
} as const;

export type PolicyPlace = { readonly [K in keyof typeof SHIPPED]: string };

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface PolicyDocument {
  readonly Version: string;
  readonly Statement: readonly PolicyStatement[];
}

/**
 * A policy from deploy/iam/ as a user would install it: the shipped file, read from disk (not a
 * copy), with the bucket, lake prefix, account, region and application id replaced by `place`.
 */
export async function shippedPolicy(file: string, place: PolicyPlace): Promise<PolicyDocument> {
  const text = await readFile(path.resolve('deploy/iam', file), 'utf8');
  const substitute = (s: string): string =>
    s
      .replaceAll(`${SHIPPED.bucket}/${SHIPPED.lakePrefix}/`, `${place.bucket}/${place.lakePrefix}/`)
      .replaceAll(SHIPPED.bucket, place.bucket)
      .replace(new RegExp(`^${SHIPPED.lakePrefix}/`, 'u'), `${place.lakePrefix}/`) // an s3:prefix condition's value
      .replaceAll(SHIPPED.region, place.region)
      .replaceAll(SHIPPED.account, place.account)
      .replaceAll(SHIPPED.applicationId, place.applicationId);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return substitute(value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(JSON.parse(text)) as PolicyDocument;
}

/** The policy without the statements' resources (or condition values) matching `drop`: a policy with a gap, for negative tests. */
export function withoutResource(policy: PolicyDocument, drop: (resource: string) => boolean): PolicyDocument {
  const list = (v: string | readonly string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : [...v]);
  const statements = policy.Statement.map((s) => {
    if (s.Resource === undefined) return s;
    const kept = list(s.Resource).filter((r) => !drop(r));
    return kept.length === list(s.Resource).length ? s : { ...s, Resource: kept };
  }).filter((s) => s.Resource === undefined || list(s.Resource).length > 0);
  return { ...policy, Statement: statements };
}
