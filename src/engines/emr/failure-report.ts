import type { ObjectStore } from '../../storage/object-store.js';
import { readRunReportText } from '../run-report.js';

/** What a failed job says about itself in its report: `error: {kind, type, message}`. */
export interface JobFailure {
  readonly kind: 'permanent' | 'retryable';
  readonly type?: string;
  readonly message: string;
}

/**
 * The failure a job recorded in its report. On EMR the job's exit code (2: the input is unusable)
 * does not reach the controller, so the report is where "permanent" is read. A failed report has
 * null row counts, so it is read leniently; undefined when there is no usable failure in it.
 */
export async function readJobFailure(store: ObjectStore, runId: string, signal?: AbortSignal): Promise<JobFailure | undefined> {
  let value: unknown;
  try {
    const text = await readRunReportText(store, runId, signal);
    if (text === undefined) return undefined;
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (value as { status?: unknown; error?: Partial<JobFailure> } | null)?.error;
  if ((value as { status?: unknown }).status !== 'failed' || typeof error?.message !== 'string') return undefined;
  if (error.kind !== 'permanent' && error.kind !== 'retryable') return undefined;
  return { kind: error.kind, message: error.message, ...(typeof error.type === 'string' ? { type: error.type } : {}) };
}
