import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const load = (env: Record<string, string>) => loadConfig({ LAKE: './lake', ...env }, { cwd: '/work/project' });

describe('retry settings', () => {
  it('default to 3 attempts and waits from 10 s to 300 s', () => {
    expect(load({}).retry).toEqual({ maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 300_000 });
    expect(load({ MAX_ATTEMPTS: '5', RETRY_BASE_SECONDS: '0', RETRY_MAX_SECONDS: '60' }).retry).toEqual({
      maxAttempts: 5,
      baseDelayMs: 0,
      maxDelayMs: 60_000,
    });
  });

  it('name the variable, the problem and the fix', () => {
    const message = (env: Record<string, string>) => {
      try {
        load(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(message({ MAX_ATTEMPTS: '0' })).toContain('MAX_ATTEMPTS="0" is not a whole number of attempts from 1 to 100');
    expect(message({ RETRY_BASE_SECONDS: '2.5' })).toContain('RETRY_BASE_SECONDS="2.5" is not a whole number of seconds');
    expect(message({ RETRY_BASE_SECONDS: '600', RETRY_MAX_SECONDS: '60' })).toContain(
      'RETRY_BASE_SECONDS="600" is more than RETRY_MAX_SECONDS="60"',
    );
  });
});
