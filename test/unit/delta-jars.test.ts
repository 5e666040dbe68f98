import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDeltaJars } from '../../src/cli/delta-jars-setup.js';
import { VENV_SPARK_SUBMIT } from '../../src/config/project-paths.js';
import { DELTA_RELEASES, deltaReleaseFor } from '../../src/engines/delta-support.js';
import { PrerequisiteError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Answers every request with `body` (or the status): what a repository, a proxy or a dead link gives. */
function answering(status: number, body: (url: string) => Buffer, seen: string[] = []): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input);
    seen.push(url);
    return new Response(status === 200 ? body(url) : 'not here', { status });
  }) as typeof fetch;
}

describe('the Delta Lake jars (setup)', () => {
  it('matches the Delta release to the Spark of the project venv (Spark 4.0 -> Delta 4.0.x, Scala 2.13)', () => {
    const release = deltaReleaseFor(VENV_SPARK_SUBMIT);
    expect(release.sparkLine).toBe('4.0');
    expect(release.jars.map((j) => j.file)).toEqual([`delta-spark_2.13-${release.version}.jar`, `delta-storage-${release.version}.jar`]);
  });

  it('keeps a jar only when its SHA-256 is the published one, from the repository it is told', async () => {
    const release = DELTA_RELEASES[0];
    if (release === undefined) throw new Error('no release');
    const cacheDir = await tempDir('s3sw-delta-');
    const seen: string[] = [];
    const tampered = answering(200, () => Buffer.from('not the jar'), seen);
    const error = await ensureDeltaJars({
      env: { MAVEN_REPOSITORY_URL: 'https://mirror.example/maven2/' },
      say: () => undefined,
      fetch: tampered,
      cacheDir,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toContain(`${release.jars[0]?.file} is not the published`);
    expect(seen).toEqual([`https://mirror.example/maven2/${release.jars[0]?.mavenPath}`]);
    expect(await readdir(path.join(cacheDir, `delta-${release.version}`))).toEqual([]); // nothing half-written kept
  });

  it('says which URL failed and how to point at a mirror when the repository refuses', async () => {
    const error = await ensureDeltaJars({
      env: {},
      say: () => undefined,
      fetch: answering(404, () => Buffer.alloc(0)),
      cacheDir: await tempDir('s3sw-delta-'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toMatch(
      /Could not fetch https:\/\/repo1\.maven\.org\/maven2\/io\/delta\/delta-spark_2\.13\/.* \(HTTP 404/u,
    );
    expect((error as Error).message).toContain('MAVEN_REPOSITORY_URL');
  });

  it('puts the published jars in place, and fetches nothing once they are there', async () => {
    const release = deltaReleaseFor(VENV_SPARK_SUBMIT);
    // The real jars, as setup fetched them into the project's cache, stand in for the repository's answers.
    const real = new Map<string, Buffer>();
    for (const jar of release.jars)
      real.set(jar.mavenPath, await readFile(path.join('.cache', 'spark-jars', `delta-${release.version}`, jar.file)));
    const cacheDir = await tempDir('s3sw-delta-');
    const seen: string[] = [];
    const repository = answering(200, (url) => real.get(url.slice('https://repo1.maven.org/maven2/'.length)) ?? Buffer.alloc(0), seen);
    const dir = await ensureDeltaJars({ env: {}, say: () => undefined, fetch: repository, cacheDir });
    expect((await readdir(dir)).sort()).toEqual(release.jars.map((j) => j.file).sort());
    for (const jar of release.jars) {
      expect(
        createHash('sha256')
          .update(await readFile(path.join(dir, jar.file)))
          .digest('hex'),
      ).toBe(jar.sha256);
    }
    await ensureDeltaJars({ env: {}, say: () => undefined, fetch: repository, cacheDir });
    expect(seen).toHaveLength(release.jars.length);
  });
});
