import { readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PrerequisiteError } from '../errors.js';

export interface FoundPython {
  readonly python: string;
  /** Its full version, e.g. `3.9.18`. */
  readonly version: string;
}

/** Newest first: `3.9.18` before `3.9.2`. */
function byVersionDescending(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/u).map((p) => Number.parseInt(p, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
  return 0;
}

/**
 * The interpreters that may be Python `minor` (e.g. `3.9`), in the order they are tried: the
 * variable `PYTHON39` (for 3.9), `python3.9` on PATH, then pyenv's `~/.pyenv/versions/3.9.*`, newest first.
 */
export function pythonCandidates(minor: string, env: Readonly<Record<string, string>>): string[] {
  const variable = `PYTHON${minor.replace('.', '')}`;
  const candidates: string[] = [];
  const fromEnv = env[variable];
  if (fromEnv !== undefined && fromEnv !== '') candidates.push(fromEnv);
  candidates.push(`python${minor}`);
  const pyenvRoot = env['PYENV_ROOT'] ?? (env['HOME'] === undefined ? undefined : path.join(env['HOME'], '.pyenv'));
  if (pyenvRoot !== undefined) {
    const versions = path.join(pyenvRoot, 'versions');
    let names: string[] = [];
    try {
      names = readdirSync(versions).filter((n) => n.startsWith(`${minor}.`));
    } catch {
      // no pyenv
    }
    for (const n of names.sort(byVersionDescending)) candidates.push(path.join(versions, n, 'bin', `python${minor}`));
  }
  return candidates;
}

/**
 * The first candidate that runs, is Python `minor` and has the venv module; a PrerequisiteError
 * naming what was tried and how to get one otherwise. `why` says what it is for.
 */
export async function findPython(minor: string, why: string, env: Readonly<Record<string, string>>): Promise<FoundPython> {
  const tried = pythonCandidates(minor, env);
  for (const python of tried) {
    const probe = await execa(python, ['-c', 'import sys, venv; print("%d.%d.%d" % sys.version_info[:3])'], {
      env: { ...env },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    const version = String(probe.stdout).trim();
    if (!probe.failed && version.startsWith(`${minor}.`)) return { python, version };
  }
  const variable = `PYTHON${minor.replace('.', '')}`;
  throw new PrerequisiteError(
    `${why} needs Python ${minor} (with its venv module), and none was found (tried: ${tried.join(', ')}). ` +
      `Install it: \`pyenv install ${minor}\` (looked for in ~/.pyenv/versions), Debian/Ubuntu \`apt-get install python${minor} python${minor}-venv\` ` +
      `(deadsnakes PPA on Ubuntu), macOS \`brew install python@${minor}\`; or set ${variable} to its python.`,
  );
}
