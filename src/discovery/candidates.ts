/** Where new data lands. The pipeline never writes here. */
export const RAW_PREFIX = 'raw/';
/** The dataset of a file directly under raw/. */
export const DEFAULT_DATASET = 'default';
/** @default the glob that picks candidates under raw/ */
export const DEFAULT_CANDIDATE_GLOB = '**/*.parquet';

/** A version of a raw file that may need processing: the same key with a new ETag is new data. */
export interface CandidateVersion {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly dataset: string;
}

/** Why a raw object is not a candidate; `undefined` means it is one. */
export type SkipReason = 'folder-marker' | 'hidden-or-temporary' | 'not-matching';

/** Judges a raw object by its key alone, so a listing can skip the rest before it looks at them. */
export type CandidateFilter = (key: string) => SkipReason | undefined;

/**
 * Candidates are objects under raw/ whose path below raw/ matches the glob (case-insensitive),
 * except folder markers and anything with a path segment starting with `_` or `.` (`_temporary/`,
 * `_SUCCESS`, `.tmp` uploads). A zero-byte `x.parquet` is a candidate: an S3 PUT is atomic, so it
 * is a real (unusable) file, dead-lettered where users see it rather than passed over in silence.
 */
export function candidateFilter(glob: string = DEFAULT_CANDIDATE_GLOB): CandidateFilter {
  const matches = globToRegExp(glob);
  return (key) => {
    if (key.endsWith('/')) return 'folder-marker';
    const rel = key.startsWith(RAW_PREFIX) ? key.slice(RAW_PREFIX.length) : key;
    // `.` and `..` are not hidden names but unsafe keys: candidates, so they are dead-lettered by name.
    const hidden = (segment: string): boolean =>
      segment.startsWith('_') || (segment.startsWith('.') && segment !== '.' && segment !== '..');
    if (rel.split('/').some(hidden)) {
      return 'hidden-or-temporary';
    }
    if (!matches.test(rel)) return 'not-matching';
    return undefined;
  };
}

/** `raw/<dataset>/...`; a file directly under raw/ belongs to `default`. */
export function datasetOf(key: string): string {
  const rel = key.startsWith(RAW_PREFIX) ? key.slice(RAW_PREFIX.length) : key;
  const slash = rel.indexOf('/');
  return slash === -1 ? DEFAULT_DATASET : rel.slice(0, slash);
}

/**
 * A small glob dialect, matched against the path below raw/: `**` any number of folders,
 * `*` any run of characters within one segment, `?` one character, `{a,b}` alternatives.
 * Case-insensitive, so `*.parquet` also takes `X.PARQUET`.
 */
export function globToRegExp(glob: string): RegExp {
  if (glob.trim() === '') throw new TypeError('the candidate glob is empty');
  let re = '';
  let inBraces = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` matches zero or more whole folders; a bare `**` anything at all.
      if (glob[i + 2] === '/') {
        re += '(?:[^/]*/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{' && !inBraces) {
      inBraces = true;
      re += '(?:';
    } else if (c === '}' && inBraces) {
      inBraces = false;
      re += ')';
    } else if (c === ',' && inBraces) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/gu, '\\$&');
  }
  if (inBraces) throw new TypeError(`the candidate glob ${JSON.stringify(glob)} has an unclosed "{"`);
  return new RegExp(`^${re}$`, 'iu');
}
