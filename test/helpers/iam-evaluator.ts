import type { PolicyDocument, PolicyStatement } from './shipped-policy.js';

/** One authorization the service makes for a request: an action on a resource, with the request's condition keys. */
export interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** Condition keys the request carries (e.g. `s3:prefix`, `iam:PassedToService`); a key not here is absent. */
  readonly context?: Readonly<Record<string, string>>;
}

export interface Decision {
  readonly allowed: boolean;
  /** The statement that allowed or explicitly denied it. */
  readonly statement?: string;
}

const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.*+?^${}()|[\]\\/]/gu, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'iu' : 'u').test(value);
}

/** The condition operators the shipped policies use; any other one is an error, never silently true. */
const OPERATORS: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringLike: (e, a) => wildcard(e, a, false),
  ArnEquals: (e, a) => e === a,
  ArnLike: (e, a) => wildcard(e, a, false),
};

function conditionsHold(statement: PolicyStatement, context: Readonly<Record<string, string>>): boolean {
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    const test = OPERATORS[operator];
    if (test === undefined)
      throw new Error(`the policy evaluator does not know the condition operator ${operator} (statement ${statement.Sid ?? '?'})`);
    for (const [key, expected] of Object.entries(keys)) {
      const actual = context[key];
      // An absent key fails every operator without IfExists: the statement does not apply.
      if (actual === undefined || !list(expected).some((e) => test(e, actual))) return false;
    }
  }
  return true;
}

function applies(statement: PolicyStatement, a: Authorization): boolean {
  const actionMatches =
    statement.NotAction !== undefined
      ? !list(statement.NotAction).some((p) => wildcard(p, a.action, true))
      : list(statement.Action).some((p) => wildcard(p, a.action, true));
  return (
    actionMatches && list(statement.Resource).some((p) => wildcard(p, a.resource, false)) && conditionsHold(statement, a.context ?? {})
  );
}

/**
 * An identity policy's answer to one authorization, as IAM evaluates it: an explicit Deny wins,
 * else an Allow whose action, resource and every condition match, else an implicit deny. Unlike
 * moto's evaluator it evaluates Condition (StringEquals, StringLike, ArnEquals, ArnLike; a key the
 * request does not carry fails the condition).
 */
export function evaluate(policy: PolicyDocument, a: Authorization): Decision {
  let allowedBy: string | undefined;
  for (const [i, statement] of policy.Statement.entries()) {
    if (!applies(statement, a)) continue;
    const name = statement.Sid ?? `#${i}`;
    if (statement.Effect === 'Deny') return { allowed: false, statement: name };
    allowedBy ??= name;
  }
  return allowedBy === undefined ? { allowed: false } : { allowed: true, statement: allowedBy };
}

/** A one-line description of an authorization, for failure messages. */
export function describeAuthorization(a: Authorization): string {
  const context = Object.entries(a.context ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${a.action} on ${a.resource}${context.length > 0 ? ` (${context.join(', ')})` : ''}`;
}
