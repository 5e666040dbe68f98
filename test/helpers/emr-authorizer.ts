import { EMRServerlessClient, EMRServerlessServiceException } from '@aws-sdk/client-emr-serverless';
import { type Authorization, describeAuthorization, evaluate } from './iam-evaluator.js';
import type { PolicyDocument } from './shipped-policy.js';

export interface EmrPlace {
  readonly region: string;
  readonly account: string;
}

/** The authorizations EMR Serverless makes for one call (its service authorization reference), PassRole and tagging included. */
export function emrAuthorizations(place: EmrPlace, command: string, input: Readonly<Record<string, unknown>>): Authorization[] {
  const app = `arn:aws:emr-serverless:${place.region}:${place.account}:/applications/${String(input['applicationId'])}`;
  const run = `${app}/jobruns/${String(input['jobRunId'] ?? 'new')}`;
  const action = `emr-serverless:${command.replace(/Command$/u, '')}`;
  switch (command) {
    case 'GetApplicationCommand':
    case 'StartApplicationCommand':
    case 'StopApplicationCommand':
    case 'ListJobRunsCommand':
      return [{ action, resource: app }];
    case 'GetJobRunCommand':
    case 'CancelJobRunCommand':
    case 'GetDashboardForJobRunCommand':
      return [{ action, resource: run }];
    case 'StartJobRunCommand':
      return [
        { action, resource: app },
        ...(input['tags'] !== undefined ? [{ action: 'emr-serverless:TagResource', resource: run }] : []),
        {
          action: 'iam:PassRole',
          resource: String(input['executionRoleArn']),
          context: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' },
        },
      ];
    default:
      throw new Error(`an EMR Serverless call the policy check does not know: ${command}`);
  }
}

/** One call the client was asked to make. */
export interface EmrCall {
  readonly command: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** One call the policy denied, as EMR would have answered it. */
export interface DeniedCall {
  readonly command: string;
  readonly needs: string;
}

/** The calls that `policy` would deny, each with the permission it lacks. */
export function deniedCalls(calls: readonly EmrCall[], policy: PolicyDocument, place: EmrPlace): DeniedCall[] {
  return calls.flatMap((c) =>
    emrAuthorizations(place, c.command, c.input)
      .filter((a) => !evaluate(policy, a).allowed)
      .map((a) => ({ command: c.command, needs: describeAuthorization(a) })),
  );
}

/**
 * An EMR Serverless client that authorizes every call against `policy` the way EMR Serverless and
 * IAM would (resource ARNs, iam:PassRole with iam:PassedToService) before handing it to `inner`
 * (the rehearsal, whose calls never reach a server), and answers a denied call with EMR's
 * AccessDeniedException (HTTP 403). `calls` lists every call, `denied` the refused ones.
 */
export function authorizingEmrClient(
  inner: EMRServerlessClient,
  policy: PolicyDocument,
  place: EmrPlace,
): { client: EMRServerlessClient; calls: EmrCall[]; denied: DeniedCall[] } {
  const calls: EmrCall[] = [];
  const denied: DeniedCall[] = [];
  const client = new EMRServerlessClient({ region: place.region, credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' } });
  const send = (command: { constructor: { name: string }; input: Record<string, unknown> }, ...rest: unknown[]): Promise<unknown> => {
    const call = { command: command.constructor.name, input: command.input };
    calls.push(call);
    const missing = emrAuthorizations(place, call.command, call.input).filter((a) => !evaluate(policy, a).allowed);
    if (missing.length > 0) {
      for (const a of missing) denied.push({ command: call.command, needs: describeAuthorization(a) });
      return Promise.reject(
        new EMRServerlessServiceException({
          name: 'AccessDeniedException',
          $fault: 'client',
          $metadata: { httpStatusCode: 403 },
          message: `not authorized to perform ${missing.map(describeAuthorization).join('; ')}`,
        }),
      );
    }
    return (inner.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
  };
  client.send = send as EMRServerlessClient['send'];
  return { client, calls, denied };
}
