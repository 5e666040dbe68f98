/**
 * The environment of a Spark process with a UTF-8 character type. The JVM encodes file names
 * with the locale's charset (`sun.jnu.encoding`); under no locale or `C`/`POSIX` (a bare
 * container, a service without LANG) that is ASCII, and a local file named `über.parquet` is
 * "not found". Python's file names follow it too. A UTF-8 locale already set is kept.
 */
export function withUtf8Locale(env: Readonly<Record<string, string>>): Record<string, string> {
  const utf8 = (value: string | undefined): boolean => value !== undefined && /utf-?8/iu.test(value);
  const lcAll = env['LC_ALL'];
  if (lcAll !== undefined && lcAll !== '') return utf8(lcAll) ? { ...env } : { ...env, LC_ALL: 'C.UTF-8' };
  const ctype = env['LC_CTYPE'] || env['LANG'];
  return utf8(ctype) ? { ...env } : { ...env, LC_CTYPE: 'C.UTF-8' };
}
