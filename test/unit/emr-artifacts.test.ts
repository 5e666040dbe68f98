import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildJobArtifacts, uploadArtifactsIfNew } from '../../src/engines/emr/artifacts.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('EMR job artifacts', () => {
  it('are byte-identical for identical sources, and a changed module gives a new hash', async () => {
    const copy = path.join(await tempDir('s3sw-art-'), 'spark-jobs');
    await cp(path.resolve('spark-jobs'), copy, { recursive: true });
    const a = await buildJobArtifacts(path.resolve('spark-jobs'));
    const b = await buildJobArtifacts(copy); // other paths, other mtimes
    expect(b.hash).toBe(a.hash);
    expect(b.pyFiles.equals(a.pyFiles)).toBe(true);
    expect(a.entryPointKey).toBe(`artifacts/${a.hash}/pipeline.py`);
    expect(a.pyFilesKey).toBe(`artifacts/${a.hash}/watcher_job.zip`);

    await writeFile(path.join(copy, 'watcher_job', 'cleaning.py'), '# changed\n', { flag: 'a' });
    expect((await buildJobArtifacts(copy)).hash).not.toBe(a.hash);
  });

  it('the zip is a valid archive that Python imports the job package from (as --py-files does)', async () => {
    const { pyFiles } = await buildJobArtifacts(path.resolve('spark-jobs'));
    const zip = path.join(await tempDir('s3sw-art-'), 'watcher_job.zip');
    await writeFile(zip, pyFiles);
    const { stdout } = await execa(venvPython(), [
      '-c',
      'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; sys.path.insert(0, sys.argv[1]); import watcher_job.spec as s; print(s.__file__); print(sorted(z.namelist())[0])',
      zip,
    ]);
    expect(stdout.split('\n')).toEqual([path.join(zip, 'watcher_job', 'spec.py'), 'watcher_job/__init__.py']);
  });

  it('are uploaded only when their hash is new', async () => {
    const store = new LocalObjectStore(await tempDir('s3sw-art-lake-'));
    const artifacts = await buildJobArtifacts(path.resolve('spark-jobs'));
    expect(await uploadArtifactsIfNew(store, artifacts)).toEqual([artifacts.pyFilesKey, artifacts.entryPointKey]);
    expect(await uploadArtifactsIfNew(store, artifacts)).toEqual([]);
    expect((await store.get(artifacts.pyFilesKey))?.body.equals(artifacts.pyFiles)).toBe(true);
  });
});
