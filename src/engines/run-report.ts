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
  readonly error?: JobErrorReport;
}

/** Why a run (or one file of a batch) failed, as the job reported it. */
export interface JobErrorReport {
  readonly kind: 'permanent' | 'retryable';
  readonly type?: string;
  readonly message: string;
}

/** One file version of a batch run, as the batch report lists it (rows not reached are null). */
export interface BatchFileReport {
  readonly key: string;
  readonly etag: string;
  readonly status: RunStatus;
  readonly rows: RowCounts;
  readonly outputs: Readonly<Record<string, string>>;
  readonly error?: JobErrorReport;
}

/**
 * The report of a batch run (the job's `--manifest` form): one entry per version of the manifest,
 * in its order, each with its own rows and outcome; `rows` are the totals of the succeeded files.
 */
export interface BatchRunReport extends Omit<RunReport, 'key' | 'etag'> {
  /** The manifest the run processed (a URI). */
  readonly manifest: string;
  readonly files: readonly BatchFileReport[];
}

/** What a job run reports: one version (`--key`), or a batch of them (`--manifest`). */
export type JobReport = RunReport | BatchRunReport;

export function isBatchReport(report: JobReport): report is BatchRunReport {
  return Array.isArray((report as Partial<BatchRunReport>).files);
}

/**
 * The run as one report per version it processed successfully: the report itself, or each
 * succeeded file of a batch with the batch's run id, times, engine and Spark version.
 */
export function succeededVersions(report: JobReport): RunReport[] {
  if (!isBatchReport(report)) return report.status === 'succeeded' ? [report] : [];
  const { files, manifest: _manifest, rows: _totals, outputs: _outputs, error: _error, ...run } = report;
  return files
    .filter((f) => f.status === 'succeeded')
    .map((f) => ({ ...run, key: f.key, etag: f.etag, status: f.status, rows: f.rows, outputs: f.outputs }));
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
export async function readRunReport(store: ObjectStore, runId: string, signal?: AbortSignal): Promise<JobReport | undefined> {
  const text = await readRunReportText(store, runId, signal);
  return text === undefined ? undefined : parseJobReport(text, runReportKey(runId));
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

const COUNT_NAMES = ['read', 'cleaned', 'quarantined', 'curated'] as const;

function hasCounts(rows: unknown): rows is RowCounts {
  return typeof rows === 'object' && rows !== null && COUNT_NAMES.every((k) => Number.isInteger((rows as Record<string, unknown>)[k]));
}

/** A run report of either form, checked for what the controller relies on; a RetryableError names what is wrong. */
export function parseJobReport(text: string, where: string): JobReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RetryableError(`the run report ${where} is not JSON`, { cause: error });
  }
  const r = value as Record<string, unknown> | null;
  if (!r || typeof r['runId'] !== 'string' || !RUN_STATUSES.includes(r['status'] as RunStatus) || !hasCounts(r['rows'])) {
    throw new RetryableError(`the run report ${where} lacks runId, status or row counts`);
  }
  const files = r['files'];
  if (files === undefined) {
    if (typeof r['key'] !== 'string') throw new RetryableError(`the run report ${where} lacks key (or files, for a batch)`);
    return r as unknown as RunReport;
  }
  if (!Array.isArray(files)) throw new RetryableError(`the run report ${where}: files is not a list`);
  files.forEach((f: unknown, i) => {
    const file = f as Record<string, unknown> | null;
    const ok =
      file !== null &&
      typeof file === 'object' &&
      typeof file['key'] === 'string' &&
      typeof file['etag'] === 'string' &&
      RUN_STATUSES.includes(file['status'] as RunStatus) &&
      (file['status'] !== 'succeeded' || hasCounts(file['rows']));
    if (!ok) throw new RetryableError(`the run report ${where}: files[${i}] lacks key, etag, status or (succeeded) row counts`);
  });
  return r as unknown as BatchRunReport;
}

/** The report of a one-version run; a batch's report here is a RetryableError (the job answered another form). */
export function singleVersionReport(report: JobReport, where: string): RunReport {
  if (isBatchReport(report)) throw new RetryableError(`the run report ${where} is a batch's, not one version's`);
  return report;
}
