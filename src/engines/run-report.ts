import { RetryableError } from '../errors.js';
import type { EmrUsage } from './emr/job-run-usage.js';
import { type ObjectStore, listAll } from '../storage/object-store.js';

/** Row counts of one run, per zone (the Spark job's contract). */
export interface RowCounts {
  readonly read: number;
  readonly cleaned: number;
  readonly quarantined: number;
  readonly curated: number;
}

export const RUN_STATUSES = ['succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** `metadata/runs/<run-id>.json`, written by the Spark job. */
export interface RunReport {
  readonly runId: string;
  readonly key: string;
  readonly etag: string;
  readonly dataset: string;
  readonly status: RunStatus;
  readonly rows: RowCounts;
  readonly outputs: Readonly<Record<string, string>>;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly sparkVersion: string;
  /** The Python the job ran on (its driver's), e.g. `3.9.18`; absent in reports of older job code. */
  readonly pythonVersion?: string;
  /** Which engine ran it, when the configured one chose (ENGINE=auto: connect or local). Set by the engine, not the job. */
  readonly engine?: string;
  /** What the EMR Serverless job run used and was billed. Set by the EMR engine, not the job. */
  readonly emr?: EmrUsage;
  /** Wall milliseconds per phase of the job: read, plan, check, write, curate. */
  readonly timingsMs?: Readonly<Record<string, number>>;
  readonly error?: { readonly kind: 'permanent' | 'retryable'; readonly type?: string; readonly message: string };
}

export const RUNS_PREFIX = 'metadata/runs/';

/**
 * Where each run's report is, by run id: `metadata/runs/<run-id>.json` (a local lake) or the
 * non-empty part file of the folder `metadata/runs/<run-id>.json/` (Spark on an object store).
 */
export async function listRunReports(store: ObjectStore, signal?: AbortSignal): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  for await (const o of listAll(store, RUNS_PREFIX, signal ? { signal } : {})) {
    const m = /^metadata\/runs\/([^/]+)\.json(\/part-[^/]*)?$/u.exec(o.key);
    if (m?.[1] === undefined || (m[2] !== undefined && o.size === 0)) continue;
    if (m[2] === undefined || !where.has(m[1])) where.set(m[1], o.key);
  }
  return where;
}

export function runReportKey(runId: string): string {
  return `${RUNS_PREFIX}${runId}.json`;
}

/**
 * Reads a run's report. The job writes a plain file on a local lake; on an object store, where
 * the pure DataFrame API can only write folders, it is a folder holding one part file. Both are read.
 * undefined when there is none.
 */
export async function readRunReport(store: ObjectStore, runId: string, signal?: AbortSignal): Promise<RunReport | undefined> {
  const text = await readRunReportText(store, runId, signal);
  return text === undefined ? undefined : parseRunReport(text, runReportKey(runId));
}

/** The report's text as the job wrote it (file, or the part file of a folder), unchecked; undefined when there is none. */
export async function readRunReportText(store: ObjectStore, runId: string, signal?: AbortSignal): Promise<string | undefined> {
  const key = runReportKey(runId);
  let object = await store.get(key, signal);
  if (object === undefined) {
    const page = await store.listPage(`${key}/`, signal ? { signal } : {});
    const part = page.objects.find((o) => /\/part-[^/]*$/u.test(o.key) && o.size > 0);
    if (part !== undefined) object = await store.get(part.key, signal);
  }
  return object?.body.toString('utf8');
}

export function parseRunReport(text: string, where: string): RunReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RetryableError(`the run report ${where} is not JSON`, { cause: error });
  }
  const r = value as Partial<RunReport> | null;
  const rows = r?.rows;
  const counts =
    rows && ['read', 'cleaned', 'quarantined', 'curated'].every((k) => Number.isInteger((rows as unknown as Record<string, unknown>)[k]));
  if (!r || typeof r.runId !== 'string' || typeof r.key !== 'string' || !RUN_STATUSES.includes(r.status as RunStatus) || !counts) {
    throw new RetryableError(`the run report ${where} lacks runId, key, status or row counts`);
  }
  return r as RunReport;
}
