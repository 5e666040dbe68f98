import type winston from 'winston';
import type { Config } from '../config/config.js';
import type { Reconciler } from '../controller/reconciler.js';
import type { SqsWatcher } from '../controller/sqs-watch-loop.js';
import type { SparkEngine } from '../engines/engine.js';
import { EmrServerlessEngine } from '../engines/emr/emr-serverless-engine.js';
import { EmrUsageMetrics } from '../observability/emr-metrics.js';
import { recordControllerMetrics, recordSqsMetrics } from '../observability/metric-events.js';
import { type MetricsServer, startMetricsServer } from '../observability/metrics-server.js';
import { WatcherMetrics } from '../observability/metrics.js';
import { Readiness } from '../observability/readiness.js';
import { RunningJobs } from '../observability/running-jobs.js';

export interface WatchObservability {
  /** Feed SQS discovery's events to readiness too. */
  attachSqs(watcher: SqsWatcher): void;
  close(): Promise<void>;
}

/** With METRICS_PORT set: metrics and readiness fed by the controller's events, and the server that serves them. */
export async function startWatchObservability(
  config: Config,
  reconciler: Reconciler,
  logger: winston.Logger,
  engine?: SparkEngine,
): Promise<WatchObservability> {
  if (config.metrics === undefined) return { attachSqs: () => undefined, close: async () => undefined };
  const passIntervalMs = config.discovery === 'sqs' ? config.reconcileIntervalMs : config.pollIntervalMs;
  const metrics = new WatcherMetrics({ engine: config.engine, passIntervalMs });
  const readiness = new Readiness({ passIntervalMs });
  const running = new RunningJobs();
  recordControllerMetrics(reconciler, { metrics, readiness, running });
  if (engine instanceof EmrServerlessEngine) new EmrUsageMetrics(metrics.registry).record(engine);
  const server: MetricsServer = await startMetricsServer({ ...config.metrics, metrics, readiness, running });
  logger.info(`metrics on ${server.url}/metrics, health on ${server.url}/healthz and /readyz`, {
    event: 'metrics:listening',
    url: server.url,
  });
  return { attachSqs: (sqs) => recordSqsMetrics(sqs, { readiness }), close: () => server.close() };
}
