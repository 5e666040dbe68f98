import { datasetOf } from '../discovery/candidates.js';
import { type RowCounts, listRunReports } from '../engines/run-report.js';
import type { EmrUsage } from '../engines/emr/job-run-usage.js';
import type { ObjectStore } from '../storage/object-store.js';
import { batchManifestKey } from './batch-manifests.js';

/** One run as its report tells it, read leniently: a failed run's report may lack rows or dataset. */
export interface RunRecord {
  readonly runId: string;
  readonly key: string;
  /** The version's ETag as the report gives it (null when it does not). */
  readonly etag: string | null;
  readonly dataset: string;
  readonly status: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly rows: RowCounts | null;
  readonly error: string | null;
  /** With ENGINE=emr-serverless: what the EMR job run used and was billed (from its in-flight record); else absent. */
  readonly emr?: EmrUsage | null;
  /** A batch run (the job's `--manifest` form): how many versions it was given and how many of them failed. `key` is then its manifest's. */
  readonly batch?: { readonly versions: number; readonly failed: number };
}

/**
 * The newest run reports under `metadata/runs/`, newest first. Run ids start with their UTC start
 * time, so sorting the ids sorts the runs. A report is a file `<run-id>.json` on a local lake, a
 * folder `<run-id>.json/` with one part file on an object store; both are read. Only runs whose
 * Spark job wrote a report are here: a run stopped before the job could write one (killed, timed
 * out, spark-submit missing) is only in the controller's log.
 */
export async function readRecentRuns(store: ObjectStore, limit: number, signal?: AbortSignal): Promise<RunRecord[]> {
  const where = await listRunReports(store, signal);
  const newest = [...where.keys()].sort().reverse().slice(0, limit);
  const records = await Promise.all(
    newest.map(async (runId) => {
      const object = await store.get(where.get(runId) ?? '', signal);
      return object === undefined ? undefined : toRecord(runId, object.body.toString('utf8'));
    }),
  );
  return records.filter((r): r is RunRecord => r !== undefined);
}

function toRecord(runId: string, text: string): RunRecord | undefined {
  let r: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    r = value as Record<string, unknown>;
  } catch {
    return undefined; // a report being written, or not ours: not a run to show
  }
  const files = Array.isArray(r['files']) ? (r['files'] as Array<Record<string, unknown> | null>) : undefined;
  const key = typeof r['key'] === 'string' ? r['key'] : files !== undefined ? batchManifestKey(runId) : '';
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const startedAt = str(r['startedAt']);
  const finishedAt = str(r['finishedAt']);
  const rows = r['rows'] as Record<string, unknown> | undefined;
  const counts = rows && ['read', 'cleaned', 'quarantined', 'curated'].every((k) => Number.isInteger(rows[k]));
  const error = r['error'] as { message?: unknown } | undefined;
  const duration = startedAt !== null && finishedAt !== null ? Date.parse(finishedAt) - Date.parse(startedAt) : NaN;
  return {
    runId,
    key,
    etag: str(r['etag']),
    dataset: str(r['dataset']) ?? (key.startsWith('raw/') ? datasetOf(key) : '?'),
    status: str(r['status']) ?? 'unknown',
    startedAt,
    finishedAt,
    durationMs: Number.isFinite(duration) ? duration : null,
    rows: counts ? (rows as unknown as RowCounts) : null,
    error: error && typeof error.message === 'string' ? error.message : null,
    ...(files !== undefined
      ? { batch: { versions: files.length, failed: files.filter((f) => f?.['status'] !== 'succeeded').length } }
      : {}),
  };
}
