import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { VENV_SPARK_SUBMIT } from '../config/project-paths.js';
import { S3A_POM, SPARK_JARS_CACHE, hadoopVersionOf, sparkJarsDir } from '../engines/s3a-support.js';
import { PrerequisiteError } from '../errors.js';
import { runTool } from './run-tool.js';

export interface S3aJarsOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly quiet: boolean;
  readonly say: (line: string) => void;
  /** The spark-submit whose Hadoop the jars must match: the project venv's unless told (a rehearsal runtime's). */
  readonly sparkSubmit?: string;
}

/**
 * Fetches hadoop-aws and the AWS SDK matching the venv's Spark into .cache/spark-jars/ with
 * Maven (from Maven Central; ~/.m2 keeps them for the next clone). Skipped when already there.
 */
export async function ensureS3aJars(options: S3aJarsOptions): Promise<string> {
  const sparkSubmit = options.sparkSubmit ?? VENV_SPARK_SUBMIT;
  const jarsDir = sparkJarsDir(sparkSubmit);
  const version = jarsDir === undefined ? undefined : hadoopVersionOf(jarsDir);
  if (version === undefined) {
    throw new PrerequisiteError(
      sparkSubmit === VENV_SPARK_SUBMIT
        ? 'The project venv has no PySpark yet: run `npx s3-spark-watcher setup` first.'
        : `${sparkSubmit} has no PySpark (no hadoop-client-api jar beside it): run \`npx s3-spark-watcher setup --emr-runtimes\` again.`,
    );
  }
  const outDir = path.join(SPARK_JARS_CACHE, `hadoop-${version}`);
  if (existsSync(outDir) && readdirSync(outDir).some((f) => f.startsWith('hadoop-aws-'))) return outDir;

  const probe = await execa('mvn', ['-v'], { env: options.env, extendEnv: false, reject: false });
  if (probe.failed) {
    throw new PrerequisiteError(
      'Maven is needed once to fetch the s3a jars from Maven Central. Install it (Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`) and run `npx s3-spark-watcher setup --s3` again.',
    );
  }
  options.say(
    `Fetching hadoop-aws ${version} and the AWS SDK for s3a into ${path.relative(process.cwd(), outDir)} (Maven Central; several hundred MB the first time) ...`,
  );
  await runTool(
    'mvn',
    [
      '-B',
      ...(options.quiet ? ['-q'] : []),
      '-f',
      S3A_POM,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${outDir}`,
      `-Dhadoop.version=${version}`,
    ],
    'Fetching the s3a jars with Maven',
    options,
  );
  return outDir;
}
