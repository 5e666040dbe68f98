import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VENV_SPARK_SUBMIT } from '../../src/config/project-paths.js';
import { sparkVersionOf } from '../../src/engines/delta-support.js';
import { sparkJarsDir } from '../../src/engines/s3a-support.js';

/**
 * A Spark home whose bin/spark-submit is the stand-in (test/helpers/fake-spark-submit.mjs) and
 * whose jars/ names the project's Spark version, as a real install's does: the controller reads
 * that version to pick the Delta Lake jars (which `setup` fetched) before it runs any job.
 * Returns the stand-in spark-submit's path.
 */
export async function standInSparkHome(root: string): Promise<string> {
  const projectJars = sparkJarsDir(VENV_SPARK_SUBMIT);
  const version = projectJars === undefined ? undefined : sparkVersionOf(projectJars);
  if (version === undefined) throw new Error(`no PySpark in ${VENV_SPARK_SUBMIT}: run \`npx s3-spark-watcher setup\` first`);
  const home = path.join(root, 'spark-home');
  await mkdir(path.join(home, 'bin'), { recursive: true });
  await mkdir(path.join(home, 'jars'), { recursive: true });
  const sparkSubmit = path.join(home, 'bin', 'spark-submit');
  await copyFile(path.resolve('test/helpers/fake-spark-submit.mjs'), sparkSubmit);
  await writeFile(path.join(home, 'jars', `spark-core_2.13-${version}.jar`), '');
  return sparkSubmit;
}
