import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RELEASE_FAMILIES } from '../../src/engines/emr/release-families.js';
import { rehearsalRuntime, rehearsalRuntimes, requireRehearsalRuntime } from '../../src/engines/emr/rehearsal-runtimes.js';
import { PrerequisiteError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the runtime the EMR rehearsal runs each release family on', () => {
  it('exists for every supported family: emr-7.x on .venv-emr7, emr-spark-8.x on the project .venv', () => {
    expect(rehearsalRuntimes().map((r) => [r.family.name, path.basename(r.venvDir), path.basename(r.requirements)])).toEqual([
      ['emr-7.x', '.venv-emr7', 'requirements-emr7.txt'],
      ['emr-spark-8.x', '.venv', 'requirements.txt'],
    ]);
    expect(rehearsalRuntimes()).toHaveLength(RELEASE_FAMILIES.length);
  });

  it('when it is not installed, fails with the setup command to run', async () => {
    const [emr7] = RELEASE_FAMILIES;
    if (emr7 === undefined) throw new Error('no families');
    const venvDir = path.join(await tempDir('s3sw-runtime-'), '.venv-emr7');
    const missing = {
      ...rehearsalRuntime(emr7),
      venvDir,
      python: path.join(venvDir, 'bin', 'python'),
      sparkSubmit: path.join(venvDir, 'bin', 'spark-submit'),
    };
    const error = await requireRehearsalRuntime(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toMatch(/emr-7\.x rehearsal runs on Spark 3\.5 with Python 3\.9 .*not installed/u);
    expect((error as Error).message).toContain('Run `npx s3-spark-watcher setup --emr-runtimes`');
  });
});
