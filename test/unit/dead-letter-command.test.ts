import { describe, expect, it } from 'vitest';
import { type DeadLetterEntry, DeadLetterStore } from '../../src/state/dead-letters.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const entry = (key: string, deadLetteredAt: string): DeadLetterEntry => ({
  key,
  etag: `"etag-of-${key}"`,
  attempts: 3,
  errorClass: 'RetryableJobError',
  message: 'executor lost',
  logTail: 'last driver line',
  deadLetteredAt,
  runId: `run-${key}`,
});

async function lakeWithDeadLetters() {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const deadLetters = new DeadLetterStore(store);
  await deadLetters.deadLetter(entry('raw/orders/b.parquet', '2026-11-28T12:00:02.000Z'));
  await deadLetters.deadLetter(entry('raw/orders/a.parquet', '2026-11-28T12:00:01.000Z'));
  await deadLetters.beginAttempt('raw/orders/c.parquet', '"c"', 'run-c', 3);
  /** Runs the CLI on this lake; returns the exit code and what it printed. */
  const cli = (...args: string[]) => runCli(root, args);
  return { store, deadLetters, cli };
}

describe('the dead-letter command', () => {
  it('lists the dead letters, oldest first, for people and as JSON', async () => {
    const { cli } = await lakeWithDeadLetters();
    const text = await cli('dead-letter', 'list');
    expect(text.code).toBe(0);
    expect(text.out).toContain('2 dead-lettered version(s)');
    expect(text.out.indexOf('raw/orders/a.parquet')).toBeLessThan(text.out.indexOf('raw/orders/b.parquet'));
    expect(text.out).toContain('RetryableJobError: executor lost');
    expect(text.out).toContain('being retried: raw/orders/c.parquet (ETag "c", 1 attempt(s) started');
    const json = await cli('dead-letter', 'list', '--json');
    const parsed = JSON.parse(json.out) as { deadLetters: DeadLetterEntry[]; retrying: Array<{ key: string; attempts: number }> };
    expect(parsed.retrying).toEqual([expect.objectContaining({ key: 'raw/orders/c.parquet', attempts: 1 })]);
    expect(parsed.deadLetters.map((e) => e.key)).toEqual(['raw/orders/a.parquet', 'raw/orders/b.parquet']);
    expect(parsed.deadLetters[0]).toMatchObject({ attempts: 3, logTail: 'last driver line', runId: 'run-raw/orders/a.parquet' });
  });

  it('prints a key with terminal control characters escaped, and JSON gives it back as it is', async () => {
    const { deadLetters, cli } = await lakeWithDeadLetters();
    const key = 'raw/orders/\u001b[2J\rfake.parquet';
    await deadLetters.deadLetter(entry(key, '2026-11-28T12:00:03.000Z'));
    const text = await cli('dead-letter', 'list');
    expect(text.out).toContain('raw/orders/\\u001b[2J\\u000dfake.parquet');
    for (const c of ['\u001b', '\r']) expect(text.out).not.toContain(c);
    const json = await cli('dead-letter', 'list', '--json');
    expect((JSON.parse(json.out) as { deadLetters: DeadLetterEntry[] }).deadLetters.map((e) => e.key)).toContain(key);
  });

  it('replays named keys, reports a key that is not dead-lettered, and still replays the others', async () => {
    const { deadLetters, cli } = await lakeWithDeadLetters();
    const result = await cli('dead-letter', 'replay', 'raw/orders/a.parquet', 'raw/orders/nope.parquet');
    expect(result.code).toBe(1);
    expect(result.out).toContain('replayed raw/orders/a.parquet');
    expect(result.err).toContain('not dead-lettered, nothing to replay: raw/orders/nope.parquet');
    const { document } = await deadLetters.load();
    expect(Object.keys(document.deadLetters)).toEqual(['raw/orders/b.parquet']);
    // attempts of versions still being retried are left alone
    expect(Object.keys(document.attempts)).toEqual(['raw/orders/c.parquet']);
  });

  it('shows dead-lettered versions apart from pending ones in status', async () => {
    const { cli, store, deadLetters } = await lakeWithDeadLetters();
    const { etag } = await store.put('raw/orders/poison.parquet', 'not parquet');
    await deadLetters.deadLetter({ ...entry('raw/orders/poison.parquet', '2026-11-28T12:00:03.000Z'), etag });
    await store.put('raw/orders/new.parquet', 'y');
    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ datasets: [{ dataset: 'orders', processed: 0, deadLettered: 1, pending: 1 }] });
  });

  it('replays everything with --all, and refuses a muddled command line', async () => {
    const { deadLetters, cli } = await lakeWithDeadLetters();
    expect((await cli('dead-letter', 'replay', '--all')).code).toBe(0);
    expect((await deadLetters.load()).document.deadLetters).toEqual({});
    expect((await cli('dead-letter', 'replay', '--all')).out).toContain('no dead letters to replay');
    for (const args of [['replay'], ['replay', '--all', 'raw/x.parquet'], ['list', 'raw/x.parquet'], ['forget']]) {
      const muddled = await cli('dead-letter', ...args);
      expect(muddled.code, args.join(' ')).toBe(2);
      expect(muddled.err).toContain('usage: dead-letter');
    }
  });
});
