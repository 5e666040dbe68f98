import type { Config } from '../config/config.js';
import { sparkLakeUri } from '../config/lake-location.js';
import { PIPELINE_PATH, WORKER_PATH } from '../config/project-paths.js';
import { AutoEngine } from '../engines/auto-engine.js';
import { ConnectEngine } from '../engines/connect/connect-engine.js';
import { portAnswers } from '../engines/connect/spark-remote.js';
import { createEmrEngine } from '../engines/emr/create-emr-engine.js';
import { DELTA_SPARK_CONF, deltaJars } from '../engines/delta-support.js';
import type { SparkEngine } from '../engines/engine.js';
import { s3aJars, s3aSparkSettings } from '../engines/s3a-support.js';
import { type SparkInstall, checkJava, resolveSparkInstall } from '../engines/spark-install.js';
import { SparkSubmitEngine, type SparkSubmitSettings } from '../engines/spark-submit-engine.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The engine ENGINE names: local spark-submit, Spark Connect, auto (Connect when it answers), or EMR Serverless. */
export async function createEngine(config: Config, store: ObjectStore): Promise<SparkEngine> {
  if (config.engine === 'emr-serverless') return createEmrEngine(config, store); // needs no local Spark or Java
  const install = resolveSparkInstall(config.sparkSubmit, config.childEnv);
  const connect = (): ConnectEngine =>
    new ConnectEngine({
      remoteUrl: config.sparkRemote.url,
      python: install.pysparkPython ?? 'python3',
      workerPath: WORKER_PATH,
      lakeUri: sparkLakeUri(config.lake),
      workers: config.maxConcurrentJobs,
      timeoutMs: config.jobTimeoutMs,
      logDir: config.runLogDir,
      // The worker only sends plans: the server reads and writes the lake, so no credentials here.
      env: Object.fromEntries(Object.entries(config.childEnv).filter(([k]) => !k.startsWith('AWS_'))),
    });
  if (config.engine === 'connect') return connect();

  const spark = await localSpark(config, install);
  const local = new SparkSubmitEngine({
    ...spark,
    pipelinePath: PIPELINE_PATH,
    lakeUri: sparkLakeUri(config.lake),
    store,
    logDir: config.runLogDir,
    timeoutMs: config.jobTimeoutMs,
  });
  if (config.engine === 'local') return local;
  return new AutoEngine({ connect: connect(), local, connectAnswers: (signal) => portAnswers(config.sparkRemote, 500, signal) });
}

/** How to run a script on this machine's Spark: spark-submit, its Python, env, and settings for the lake (Delta, s3a). */
export interface LocalSpark extends SparkSubmitSettings {
  readonly sparkSubmit: string;
  readonly pysparkPython: string | undefined;
  readonly env: Readonly<Record<string, string>>;
}

/** Checks Java and finds the jars (Delta, and s3a for an S3 lake) before anything runs: a missing one is a prerequisite, said once. */
export async function localSpark(
  config: Config,
  install: SparkInstall = resolveSparkInstall(config.sparkSubmit, config.childEnv),
): Promise<LocalSpark> {
  await checkJava(config.childEnv);
  const s3a = config.lake.kind === 's3' ? { ...s3aSparkSettings(config), jars: s3aJars(install.sparkSubmit) } : undefined;
  const deltaJarFiles = deltaJars(install.sparkSubmit);
  return {
    sparkSubmit: install.sparkSubmit,
    pysparkPython: install.pysparkPython,
    master: config.sparkMaster,
    ...(config.sparkDriverMemory !== undefined ? { driverMemory: config.sparkDriverMemory } : {}),
    env: { ...config.childEnv, ...s3a?.env },
    sparkConf: { ...DELTA_SPARK_CONF, ...s3a?.conf },
    jars: [...deltaJarFiles, ...(s3a?.jars ?? [])],
  };
}
