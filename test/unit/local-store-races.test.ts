import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Files whose next read is preceded by their deletion: the race between a listing's stat and its read, made certain. */
const deleteBeforeRead = new Set<string>();

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const createReadStream = ((...args: Parameters<typeof fs.createReadStream>) => {
    const file = args[0];
    if (typeof file === 'string' && deleteBeforeRead.delete(file)) fs.unlinkSync(file);
    return fs.createReadStream(...args);
  }) as typeof fs.createReadStream;
  return { ...fs, default: { ...fs, createReadStream }, createReadStream };
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
