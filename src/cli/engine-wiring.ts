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
import { checkJava, resolveSparkInstall } from '../engines/spark-install.js';
import { SparkSubmitEngine } from '../engines/spark-submit-engine.js';
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

  await checkJava(config.childEnv);
  const s3a = config.lake.kind === 's3' ? { ...s3aSparkSettings(config), jars: s3aJars(install.sparkSubmit) } : undefined;
  const deltaJarFiles = deltaJars(install.sparkSubmit); // before the first job: a missing jar is a prerequisite, said once
  const local = new SparkSubmitEngine({
    sparkSubmit: install.sparkSubmit,
    pysparkPython: install.pysparkPython,
    master: config.sparkMaster,
    ...(config.sparkDriverMemory !== undefined ? { driverMemory: config.sparkDriverMemory } : {}),
    pipelinePath: PIPELINE_PATH,
    lakeUri: sparkLakeUri(config.lake),
    store,
    logDir: config.runLogDir,
    timeoutMs: config.jobTimeoutMs,
    env: { ...config.childEnv, ...s3a?.env },
    sparkConf: { ...DELTA_SPARK_CONF, ...s3a?.conf },
    jars: [...deltaJarFiles, ...(s3a?.jars ?? [])],
  });
  if (config.engine === 'local') return local;
  return new AutoEngine({ connect: connect(), local, connectAnswers: (signal) => portAnswers(config.sparkRemote, 500, signal) });
}
