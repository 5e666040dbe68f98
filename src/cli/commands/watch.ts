import { parseArgs } from 'node:util';
import { describeLake } from '../../config/lake-location.js';
import { watch } from '../../controller/watch-loop.js';
import { logEngineEvents } from '../../observability/engine-log-events.js';
import { progressLineFor } from '../../observability/progress-line.js';
import { logReliabilityEvents } from '../../observability/reliability-log-events.js';
import { logControllerEvents, logSqsEvents, logUpkeepEvents } from '../../observability/log-events.js';
import { type CommandContext, configFrom, loggerFor } from '../context.js';
import { startWatchObservability } from '../metrics-wiring.js';
import { handleShutdownSignals } from '../shutdown.js';
import { createSqsWatcher, createWatcher } from '../wiring.js';

export const watchHelp = `watch           poll raw/ every POLL_INTERVAL_SECONDS (or take S3 events from SQS) until SIGINT/SIGTERM;
                running jobs get SHUTDOWN_GRACE_SECONDS to finish, then exit 0`;

export async function watchCommand(ctx: CommandContext, overrides: Record<string, string> = {}): Promise<number> {
  parseArgs({ args: [...ctx.args], options: {}, strict: true });
  const config = configFrom(ctx, overrides);
  const progress = progressLineFor(ctx.stderr, config.logFormat);
  const logger = loggerFor(ctx, config, progress?.logStream);
  const watcher = await createWatcher(config);
  logControllerEvents(watcher.reconciler, logger);
  logReliabilityEvents(watcher.reconciler, logger);
  logEngineEvents(watcher.engine, logger);
  if (watcher.upkeep) logUpkeepEvents(watcher.upkeep, logger);
  progress?.follow(watcher.reconciler);
  const observability = await startWatchObservability(config, watcher.reconciler, logger, watcher.engine).catch(async (error: unknown) => {
    await watcher.close();
    throw error;
  });
  const shutdown = handleShutdownSignals(config.shutdownGraceMs, (m) => logger.warn(m, { event: 'shutdown' }));
  const how = config.discovery === 'sqs' ? `through ${config.sqs?.queueUrl}` : `every ${config.pollIntervalMs / 1000} s`;
  logger.info(`watching ${describeLake(config.lake)}raw/ ${how} (engine ${config.engine}); Ctrl-C to stop`, {
    event: 'watch:started',
    engine: config.engine,
  });
  try {
    const signals = { stopStarting: shutdown.stopStarting, stopJobs: shutdown.stopJobs };
    if (config.discovery === 'sqs') {
      const sqs = createSqsWatcher(watcher, signals);
      logSqsEvents(sqs, logger);
      observability.attachSqs(sqs);
      await sqs.run();
    } else {
      await watch(watcher.reconciler, { intervalMs: config.pollIntervalMs, ...signals });
    }
    logger.info('stopped', { event: 'watch:stopped' });
    return 0;
  } finally {
    shutdown.dispose();
    progress?.close();
    await observability.close();
    await watcher.close();
  }
}
