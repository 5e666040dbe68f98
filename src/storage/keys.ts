import { UnsafeKeyError } from '../errors.js';

/** S3's limit on a key's length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * Rejects any key that could escape the lake root or that S3 would refuse: empty, absolute,
 * `.`/`..` segments, empty segments, NUL or other control characters, backslashes (a path
 * separator on Windows), or longer than 1,024 bytes. Returns the key unchanged when it is safe.
 */
export function assertSafeKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new UnsafeKeyError(`unsafe object key ${JSON.stringify(key)}: ${problem}`);
  }
  return key;
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(key)) return 'it contains a NUL or control character';
  if (key.includes('\\')) return 'it contains a backslash';
  if (key.startsWith('/')) return 'it is an absolute path';
  const segments = key.split('/');
  // A trailing slash is a folder marker (`raw/x/`): allowed, its last segment is empty.
  const inner = key.endsWith('/') ? segments.slice(0, -1) : segments;
  if (inner.some((s) => s === '..' || s === '.')) return 'it has a "." or ".." path segment';
  if (inner.some((s) => s === '')) return 'it has an empty path segment ("//")';
  return undefined;
}

/** Prefixes are keys too, but may be empty (the whole lake). */
export function assertSafePrefix(prefix: string): string {
  return prefix === '' ? prefix : assertSafeKey(prefix);
}

/** Compares keys the way S3 orders them: by UTF-8 bytes, not UTF-16 code units. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
