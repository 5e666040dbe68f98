import type { Config } from '../config/config.js';
import { PIPELINE_PATH } from '../config/project-paths.js';
import { sparkLakeUri } from '../config/lake-location.js';
import { Reconciler } from '../controller/reconciler.js';
import { SqsWatcher } from '../controller/sqs-watch-loop.js';
import { SqsSource } from '../discovery/sqs-source.js';
import { ConfigError } from '../errors.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadDatasetSpecs } from '../datasets/load-specs.js';
import { candidateFilter } from '../discovery/candidates.js';
import { PollingDiscovery } from '../discovery/poller.js';
import type { SparkEngine } from '../engines/engine.js';
import { createEmrEngine } from '../engines/emr/create-emr-engine.js';
import { checkJava, resolveSparkInstall } from '../engines/spark-install.js';
import { SparkSubmitEngine } from '../engines/spark-submit-engine.js';
import { s3aJars, s3aSparkSettings } from '../engines/s3a-support.js';
import { MarkerStore } from '../state/marker.js';
import { LocalObjectStore } from '../storage/local-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { checkBucketReachable } from '../storage/s3-bucket-check.js';
import { createS3Client } from '../storage/s3-client.js';
import { S3ObjectStore } from '../storage/s3-store.js';

export interface Watcher {
  readonly config: Config;
  readonly store: ObjectStore;
  readonly marker: MarkerStore;
  readonly reconciler: Reconciler;
  readonly engine: SparkEngine;
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

/** The local engine: one spark-submit per version, on this machine, over s3a for an S3 lake. */
async function createLocalEngine(config: Config, store: ObjectStore): Promise<SparkEngine> {
  const install = resolveSparkInstall(config.sparkSubmit, config.childEnv);
  await checkJava(config.childEnv);
  const s3a = config.lake.kind === 's3' ? { ...s3aSparkSettings(config), jars: s3aJars(install.sparkSubmit) } : undefined;
  return new SparkSubmitEngine({
    sparkSubmit: install.sparkSubmit,
    pysparkPython: install.pysparkPython,
    master: config.sparkMaster,
    pipelinePath: PIPELINE_PATH,
    lakeUri: sparkLakeUri(config.lake),
    store,
    logDir: config.runLogDir,
    timeoutMs: config.jobTimeoutMs,
    env: { ...config.childEnv, ...s3a?.env },
    ...(s3a ? { sparkConf: s3a.conf, jars: s3a.jars } : {}),
  });
}

/** Builds the whole watcher from a Config: the one place where the parts meet. */
export async function createWatcher(config: Config): Promise<Watcher> {
  const store = await createStore(config);
  const specs = await loadDatasetSpecs(config.datasetsDir);
  const engine = config.engine === 'emr-serverless' ? await createEmrEngine(config, store) : await createLocalEngine(config, store);
  const marker = new MarkerStore(store);
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter(config.candidateGlob)),
    marker,
    engine,
    specs,
    maxConcurrentJobs: config.maxConcurrentJobs,
  });
  let closing: Promise<void> | undefined;
  return { config, store, marker, reconciler, engine, close: () => (closing ??= engine.close()) };
}
