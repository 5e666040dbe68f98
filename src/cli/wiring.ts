import type { Config } from '../config/config.js';
import { Reconciler } from '../controller/reconciler.js';
import { RunHistoryUpkeep } from '../controller/run-history-upkeep.js';
import { SqsWatcher } from '../controller/sqs-watch-loop.js';
import { SqsSource } from '../discovery/sqs-source.js';
import { ConfigError } from '../errors.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadDatasetSpecs } from '../datasets/load-specs.js';
import { candidateFilter } from '../discovery/candidates.js';
import { PollingDiscovery } from '../discovery/poller.js';
import type { SparkEngine } from '../engines/engine.js';
import { BatchManifests } from '../state/batch-manifests.js';
import { ClaimStore } from '../state/claims.js';
import { DeadLetterStore } from '../state/dead-letters.js';
import { MarkerStore } from '../state/marker.js';
import { RunHistoryPruner } from '../state/run-retention.js';
import { LocalObjectStore } from '../storage/local-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { checkBucketReachable } from '../storage/s3-bucket-check.js';
import { createS3Client } from '../storage/s3-client.js';
import { createEngine } from './engine-wiring.js';
import { S3ObjectStore } from '../storage/s3-store.js';

export interface Watcher {
  readonly config: Config;
  readonly store: ObjectStore;
  readonly marker: MarkerStore;
  readonly deadLetters: DeadLetterStore;
  readonly reconciler: Reconciler;
  readonly engine: SparkEngine;
  /** Prunes old run history after passes (RUN_HISTORY_DAYS); undefined when it is kept whole (`0`). */
  readonly upkeep?: RunHistoryUpkeep;
  close(): Promise<void>;
}

/** The object store of the configured lake; for S3, after checking the bucket can be used. */
export async function createStore(config: Config): Promise<ObjectStore> {
  if (config.lake.kind === 'local') return new LocalObjectStore(config.lake.root);
  const client = createS3Client(config);
  await checkBucketReachable(client, config.lake.bucket, config.s3.endpoint);
  return new S3ObjectStore({ client, bucket: config.lake.bucket, prefix: config.lake.prefix });
}

/** SQS discovery for `watch` with DISCOVERY=sqs. */
export function createSqsWatcher(watcher: Watcher, signals: { stopStarting: AbortSignal; stopJobs: AbortSignal }): SqsWatcher {
  const { config } = watcher;
  if (config.sqs === undefined || config.lake.kind !== 's3') throw new ConfigError('DISCOVERY=sqs needs SQS_QUEUE_URL and an S3 lake');
  const queueHost = new URL(config.sqs.queueUrl);
  const client = new SQSClient({
    ...(config.s3.region !== undefined ? { region: config.s3.region } : {}),
    // An SQS-compatible server (moto, LocalStack): talk to the host in the queue URL.
    ...(queueHost.hostname.endsWith('.amazonaws.com') ? {} : { endpoint: queueHost.origin }),
    ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
  });
  return new SqsWatcher(watcher.reconciler, {
    source: new SqsSource({ client, queueUrl: config.sqs.queueUrl, visibilitySeconds: config.sqs.visibilitySeconds }),
    bucket: config.lake.bucket,
    lakePrefix: config.lake.prefix,
    reconcileIntervalMs: config.reconcileIntervalMs,
    ...signals,
  });
}

/** Parts a caller brings instead of the ones the Config names (tests: an engine whose AWS side is a rehearsal). */
export interface WatcherParts {
  /** Builds the engine on the lake's store. @default the engine ENGINE names */
  readonly createEngine?: (store: ObjectStore) => Promise<SparkEngine>;
}

/** Builds the whole watcher from a Config: the one place where the parts meet. */
export async function createWatcher(config: Config, parts: WatcherParts = {}): Promise<Watcher> {
  const store = await createStore(config);
  const specs = await loadDatasetSpecs(config.datasetsDir);
  const engine = await (parts.createEngine ?? ((s: ObjectStore) => createEngine(config, s)))(store);
  const marker = new MarkerStore(store);
  const deadLetters = new DeadLetterStore(store);
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter(config.candidateGlob)),
    marker,
    deadLetters,
    engine,
    specs,
    maxConcurrentJobs: config.maxConcurrentJobs,
    batchLimits: config.batchLimits,
    manifests: new BatchManifests(store),
    retry: config.retry,
    claims: new ClaimStore(store, { ttlMs: config.claimTtlMs }),
  });
  const upkeep =
    config.runHistoryKeepMs === undefined
      ? undefined
      : new RunHistoryUpkeep(
          new RunHistoryPruner(store, { marker, deadLetters }, { keepMs: config.runHistoryKeepMs, logDir: config.runLogDir }),
        );
  upkeep?.follow(reconciler);
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await upkeep?.idle();
    await engine.close();
  };
  return { config, store, marker, deadLetters, reconciler, engine, ...(upkeep ? { upkeep } : {}), close: () => (closing ??= close()) };
}
