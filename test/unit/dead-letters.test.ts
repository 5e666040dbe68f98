import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadLetterCorruptError } from '../../src/errors.js';
import { DEAD_LETTER_KEY, DeadLetterStore, type DeadLetterEntry } from '../../src/state/dead-letters.js';
import { LOG_TAIL_MAX_BYTES, LOG_TAIL_MAX_LINES, boundLogTail } from '../../src/state/job-failure.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const entry = (key: string, etag: string): DeadLetterEntry => ({
  key,
  etag,
  attempts: 1,
  errorClass: 'PermanentJobError',
  message: 'not a Parquet file',
  deadLetteredAt: '2026-11-28T12:00:00.000Z',
  runId: 'run-1',
});

describe('the dead-letter store', () => {
  it('counts attempts per version across instances, and stops at the limit without writing', async () => {
    const root = await tempDir();
    const first = new DeadLetterStore(new LocalObjectStore(root));
    expect(await first.beginAttempt('raw/a.parquet', '"1"', 'r1', 2)).toEqual({ started: true, attempt: 1 });
    await first.failAttempt('raw/a.parquet', '"1"', { errorClass: 'RetryableJobError', message: 'executor lost' });
    // a restarted controller: a new instance on the same lake goes on counting
    const second = new DeadLetterStore(new LocalObjectStore(root));
    expect(await second.beginAttempt('raw/a.parquet', '"1"', 'r2', 2)).toEqual({ started: true, attempt: 2 });
    const exhausted = await second.beginAttempt('raw/a.parquet', '"1"', 'r3', 2);
    expect(exhausted).toMatchObject({ started: false, record: { attempts: 2, runId: 'r2', lastFailure: { message: 'executor lost' } } });
    // a new ETag starts again from one
    expect(await second.beginAttempt('raw/a.parquet', '"2"', 'r4', 2)).toEqual({ started: true, attempt: 1 });
  });

  it('takes back a cancelled attempt', async () => {
    const store = new DeadLetterStore(new LocalObjectStore(await tempDir()));
    await store.beginAttempt('raw/a.parquet', '"1"', 'r1', 3);
    await store.beginAttempt('raw/a.parquet', '"1"', 'r2', 3);
    await store.cancelAttempt('raw/a.parquet', '"1"');
    expect((await store.load()).document.attempts['raw/a.parquet']?.attempts).toBe(1);
    await store.cancelAttempt('raw/a.parquet', '"1"');
    expect((await store.load()).document.attempts).toEqual({});
  });

  it('moves a version from attempts to dead letters in one write, and replays it', async () => {
    const store = new DeadLetterStore(new LocalObjectStore(await tempDir()));
    await store.beginAttempt('raw/a.parquet', '"1"', 'r1', 3);
    await store.deadLetter(entry('raw/a.parquet', '"1"'));
    const { document } = await store.load();
    expect(document.attempts).toEqual({});
    expect(document.deadLetters['raw/a.parquet']).toMatchObject({ etag: '"1"', message: 'not a Parquet file' });
    const result = await store.replay(['raw/a.parquet', 'raw/never.parquet']);
    expect(result.replayed.map((e) => e.key)).toEqual(['raw/a.parquet']);
    expect(result.notDeadLettered).toEqual(['raw/never.parquet']);
    expect((await store.load()).document.deadLetters).toEqual({});
  });

  it('merges concurrent writers instead of losing entries', async () => {
    const root = await tempDir();
    const a = new DeadLetterStore(new LocalObjectStore(root));
    const b = new DeadLetterStore(new LocalObjectStore(root));
    const keys = Array.from({ length: 16 }, (_, i) => `raw/ds/${i}.parquet`);
    await Promise.all(keys.map((k, i) => (i % 2 === 0 ? a : b).deadLetter(entry(k, `"${i}"`))));
    expect(Object.keys((await a.load()).document.deadLetters).sort()).toEqual([...keys].sort());
  });

  it('refuses a document it cannot read, and never overwrites it', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'metadata'));
    const file = path.join(root, DEAD_LETTER_KEY);
    for (const text of [
      '{"version": 1, ',
      '{"version": 2, "deadLetters": {}}',
      '{"version": 1, "deadLetters": {"raw/a": {"key": "raw/b", "etag": "x"}}}',
    ]) {
      await writeFile(file, text);
      const store = new DeadLetterStore(new LocalObjectStore(root));
      await expect(store.load()).rejects.toBeInstanceOf(DeadLetterCorruptError);
      await expect(store.deadLetter(entry('raw/c.parquet', '"1"'))).rejects.toThrow(/not a valid dead-letter document/u);
      expect(await readFile(file, 'utf8')).toBe(text);
    }
  });

  it('keeps only the end of a long driver log', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const tail = boundLogTail(lines);
    expect(tail.split('\n')).toHaveLength(LOG_TAIL_MAX_LINES);
    expect(tail.endsWith('line 99')).toBe(true);
    const wide = boundLogTail(Array.from({ length: 40 }, (_, i) => `${i} ${'x'.repeat(1000)}`).join('\n'));
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(LOG_TAIL_MAX_BYTES);
    expect(wide.startsWith('32 ')).toBe(true);
    expect(Buffer.byteLength(boundLogTail('y'.repeat(20_000)))).toBe(LOG_TAIL_MAX_BYTES);
  });
});
