import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPython, pythonCandidates } from '../../src/cli/find-python.js';
import { PrerequisiteError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('finding the Python 3.9 of the emr-7.x rehearsal runtime', () => {
  it('tries PYTHON39, then python3.9 on PATH, then pyenv versions 3.9.*, newest first', async () => {
    const home = await tempDir('s3sw-home-');
    for (const v of ['3.9.2', '3.9.18', '3.10.13']) await mkdir(path.join(home, '.pyenv', 'versions', v, 'bin'), { recursive: true });
    expect(pythonCandidates('3.9', { HOME: home, PYTHON39: '/opt/py39/bin/python3' })).toEqual([
      '/opt/py39/bin/python3',
      'python3.9',
      path.join(home, '.pyenv', 'versions', '3.9.18', 'bin', 'python3.9'),
      path.join(home, '.pyenv', 'versions', '3.9.2', 'bin', 'python3.9'),
    ]);
  });

  it('takes the first that runs and is 3.9, skipping one that is another version', async () => {
    const bin = await tempDir('s3sw-bin-');
    // A "python3.9" on PATH that is really the system Python 3.11 must not be taken.
    await symlink(path.resolve('.venv', 'bin', 'python'), path.join(bin, 'python3.9'));
    const home = await tempDir('s3sw-home-');
    const env = { PATH: `${bin}:${path.dirname(process.execPath)}`, HOME: home };
    await expect(findPython('3.9', 'The emr-7.x rehearsal runtime', env)).rejects.toBeInstanceOf(PrerequisiteError);

    // A pyenv 3.9 (a stand-in that answers like one) is taken.
    const pyenv39 = path.join(home, '.pyenv', 'versions', '3.9.7', 'bin');
    await mkdir(pyenv39, { recursive: true });
    await writeFile(path.join(pyenv39, 'python3.9'), '#!/usr/bin/env node\nconsole.log("3.9.7");\n', { mode: 0o755 });
    await expect(findPython('3.9', 'The emr-7.x rehearsal runtime', env)).resolves.toEqual({
      python: path.join(pyenv39, 'python3.9'),
      version: '3.9.7',
    });
  });

  it('says what it tried and how to get Python 3.9 when there is none', async () => {
    const home = await tempDir('s3sw-home-');
    const error = await findPython('3.9', 'The emr-7.x rehearsal runtime (.venv-emr7)', {
      PATH: '/nonexistent',
      HOME: home,
      PYTHON39: '/nonexistent/python3.9',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    const message = (error as Error).message;
    expect(message).toContain('The emr-7.x rehearsal runtime (.venv-emr7) needs Python 3.9');
    expect(message).toContain('/nonexistent/python3.9');
    expect(message).toContain('pyenv install 3.9');
    expect(message).toContain('set PYTHON39');
  });
});
