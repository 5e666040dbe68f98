/** What the bucket's JSON documents (marker, its deltas, dead letters) share when they are read. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reports a problem with a document by throwing its own corrupt-document error. */
export type Fail = (problem: string, cause?: unknown) => never;

/** The document's top-level object, once it is JSON, an object, and of the `version` this build reads. */
export function parseVersionedObject(text: string, version: number, fail: Fail): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON: ${(error as Error).message}`, error);
  }
  if (!isRecord(parsed)) return fail('the top level is not a JSON object');
  if (parsed['version'] !== version) {
    return fail(`"version" is ${JSON.stringify(parsed['version'])}; this build reads version ${version}`);
  }
  return parsed;
}
