import { execa } from 'execa';
import type { PolicyDocument } from './shipped-policy.js';
import { venvPython } from './python.js';

export interface IamUserKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * moto names HeadBucket's action `s3:HeadBucket`, which is not an IAM action: S3 authorizes
 * HeadBucket with s3:ListBucket. So a user gets, next to the shipped policy, this one derived from
 * it: s3:HeadBucket wherever (and only where) the shipped policy allows s3:ListBucket.
 */
export function motoActionAliases(policy: PolicyDocument): PolicyDocument | undefined {
  const lists = (a: string | readonly string[] | undefined) => (typeof a === 'string' ? [a] : (a ?? [])).includes('s3:ListBucket');
  const statements = policy.Statement.filter((s) => s.Effect === 'Allow' && lists(s.Action)).map((s) => ({
    Effect: 'Allow' as const,
    Action: 's3:HeadBucket',
    ...(s.Resource !== undefined ? { Resource: s.Resource } : {}),
  }));
  return statements.length === 0 ? undefined : { Version: '2012-10-17', Statement: statements };
}

const SETUP = `
import json, sys, boto3
spec = json.load(sys.stdin)
iam = boto3.client("iam", endpoint_url=spec["endpoint"], region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
keys = {}
for user in spec["users"]:
    iam.create_user(UserName=user["name"])
    for name, document in user["policies"].items():
        iam.put_user_policy(UserName=user["name"], PolicyName=name, PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=user["name"])["AccessKey"]
    keys[user["name"]] = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
print(json.dumps(keys))
`;

/**
 * IAM users in a moto server, each holding exactly the given inline policies (plus moto's action
 * aliases of them), with an access key each; then moto's authorization is switched on
 * (`/moto-api/reset-auth` 0, what INITIAL_NO_AUTH_ACTION_COUNT sets at start-up): from then on every
 * request is checked against its signer's policies, and an unknown key is refused.
 */
export async function createIamUsersAndEnforce(
  endpoint: string,
  users: Readonly<Record<string, PolicyDocument>>,
): Promise<Record<string, IamUserKeys>> {
  const spec = {
    endpoint,
    users: Object.entries(users).map(([name, policy]) => {
      const aliases = motoActionAliases(policy);
      return { name, policies: { shipped: policy, ...(aliases ? { 'moto-action-aliases': aliases } : {}) } };
    }),
  };
  const { stdout } = await execa(venvPython(), ['-c', SETUP], { input: JSON.stringify(spec) });
  const keys = JSON.parse(stdout) as Record<string, IamUserKeys>;
  const reset = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  if (!reset.ok) throw new Error(`moto did not switch authorization on: HTTP ${reset.status}`);
  return keys;
}
