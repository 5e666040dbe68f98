import { parseArgs } from 'node:util';
import { candidateFilter } from '../../discovery/candidates.js';
import { PollingDiscovery } from '../../discovery/poller.js';
import { ConfigError } from '../../errors.js';
import { type CuratedTableState, curatedTableState } from '../../state/curated-tables.js';
import { MarkerStore } from '../../state/marker.js';
import { readRecentRuns } from '../../state/run-history.js';
import { withEmrUsage } from '../emr-run-usage.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';
import { type DeadLetterView, deadLettersIn } from '../dead-lettered.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { runningFromWatch } from '../running-from-watch.js';
import { buildStatus, formatStatus } from '../status-report.js';
import { createStore } from '../wiring.js';

export const statusHelp = `status [--json] [--runs N]
                per dataset: processed, pending, running, dead-lettered, its curated table (a Delta
                table's version and last commit), last success and failure; then the last N runs
                (default 10) with duration and row counts`;

/** Failures are looked for among this many newest run reports. */
export const RUN_REPORTS_SCANNED = 200;

export async function statusCommand(
  ctx: CommandContext,
  deadLettersOf: (store: ObjectStore) => DeadLetterView = deadLettersIn,
): Promise<number> {
  const { values } = parseArgs({
    args: [...ctx.args],
    options: { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '10' } },
    strict: true,
  });
  const shownRuns = Number(values.runs);
  if (!/^\d+$/u.test(values.runs) || shownRuns > RUN_REPORTS_SCANNED) {
    throw new ConfigError(`--runs ${values.runs}: give a whole number from 0 to ${RUN_REPORTS_SCANNED}`);
  }
  const config = configFrom(ctx);
  const store = await createStore(config);
  const [{ document }, { candidates }, runs, dead, running] = await Promise.all([
    new MarkerStore(store).load(),
    new PollingDiscovery(store, candidateFilter(config.candidateGlob)).discover(),
    readRecentRuns(store, RUN_REPORTS_SCANNED),
    deadLettersOf(store)(),
    runningFromWatch(config.metrics),
  ]);
  const curated = new Map<string, CuratedTableState>();
  await Promise.all(
    [...new Set(candidates.map((c) => c.dataset))].map(async (dataset) => {
      const state = await curatedTableState(store, dataset);
      if (state !== undefined) curated.set(dataset, state);
    }),
  );
  const status = buildStatus({
    lake: store.description,
    marker: document,
    candidates,
    runs: config.engine === 'emr-serverless' ? await withEmrUsage(store, runs, shownRuns) : runs,
    shownRuns,
    deadLetters: dead,
    running,
    curated,
  });
  writeLine(ctx.stdout, values.json ? JSON.stringify(status) : formatStatus(status));
  return 0;
}
