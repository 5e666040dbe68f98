import { UnsafeKeyError, UnusableInputError } from '../errors.js';
import { assertSafeKey } from '../storage/keys.js';
import type { CandidateVersion } from './candidates.js';

/**
 * Why a candidate can never be processed, found without running a job: a key the lake refuses
 * (control characters, `..`, longer than 1,024 bytes: never passed to Spark or a path), or an
 * empty object (no Parquet file is 0 bytes). The error names the key and is permanent, so the
 * version is dead-lettered at once and shows in `dead-letter list`; `undefined` when it may run.
 */
export function inputProblem(c: Pick<CandidateVersion, 'key' | 'size'>): UnsafeKeyError | UnusableInputError | undefined {
  try {
    assertSafeKey(c.key);
  } catch (error) {
    if (error instanceof UnsafeKeyError) return error;
    throw error;
  }
  if (c.size === 0) {
    return new UnusableInputError(
      `raw object ${JSON.stringify(c.key)} is empty (0 bytes), so it is not a Parquet file; upload the whole file again`,
    );
  }
  return undefined;
}
