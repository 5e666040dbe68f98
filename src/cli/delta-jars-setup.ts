import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VENV_SPARK_SUBMIT } from '../config/project-paths.js';
import { deltaJarsDir, deltaReleaseFor } from '../engines/delta-support.js';
import { PrerequisiteError } from '../errors.js';

export const DEFAULT_MAVEN_REPOSITORY = 'https://repo1.maven.org/maven2';

export interface DeltaJarsOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly say: (line: string) => void;
  /** The spark-submit whose Spark the jars must match: the project venv's unless told (a rehearsal runtime's). */
  readonly sparkSubmit?: string;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  /** @default .cache/spark-jars of the project */
  readonly cacheDir?: string;
}

/**
 * Fetches the Delta Lake jars matching the Spark of `sparkSubmit` (two jars, about 8 MB) from
 * Maven Central (or MAVEN_REPOSITORY_URL, a mirror) into .cache/spark-jars/delta-<version>/,
 * each checked against its pinned SHA-256 before it is moved into place. No Maven needed, so
 * `npm run demo` works on a machine without it. Skipped when the jars are there.
 */
export async function ensureDeltaJars(options: DeltaJarsOptions): Promise<string> {
  const release = deltaReleaseFor(options.sparkSubmit ?? VENV_SPARK_SUBMIT);
  const dir = deltaJarsDir(release, options.cacheDir);
  const missing = release.jars.filter((j) => !existsSync(path.join(dir, j.file)));
  if (missing.length === 0) return dir;
  const repository = (options.env['MAVEN_REPOSITORY_URL'] ?? DEFAULT_MAVEN_REPOSITORY).replace(/\/+$/u, '');
  const get = options.fetch ?? fetch;
  options.say(`Fetching Delta Lake ${release.version} (${missing.map((j) => j.file).join(', ')}) from ${repository} ...`);
  await mkdir(dir, { recursive: true });
  for (const jar of missing) {
    const url = `${repository}/${jar.mavenPath}`;
    let body: Buffer;
    try {
      const response = await get(url, options.signal ? { signal: options.signal } : {});
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      body = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw new PrerequisiteError(
        `Could not fetch ${url} (${error instanceof Error ? error.message : String(error)}). Curated tables are Delta Lake tables and Spark needs this jar: check the network, or set MAVEN_REPOSITORY_URL to a Maven Central mirror, and run \`npx s3-spark-watcher setup\` again.`,
        { cause: error },
      );
    }
    const digest = createHash('sha256').update(body).digest('hex');
    if (digest !== jar.sha256) {
      throw new PrerequisiteError(
        `${url} is not the published ${jar.file}: its SHA-256 is ${digest}, not ${jar.sha256}. It was not kept. A mirror or proxy may have altered it; try another MAVEN_REPOSITORY_URL.`,
      );
    }
    const temp = path.join(dir, `.${jar.file}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(temp, body);
      await rename(temp, path.join(dir, jar.file));
    } finally {
      await rm(temp, { force: true });
    }
  }
  return dir;
}
