import type { BatchLimits } from '../controller/batches.js';

/**
 * MAX_FILES_PER_JOB and MAX_BYTES_PER_JOB when unset, chosen by measurement (BENCHMARKS.md, "A
 * backlog through the controller"): batches of 100 took a backlog 14.6x faster than a job per file
 * on cold spark-submit and 4.9x on a warm Spark Connect session, where batches of 10 gave 3.9x.
 * A lone new file still starts at once (a batch never waits to fill), and 1 GiB of raw input
 * bounds a job's memory and the work a whole-run failure retries.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxFiles: 100, maxBytes: 1024 ** 3 };

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `1073741824`, `512m`, `1g`, `64k` (binary units, case-insensitive) as bytes; undefined when it is not a size. */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+)\s*([kmg]?)i?b?$/iu.exec(text.trim());
  if (m === null) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Bytes in the largest binary unit that divides them: `1g`, `512m`, `1000`. */
export function formatBytes(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    const size = UNITS[unit] as number;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
