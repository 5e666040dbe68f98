import type { CandidateVersion } from '../discovery/candidates.js';
import { inputProblem } from '../discovery/input-problem.js';

/** How much one job may take: `MAX_FILES_PER_JOB` versions and `MAX_BYTES_PER_JOB` bytes of raw input. */
export interface BatchLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
}

/** One version per job: the behaviour before batches (`MAX_FILES_PER_JOB=1`). */
export const ONE_FILE_PER_JOB: BatchLimits = { maxFiles: 1, maxBytes: Number.POSITIVE_INFINITY };

/**
 * Groups versions (sorted oldest first) into jobs: each batch holds versions of one dataset, oldest
 * first, up to `maxFiles` of them and `maxBytes` of raw input (a bigger version gets a job of its
 * own). Batches come in the order of their oldest version, so the oldest work still starts first.
 * A version no job can use (`inputProblem`) goes alone: it is dead-lettered without a job. Nothing
 * waits for a batch to fill: whatever is pending now is what a batch takes.
 */
export function formBatches(versions: readonly CandidateVersion[], limits: BatchLimits): CandidateVersion[][] {
  const batches: CandidateVersion[][] = [];
  const open = new Map<string, { files: CandidateVersion[]; bytes: number }>();
  for (const v of versions) {
    if (inputProblem(v) !== undefined) {
      batches.push([v]);
      continue;
    }
    const current = open.get(v.dataset);
    if (current !== undefined && current.files.length < limits.maxFiles && current.bytes + v.size <= limits.maxBytes) {
      current.files.push(v);
      current.bytes += v.size;
      continue;
    }
    const files = [v];
    batches.push(files);
    open.set(v.dataset, { files, bytes: v.size });
  }
  return batches;
}

/** The two halves of a batch whose whole run failed: the bisection that finds the version at fault. */
export function halves<T>(batch: readonly T[]): [T[], T[]] {
  const middle = Math.ceil(batch.length / 2);
  return [batch.slice(0, middle), batch.slice(middle)];
}
