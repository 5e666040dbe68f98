import path from 'node:path';
import type { PassSummary } from '../controller/pass-summary.js';

/** A person's view of a pass: one block per file, rows per zone and where they went. */
export function formatPassSummary(summary: PassSummary, lakeRoot?: string): string {
  const lines: string[] = [];
  for (const r of summary.results) {
    const seconds = (r.durationMs / 1000).toFixed(1);
    if (r.status === 'succeeded' && r.rows) {
      lines.push(`✔ ${r.key}  (${seconds} s)`);
      lines.push(`    rows read ${r.rows.read}, cleaned ${r.rows.cleaned}, quarantined ${r.rows.quarantined}, curated ${r.rows.curated}`);
      for (const [zone, uri] of Object.entries(r.outputs ?? {})) lines.push(`    ${zone.padEnd(11)}→ ${shorten(uri, lakeRoot)}`);
    } else {
      lines.push(`✘ ${r.key}  (${seconds} s)${r.permanent ? ' [permanent]' : ''}${r.deadLettered ? ' [dead-lettered]' : ''}`);
      lines.push(`    ${r.error ?? 'failed'}`);
    }
  }
  lines.push(
    `${summary.processed} processed, ${summary.failed} failed, ${summary.deadLettered} dead-lettered, ${summary.upToDate} already up to date, ${summary.skipped} skipped (not candidates), ${summary.pending} pending`,
  );
  return lines.join('\n');
}

function shorten(uri: string, lakeRoot: string | undefined): string {
  if (lakeRoot === undefined) return uri;
  const local = uri.replace(/^file:\/\//u, '');
  return local.startsWith(lakeRoot) ? path.relative(process.cwd(), local) || '.' : uri;
}

/** The machine's view: the last line of `once --json`. */
export function summaryJson(summary: PassSummary): string {
  const { processed, failed, deadLettered, skipped, pending, upToDate } = summary;
  return JSON.stringify({ processed, failed, deadLettered, skipped, pending, upToDate });
}
