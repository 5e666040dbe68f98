import { parseArgs } from 'node:util';
import { logEngineEvents } from '../../observability/engine-log-events.js';
import { progressLineFor } from '../../observability/progress-line.js';
import { logReliabilityEvents } from '../../observability/reliability-log-events.js';
import { logControllerEvents, logUpkeepEvents } from '../../observability/log-events.js';
import { type CommandContext, configFrom, loggerFor, writeLine } from '../context.js';
import { formatPassSummary, summaryJson } from '../format-summary.js';
import { handleShutdownSignals } from '../shutdown.js';
import { createWatcher } from '../wiring.js';

export const onceHelp = `once [--json]   one pass: process every new version, then exit
                0 when every candidate succeeded, 1 when any failed.
                --json: the last line of stdout is {"processed","failed","deadLettered","skipped","pending","upToDate"}`;

export async function onceCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: [...ctx.args], options: { json: { type: 'boolean', default: false } }, strict: true });
  const config = configFrom(ctx);
  const progress = progressLineFor(ctx.stderr, config.logFormat);
  const logger = loggerFor(ctx, config, progress?.logStream);
  const watcher = await createWatcher(config);
  logControllerEvents(watcher.reconciler, logger);
  logReliabilityEvents(watcher.reconciler, logger);
  logEngineEvents(watcher.engine, logger);
  if (watcher.upkeep) logUpkeepEvents(watcher.upkeep, logger);
  progress?.follow(watcher.reconciler);
  const shutdown = handleShutdownSignals(config.shutdownGraceMs, (m) => logger.warn(m, { event: 'shutdown' }));
  try {
    const summary = await watcher.reconciler.runPass({ stopStarting: shutdown.stopStarting, stopJobs: shutdown.stopJobs });
    if (values.json) writeLine(ctx.stdout, summaryJson(summary));
    else writeLine(ctx.stdout, formatPassSummary(summary, config.lake.kind === 'local' ? config.lake.root : undefined));
    return summary.failed > 0 ? 1 : 0;
  } finally {
    shutdown.dispose();
    progress?.close();
    await watcher.close();
  }
}
