import { describe, expect, it } from 'vitest';
import { withUtf8Locale } from '../../src/engines/utf8-locale.js';

describe('the locale of Spark processes', () => {
  it('gets a UTF-8 character type when none is set, so the JVM can name non-ASCII files', () => {
    expect(withUtf8Locale({ PATH: '/bin' })).toEqual({ PATH: '/bin', LC_CTYPE: 'C.UTF-8' });
    expect(withUtf8Locale({ LANG: 'C' })).toEqual({ LANG: 'C', LC_CTYPE: 'C.UTF-8' });
    expect(withUtf8Locale({ LC_ALL: 'POSIX', LANG: 'de_DE.UTF-8' })).toEqual({ LC_ALL: 'C.UTF-8', LANG: 'de_DE.UTF-8' });
  });

  it('keeps a UTF-8 locale that is already set', () => {
    for (const env of [{ LANG: 'de_DE.UTF-8' }, { LC_CTYPE: 'en_US.utf8' }, { LC_ALL: 'C.UTF-8' }])
      expect(withUtf8Locale(env)).toEqual(env);
  });
});
