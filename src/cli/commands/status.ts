import { parseArgs } from 'node:util';
import { candidateFilter } from '../../discovery/candidates.js';
import { PollingDiscovery } from '../../discovery/poller.js';
import { DeadLetterStore, isDeadLettered } from '../../state/dead-letters.js';
import { MarkerStore, isProcessed } from '../../state/marker.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';
import { createStore } from '../wiring.js';

export const statusHelp = `status [--json] per dataset: processed, dead-lettered and pending versions, last success`;

interface DatasetStatus {
  dataset: string;
  processed: number;
  deadLettered: number;
  pending: number;
  lastSuccess: string | null;
}

export async function statusCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: [...ctx.args], options: { json: { type: 'boolean', default: false } }, strict: true });
  const config = configFrom(ctx);
  const store = await createStore(config);
  const { document } = await new MarkerStore(store).load();
  const { document: dead } = await new DeadLetterStore(store).load();
  const { candidates } = await new PollingDiscovery(store, candidateFilter(config.candidateGlob)).discover();
  const byDataset = new Map<string, DatasetStatus>();
  for (const c of candidates) {
    const row = byDataset.get(c.dataset) ?? { dataset: c.dataset, processed: 0, deadLettered: 0, pending: 0, lastSuccess: null };
    if (isProcessed(document, c.key, c.etag)) {
      row.processed += 1;
      const finishedAt = document.files[c.key]?.finishedAt ?? null;
      if (finishedAt !== null && (row.lastSuccess === null || finishedAt > row.lastSuccess)) row.lastSuccess = finishedAt;
    } else if (isDeadLettered(dead, c.key, c.etag)) row.deadLettered += 1;
    else row.pending += 1;
    byDataset.set(c.dataset, row);
  }
  const datasets = [...byDataset.values()].sort((a, b) => (a.dataset < b.dataset ? -1 : 1));
  if (values.json) {
    writeLine(ctx.stdout, JSON.stringify({ lake: store.description, markerUpdatedAt: document.updatedAt, datasets }));
    return 0;
  }
  writeLine(ctx.stdout, `lake ${store.description}  (marker updated ${document.updatedAt ?? 'never'})`);
  writeLine(ctx.stdout, `${'dataset'.padEnd(24)}${'processed'.padStart(10)}${'dead'.padStart(6)}${'pending'.padStart(10)}  last success`);
  for (const d of datasets) {
    writeLine(
      ctx.stdout,
      `${d.dataset.padEnd(24)}${String(d.processed).padStart(10)}${String(d.deadLettered).padStart(6)}${String(d.pending).padStart(10)}  ${d.lastSuccess ?? '-'}`,
    );
  }
  if (datasets.length === 0) writeLine(ctx.stdout, '(no candidate files under raw/)');
  return 0;
}
