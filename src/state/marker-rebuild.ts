import { type RunReport, listRunReports, parseJobReport, succeededVersions } from '../engines/run-report.js';
import type { ObjectStore } from '../storage/object-store.js';
import { MARKER_FORMAT_VERSION, type MarkerDocument, type ProcessedEntry } from './marker.js';

/** What `marker rebuild` found. */
export interface RebuiltMarker {
  readonly document: MarkerDocument;
  /** Run reports read (either form). */
  readonly reports: number;
  /** Reports that said succeeded. */
  readonly succeeded: number;
  /** Reports that could not be read as a run report (being written, or not ours). */
  readonly unreadable: number;
}

/**
 * The marker as the run reports in `metadata/runs/` tell it: for each raw key, the newest
 * successful run of the version that is in raw/ now. A version no longer in raw/ (overwritten or
 * deleted) gets no entry: a pass never compares against it. Reports are files `<run-id>.json` on a
 * local lake and folders `<run-id>.json/` with one part file on an object store; both are read.
 */
export async function rebuildMarker(store: ObjectStore, options: { now?: () => Date; signal?: AbortSignal } = {}): Promise<RebuiltMarker> {
  const { signal } = options;
  const where = await listRunReports(store, signal);
  let unreadable = 0;
  let succeeded = 0;
  const newest = new Map<string, RunReport>();
  for (const [runId, key] of where) {
    const object = await store.get(key, signal);
    if (object === undefined) continue;
    let versions: RunReport[];
    try {
      const report = parseJobReport(object.body.toString('utf8'), key);
      if (report.runId !== runId) continue;
      // A batch's report lists each version's outcome: its succeeded ones count, whatever the others did.
      versions = report.status === 'succeeded' ? succeededVersions(report) : [];
    } catch {
      unreadable += 1;
      continue;
    }
    if (versions.length === 0) continue;
    succeeded += 1;
    for (const report of versions) {
      const seen = newest.get(report.key);
      if (seen === undefined || report.finishedAt > seen.finishedAt) newest.set(report.key, report);
    }
  }
  const files: Record<string, ProcessedEntry> = {};
  for (const [key, report] of [...newest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const raw = await store.head(key, signal);
    if (raw === undefined || raw.etag !== report.etag) continue;
    files[key] = {
      etag: report.etag,
      size: raw.size,
      runId: report.runId,
      engine: report.engine ?? 'rebuilt',
      finishedAt: report.finishedAt,
      rows: report.rows,
    };
  }
  return {
    document: { version: MARKER_FORMAT_VERSION, updatedAt: (options.now ?? (() => new Date()))().toISOString(), files },
    reports: where.size,
    succeeded,
    unreadable,
  };
}
