import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { PROJECT_ROOT } from '../config/project-paths.js';
import { PrerequisiteError } from '../errors.js';

/** Where `setup --s3` puts hadoop-aws and its AWS SDK, one folder per Hadoop version (git-ignored). */
export const SPARK_JARS_CACHE = path.join(PROJECT_ROOT, '.cache', 'spark-jars');
export const S3A_POM = path.join(PROJECT_ROOT, 'spark-jobs', 's3a', 'pom.xml');

/**
 * The jars folder of the Spark that `sparkSubmit` runs: pip's pyspark/jars of the virtualenv it is
 * in (`<venv>/bin/spark-submit`: `.venv`, or a rehearsal runtime such as `.venv-emr7`), or
 * $SPARK_HOME/jars.
 */
export function sparkJarsDir(sparkSubmit: string): string | undefined {
  const candidates: string[] = [];
  const libDir = path.join(path.dirname(path.dirname(sparkSubmit)), 'lib');
  if (path.basename(path.dirname(sparkSubmit)) === 'bin' && existsSync(libDir)) {
    for (const py of readdirSync(libDir)) candidates.push(path.join(libDir, py, 'site-packages', 'pyspark', 'jars'));
  }
  try {
    candidates.push(path.join(path.dirname(path.dirname(realpathSync(sparkSubmit))), 'jars'));
  } catch {
    // not a file path (found on PATH by name): nothing to add
  }
  return candidates.find((dir) => existsSync(dir));
}

/** The Hadoop version Spark was built with, read off its hadoop-client-api jar. */
export function hadoopVersionOf(jarsDir: string): string | undefined {
  for (const name of readdirSync(jarsDir)) {
    const m = /^hadoop-client-api-(\d+\.\d+\.\d+)\.jar$/u.exec(name);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** The s3a jars matching this Spark's Hadoop, from the cache; a PrerequisiteError saying how to get them. */
export function s3aJars(sparkSubmit: string): string[] {
  const jarsDir = sparkJarsDir(sparkSubmit);
  const version = jarsDir === undefined ? undefined : hadoopVersionOf(jarsDir);
  if (version === undefined) {
    throw new PrerequisiteError(
      `Cannot tell which Hadoop ${sparkSubmit} uses (no hadoop-client-api jar found), so the s3a jars cannot be matched. Use the project's PySpark (npx s3-spark-watcher setup).`,
    );
  }
  const dir = path.join(SPARK_JARS_CACHE, `hadoop-${version}`);
  const jars = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.jar'))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
  if (!jars.some((j) => path.basename(j).startsWith('hadoop-aws-'))) {
    throw new PrerequisiteError(
      `Spark needs hadoop-aws ${version} and the AWS SDK to read s3a:// and they are not in ${dir}. Run \`npx s3-spark-watcher setup --s3\` (uses Maven, from Maven Central).`,
    );
  }
  return jars;
}

/**
 * Spark settings for an S3 lake. Nothing secret: credentials reach Spark only through its
 * environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by S3A's default chain), never
 * its command line, where `ps` would show them.
 */
export function s3aSparkSettings(config: Pick<Config, 's3' | 'credentials'>): {
  conf: Record<string, string>;
  env: Record<string, string>;
} {
  const conf: Record<string, string> = {
    // s3:// URIs (EMR style) go through S3A too.
    'spark.hadoop.fs.s3.impl': 'org.apache.hadoop.fs.s3a.S3AFileSystem',
  };
  if (config.s3.region !== undefined) conf['spark.hadoop.fs.s3a.endpoint.region'] = config.s3.region;
  if (config.s3.endpoint !== undefined) {
    conf['spark.hadoop.fs.s3a.endpoint'] = config.s3.endpoint;
    conf['spark.hadoop.fs.s3a.connection.ssl.enabled'] = String(config.s3.endpoint.startsWith('https:'));
  }
  if (config.s3.forcePathStyle) conf['spark.hadoop.fs.s3a.path.style.access'] = 'true';
  const env: Record<string, string> = {};
  if (config.credentials !== undefined) {
    env['AWS_ACCESS_KEY_ID'] = config.credentials.accessKeyId;
    env['AWS_SECRET_ACCESS_KEY'] = config.credentials.secretAccessKey;
  }
  return { conf, env };
}
