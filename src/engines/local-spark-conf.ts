import { availableParallelism } from 'node:os';

/**
 * Spark settings for a driver on this machine (`local[*]` spark-submit, the local Spark Connect
 * server), where each job handles one small file:
 * - shuffle partitions = 2 x cores: Spark's default of 200 costs more than the work;
 * - adaptive query execution off: with that few partitions it has nothing left to coalesce, and
 *   its re-planning splits a job into one Spark job per shuffle stage (about 20 instead of 11
 *   per file here; 13-21 % less wall time per warm file, measured alternating both settings
 *   over 16 bench files, see BENCHMARKS.md).
 * EMR Serverless keeps Spark's defaults: there AQE sizes the shuffles of a cluster.
 */
export function localSparkConf(): Record<string, string> {
  return {
    'spark.sql.shuffle.partitions': String(Math.max(2, 2 * availableParallelism())),
    'spark.sql.adaptive.enabled': 'false',
  };
}
