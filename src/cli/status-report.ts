import type { CandidateVersion } from '../discovery/candidates.js';
import type { CuratedTableState } from '../state/curated-tables.js';
import type { MarkerDocument } from '../state/marker.js';
import { isProcessed } from '../state/marker.js';
import type { RunRecord } from '../state/run-history.js';
import type { DeadLetteredVersion } from './dead-lettered.js';
import type { RunningView } from './running-from-watch.js';

export interface LastFailure {
  readonly at: string | null;
  readonly runId: string;
  readonly key: string;
  readonly error: string | null;
}

export interface DatasetStatus {
  readonly dataset: string;
  /** Current versions under raw/ that are in the marker. */
  processed: number;
  /** Current versions under raw/ not in the marker and not dead-lettered. */
  pending: number;
  /** Jobs the watch process runs now; null when it could not be asked. */
  running: number | null;
  deadLettered: number;
  lastSuccess: string | null;
  /** The newest failed run among the reports read. */
  lastFailure: LastFailure | null;
  /** Its curated table: a Delta table's version and latest commit, or `parquet`; null when there is none yet. */
  curated: CuratedTableState | null;
}

export interface StatusReport {
  readonly lake: string;
  readonly markerUpdatedAt: string | null;
  readonly datasets: DatasetStatus[];
  /** The newest runs, newest first. */
  readonly runs: readonly RunRecord[];
  readonly running: RunningView;
}

export interface StatusInputs {
  readonly lake: string;
  readonly marker: MarkerDocument;
  readonly candidates: readonly CandidateVersion[];
  /** Newest first; every one is looked at for last failures, the first `shownRuns` are listed. */
  readonly runs: readonly RunRecord[];
  readonly shownRuns: number;
  readonly deadLetters: readonly DeadLetteredVersion[];
  readonly running: RunningView;
  /** Each dataset's curated table, as read from the lake (absent: none). */
  readonly curated: ReadonlyMap<string, CuratedTableState>;
}

/** One row per dataset seen under raw/, in the marker, the dead letters or the run reports. */
export function buildStatus(input: StatusInputs): StatusReport {
  const rows = new Map<string, DatasetStatus>();
  const knownRunning = 'jobs' in input.running ? input.running.jobs : undefined;
  const row = (dataset: string): DatasetStatus => {
    let r = rows.get(dataset);
    if (r === undefined) {
      r = {
        dataset,
        processed: 0,
        pending: 0,
        running: knownRunning ? knownRunning.filter((j) => j.dataset === dataset).length : null,
        deadLettered: 0,
        lastSuccess: null,
        lastFailure: null,
        curated: input.curated.get(dataset) ?? null,
      };
      rows.set(dataset, r);
    }
    return r;
  };
  // A dead letter counts while its version is the one in raw/ (a new ETag of the key is pending again).
  const dead = new Set(input.deadLetters.map((d) => `${d.key}\u0000${d.etag}`));
  for (const c of input.candidates) {
    const r = row(c.dataset);
    if (isProcessed(input.marker, c.key, c.etag)) {
      r.processed += 1;
      const finishedAt = input.marker.files[c.key]?.finishedAt ?? null;
      if (finishedAt !== null && (r.lastSuccess === null || finishedAt > r.lastSuccess)) r.lastSuccess = finishedAt;
    } else if (dead.has(`${c.key}\u0000${c.etag}`)) r.deadLettered += 1;
    else r.pending += 1;
  }
  for (const j of knownRunning ?? []) row(j.dataset);
  for (const dataset of input.curated.keys()) row(dataset);
  for (const run of input.runs) {
    if (run.status !== 'failed') continue;
    const r = row(run.dataset);
    if (r.lastFailure === null) r.lastFailure = { at: run.finishedAt ?? run.startedAt, runId: run.runId, key: run.key, error: run.error };
  }
  return {
    lake: input.lake,
    markerUpdatedAt: input.marker.updatedAt,
    datasets: [...rows.values()].sort((a, b) => (a.dataset < b.dataset ? -1 : a.dataset > b.dataset ? 1 : 0)),
    runs: input.runs.slice(0, input.shownRuns),
    running: input.running,
  };
}

/** The person's view: a table per dataset, then the newest runs. */
export function formatStatus(s: StatusReport): string {
  const lines = [`lake ${s.lake}  (marker updated ${s.markerUpdatedAt ?? 'never'})`, ''];
  const table = (header: string[], body: string[][], right: Set<number>): void => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: string[]): string =>
      cells
        .map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    lines.push(fmt(header), ...body.map(fmt));
  };
  table(
    ['dataset', 'processed', 'pending', 'running', 'dead-lettered', 'curated', 'last success', 'last failure'],
    s.datasets.map((d) => [
      d.dataset,
      String(d.processed),
      String(d.pending),
      d.running === null ? '?' : String(d.running),
      String(d.deadLettered),
      d.curated === null ? '-' : d.curated.format === 'delta' ? `delta v${d.curated.version}` : 'parquet',
      d.lastSuccess ?? '-',
      d.lastFailure ? `${d.lastFailure.at ?? '?'} ${d.lastFailure.key}: ${truncate(d.lastFailure.error ?? 'failed', 60)}` : '-',
    ]),
    new Set([1, 2, 3, 4]),
  );
  if (s.datasets.length === 0) lines.push('(no candidate files under raw/)');
  lines.push(
    '',
    'jobs running now: ' + ('jobs' in s.running ? `${s.running.jobs.length} (from ${s.running.source})` : `? (${s.running.unknown})`),
  );
  for (const j of 'jobs' in s.running ? s.running.jobs : []) lines.push(`  ${j.runId}  ${j.key}  since ${j.startedAt}`);
  lines.push('', s.runs.length === 0 ? 'no run reports under metadata/runs/ yet' : `last ${s.runs.length} runs (newest first):`);
  if (s.runs.length > 0) {
    // With ENGINE=emr-serverless, what each run was billed (vCPU-hours, memory GB-hours).
    const emr = s.runs.some((r) => r.emr !== undefined);
    const billed = (r: RunRecord): string[] =>
      !emr ? [] : r.emr?.billed ? [r.emr.billed.vCPUHour.toFixed(3), r.emr.billed.memoryGBHour.toFixed(3)] : ['-', '-'];
    table(
      ['run id', 'status', 'duration', 'read', 'cleaned', 'quarantined', 'curated', ...(emr ? ['billed vCPU-h', 'GB-h'] : []), 'key'],
      s.runs.map((r) => [
        r.runId,
        r.status,
        r.durationMs === null ? '-' : `${(r.durationMs / 1000).toFixed(1)} s`,
        ...(r.rows ? [r.rows.read, r.rows.cleaned, r.rows.quarantined, r.rows.curated].map(String) : ['-', '-', '-', '-']),
        ...billed(r),
        r.status === 'failed' && r.error
          ? `${r.key}: ${truncate(r.error, 60)}`
          : r.batch !== undefined
            ? `batch of ${r.batch.versions} (${r.dataset}${r.batch.failed > 0 ? `, ${r.batch.failed} failed` : ''}): ${r.key}`
            : r.key,
      ]),
      new Set(emr ? [2, 3, 4, 5, 6, 7, 8] : [2, 3, 4, 5, 6]),
    );
  }
  return lines.join('\n');
}

function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/gu, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
