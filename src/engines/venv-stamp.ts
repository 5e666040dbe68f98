import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The stamp a setup step leaves in a virtualenv once pip installed a requirements file into it:
 * `<venv>/.requirements.sha256`, the file's sha256. A venv whose stamp matches its requirements
 * file is current; otherwise pip must run (again).
 */
export function venvStampPath(venvDir: string): string {
  return path.join(venvDir, '.requirements.sha256');
}

/** The sha256 of the requirements file's text; a PrerequisiteError is the caller's to raise when it is missing. */
export async function requirementsHash(requirementsPath: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(requirementsPath, 'utf8'))
    .digest('hex');
}

/** True when the venv has a python and its stamp says this requirements file (as it is now) was installed. */
export async function isVenvCurrent(venvDir: string, requirementsPath: string): Promise<boolean> {
  if (!existsSync(path.join(venvDir, 'bin', 'python'))) return false;
  const stamp = (await readFile(venvStampPath(venvDir), 'utf8').catch(() => '')).trim();
  return stamp !== '' && stamp === (await requirementsHash(requirementsPath).catch(() => ''));
}

export async function writeVenvStamp(venvDir: string, hash: string): Promise<void> {
  await writeFile(venvStampPath(venvDir), `${hash}\n`);
}
