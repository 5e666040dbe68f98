import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { LOCAL_STORE_WORK_DIR, LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Files whose next read is preceded by their deletion: the race between a listing's stat and its read, made certain. */
const deleteBeforeRead = new Set<string>();

/** Every file the store opened for reading (to hash it). */
const readFrom: string[] = [];

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const createReadStream = ((...args: Parameters<typeof fs.createReadStream>) => {
    const file = args[0];
    if (typeof file === 'string') readFrom.push(file);
    if (typeof file === 'string' && deleteBeforeRead.delete(file)) fs.unlinkSync(file);
    return fs.createReadStream(...args);
  }) as typeof fs.createReadStream;
  return { ...fs, default: { ...fs, createReadStream }, createReadStream };
});

/** Run once, after a lock file's stat, before the store acts on it: the race between judging a lock stale and breaking it. */
const afterLockStat: { hook?: ((file: string) => void) | undefined; stats: number } = { stats: 0 };

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const stat = (async (...args: Parameters<typeof fs.stat>) => {
    const result = await fs.stat(...args);
    const file = String(args[0]);
    if (file.endsWith('.lock')) {
      afterLockStat.stats += 1;
      const hook = afterLockStat.hook;
      afterLockStat.hook = undefined;
      hook?.(file);
    }
    return result;
  }) as typeof fs.stat;
  return { ...fs, default: { ...fs, stat }, stat };
});

describe('LocalObjectStore breaking a stale write lock', () => {
  it('never removes the fresh lock another writer took after breaking the same stale one', async () => {
    const root = await tempDir();
    const work = path.join(root, LOCAL_STORE_WORK_DIR);
    await mkdir(work, { recursive: true });
    const store = new LocalObjectStore(root);
    await store.put('metadata/k.json', 'v0');
    // A writer died holding the key's lock a minute ago.
    const lock = path.join(work, `${createHash('sha256').update('metadata/k.json').digest('hex').slice(0, 32)}.lock`);
    writeFileSync(lock, '4242\ndead\n');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(lock, minuteAgo, minuteAgo);
    // Just after this writer judged it stale, another broke it and now holds a fresh lock.
    afterLockStat.hook = (file) => {
      unlinkSync(file);
      writeFileSync(file, '4343\nfresh\n');
    };
    afterLockStat.stats = 0;
    const current = await store.head('metadata/k.json');
    const put = store.put('metadata/k.json', 'v1', { ifMatch: current?.etag ?? '' });
    // It must find the fresh lock again and wait for it, not delete it.
    const deadline = Date.now() + 10_000;
    while (afterLockStat.stats < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(afterLockStat.stats).toBeGreaterThanOrEqual(2);
    expect(readFileSync(lock, 'utf8')).toBe('4343\nfresh\n');
    expect(await store.get('metadata/k.json')).toMatchObject({ body: Buffer.from('v0') });
    await unlink(lock); // the other writer is done
    await put;
    expect((await store.get('metadata/k.json'))?.body.toString()).toBe('v1');
    expect(await readdir(work)).toEqual([]);
  });
});

describe('discovery on a local lake', () => {
  it('hashes only candidates: other files under raw/ are never read, however big', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    for (const key of ['raw/ds/a.parquet', 'raw/ds/dump.csv', 'raw/ds/_temporary/0/part.parquet', 'raw/ds/.upload.parquet']) {
      await store.put(key, key);
    }
    readFrom.length = 0;
    const found = await new PollingDiscovery(new LocalObjectStore(root), candidateFilter()).discover();
    expect(found.candidates.map((c) => c.key)).toEqual(['raw/ds/a.parquet']);
    expect(found.skipped).toEqual({ 'folder-marker': 0, 'hidden-or-temporary': 2, 'not-matching': 1 });
    expect(readFrom).toEqual([path.join(root, 'raw', 'ds', 'a.parquet')]);
  });
});

describe('LocalObjectStore under a concurrent delete', () => {
  it('lists an object deleted between its stat and its read as gone, as S3 would, and lists the rest', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    await store.put('metadata/deltas/000001.json', '{"a":1}');
    await store.put('metadata/deltas/000002.json', '{"b":2}');
    deleteBeforeRead.add(path.join(root, 'metadata', 'deltas', '000001.json'));
    const page = await new LocalObjectStore(root).listPage('metadata/deltas/');
    expect(page.objects.map((o) => o.key)).toEqual(['metadata/deltas/000002.json']);
    expect(deleteBeforeRead.size).toBe(0);
  });

  it('answers head with nothing for an object deleted between its stat and its read', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    await store.put('raw/a.parquet', 'x');
    deleteBeforeRead.add(path.join(root, 'raw', 'a.parquet'));
    expect(await new LocalObjectStore(root).head('raw/a.parquet')).toBeUndefined();
    await expect(unlink(path.join(root, 'raw', 'a.parquet'))).rejects.toThrow(/ENOENT/);
  });
});
