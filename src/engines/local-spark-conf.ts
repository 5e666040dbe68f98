import { availableParallelism } from 'node:os';

/**
 * The driver heap (`--driver-memory`) unless `SPARK_DRIVER_MEMORY` says otherwise. A local job's
 * driver is also its executor and holds the run's cached rows until the merge: a cold batch of
 * 100 files of 1.09 MB (4 M rows) took 191.6 s with 2g (cache uncompressed), 112.8 s with 2g
 * (cache compressed, as the job now does when the input is over 1/32 of the heap) and 95.6 s with
 * 4g (uncompressed); a one-file job needs little, and the JVM only grows its heap when it must.
 * The long-lived Spark Connect server holds every session's cached rows and compiled code, and
 * with 1 GiB (Spark's default) spent about 75 ms per file in GC.
 */
export const DEFAULT_DRIVER_MEMORY = { job: '4g', connectServer: '4g' } as const;

/**
 * Spark settings for a driver on this machine (`local[*]` spark-submit, the local Spark Connect
 * server), where each job handles one small file:
 * - shuffle partitions = cores: Spark's default of 200 costs more than the work, and with
 *   2 x cores a warm file took 15 % longer (more tasks and output files, no core left over for
 *   the job's concurrent writes; measured alternating both settings, see BENCHMARKS.md);
 * - adaptive query execution off: with that few partitions it has nothing left to coalesce, and
 *   its re-planning splits a job into one Spark job per shuffle stage (about 20 instead of 11
 *   per file here; 13-21 % less wall time per warm file, measured the same way).
 * EMR Serverless keeps Spark's defaults: there AQE sizes the shuffles of a cluster.
 */
export function localSparkConf(): Record<string, string> {
  return {
    'spark.sql.shuffle.partitions': String(Math.max(1, availableParallelism())),
    'spark.sql.adaptive.enabled': 'false',
  };
}
