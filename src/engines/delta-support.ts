import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PrerequisiteError } from '../errors.js';
import { SPARK_JARS_CACHE, sparkJarsDir } from './s3a-support.js';

/**
 * Delta Lake for curated tables: the jars each Spark line needs (fetched by `setup` from Maven
 * Central into .cache/spark-jars/delta-<version>/, checked against the digests below) and the two
 * session settings that turn it on. The job reads and writes Delta through Spark SQL and the
 * DataFrame API only, so the same jars serve spark-submit, the Connect server and EMR (whose
 * images ship their own under /usr/share/aws/delta/lib/).
 */
export interface DeltaRelease {
  /** The Spark line (major.minor) it is built for. */
  readonly sparkLine: string;
  readonly version: string;
  readonly scala: string;
  /** Each jar: its Maven Central path and its SHA-256. Spark itself ships the rest (antlr4, scala). */
  readonly jars: readonly { readonly file: string; readonly mavenPath: string; readonly sha256: string }[];
}

function release(sparkLine: string, version: string, scala: string, sparkSha: string, storageSha: string): DeltaRelease {
  const spark = `delta-spark_${scala}-${version}.jar`;
  const storage = `delta-storage-${version}.jar`;
  return {
    sparkLine,
    version,
    scala,
    jars: [
      { file: spark, mavenPath: `io/delta/delta-spark_${scala}/${version}/${spark}`, sha256: sparkSha },
      { file: storage, mavenPath: `io/delta/delta-storage/${version}/${storage}`, sha256: storageSha },
    ],
  };
}

export const DELTA_RELEASES: readonly DeltaRelease[] = [
  release(
    '4.0',
    '4.0.1',
    '2.13',
    'a1e76860b19fe1e6b205a4ea7a9099a2f9575d39bb71d49b3e679b299d0efb91',
    'ecc42c5aaa51c423312d9e4e48aa4a12b34740bf2c37de0e8f279277ec3d12e4',
  ),
  // Spark 3.5 (emr-7.x, whose images ship Delta 3.x): the rehearsal and the Spark 3.5 test run.
  release(
    '3.5',
    '3.3.2',
    '2.12',
    '4e92085d5d794cf949c50bb665b91384857cad58680c2d0bfc9c7ad353e98e85',
    'c096975a2ca97ccc9b4005aa5cce16c9ac3903139d340da6665b66ace67d7c36',
  ),
];

/** The session settings that load Delta's SQL (MERGE, DESCRIBE HISTORY) and its catalog. */
export const DELTA_SPARK_CONF: Readonly<Record<string, string>> = {
  'spark.sql.extensions': 'io.delta.sql.DeltaSparkSessionExtension',
  'spark.sql.catalog.spark_catalog': 'org.apache.spark.sql.delta.catalog.DeltaCatalog',
};

/** Where an EMR release image keeps its Delta jars (EMR 7.0 and later: delta-spark.jar). */
export const EMR_DELTA_JARS: readonly string[] = ['/usr/share/aws/delta/lib/delta-spark.jar', '/usr/share/aws/delta/lib/delta-storage.jar'];

/** The Spark version of a jars folder, read off its spark-core jar (`spark-core_2.13-4.0.5.jar`). */
export function sparkVersionOf(jarsDir: string): string | undefined {
  for (const name of readdirSync(jarsDir)) {
    const m = /^spark-core_\d+\.\d+-(\d+\.\d+\.\d+)\.jar$/u.exec(name);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** The Delta release for the Spark that `sparkSubmit` runs; a PrerequisiteError when there is none. */
export function deltaReleaseFor(sparkSubmit: string): DeltaRelease {
  const jarsDir = sparkJarsDir(sparkSubmit);
  const version = jarsDir === undefined ? undefined : sparkVersionOf(jarsDir);
  const line = version?.split('.').slice(0, 2).join('.');
  const found = DELTA_RELEASES.find((r) => r.sparkLine === line);
  if (found === undefined) {
    throw new PrerequisiteError(
      version === undefined
        ? `Cannot tell which Spark ${sparkSubmit} runs (no spark-core jar in a jars/ folder beside its bin/), so the Delta Lake jars cannot be matched. Set SPARK_SUBMIT to bin/spark-submit of a Spark install (not a wrapper script), or use the project's PySpark (npx s3-spark-watcher setup).`
        : `Spark ${version} has no Delta Lake release here (supported: ${DELTA_RELEASES.map((r) => `Spark ${r.sparkLine}`).join(', ')}). Use the project's PySpark (npx s3-spark-watcher setup).`,
    );
  }
  return found;
}

export function deltaJarsDir(release: DeltaRelease, cacheDir: string = SPARK_JARS_CACHE): string {
  return path.join(cacheDir, `delta-${release.version}`);
}

/** The Delta jars for `sparkSubmit`'s Spark, from the cache; a PrerequisiteError saying how to get them. */
export function deltaJars(sparkSubmit: string): string[] {
  const release = deltaReleaseFor(sparkSubmit);
  const dir = deltaJarsDir(release);
  const jars = release.jars.map((j) => path.join(dir, j.file));
  const missing = jars.filter((j) => !existsSync(j));
  if (missing.length > 0) {
    throw new PrerequisiteError(
      `Curated tables are Delta Lake tables, and Spark needs Delta Lake ${release.version} for them: ${missing.map((m) => path.basename(m)).join(', ')} not in ${dir}. Run \`npx s3-spark-watcher setup\` (fetches them from Maven Central).`,
    );
  }
  return jars;
}
