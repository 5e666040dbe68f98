import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MarkerCorruptError } from '../../src/errors.js';
import { MARKER_KEY, MarkerStore, type ProcessedEntry } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const entry = (etag: string): ProcessedEntry => ({
  etag,
  size: 10,
  runId: `run-${etag}`,
  engine: 'local',
  finishedAt: '2026-11-28T00:00:00Z',
  rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
});

describe('the marker', () => {
  it('starts empty and records versions', async () => {
    const marker = new MarkerStore(new LocalObjectStore(await tempDir()), { now: () => new Date('2026-11-28T12:00:00Z') });
    expect((await marker.load()).etag).toBeUndefined();
    await marker.record('raw/a.parquet', entry('"1"'));
    await marker.record('raw/a.parquet', entry('"2"'));
    const { document } = await marker.load();
    expect(document.files['raw/a.parquet']?.etag).toBe('"2"');
    expect(document.updatedAt).toBe('2026-11-28T12:00:00.000Z');
  });

  it('merges concurrent writers instead of losing entries', async () => {
    const root = await tempDir();
    // Two controllers on one lake, each with its own store instance.
    const a = new MarkerStore(new LocalObjectStore(root));
    const b = new MarkerStore(new LocalObjectStore(root));
    const keys = Array.from({ length: 20 }, (_, i) => `raw/ds/${i}.parquet`);
    await Promise.all(keys.map((k, i) => (i % 2 === 0 ? a : b).record(k, entry(`"${i}"`))));
    const { document } = await a.load();
    expect(Object.keys(document.files).sort()).toEqual([...keys].sort());
  });

  it('refuses a marker it cannot read, and never overwrites it', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'metadata'));
    const file = path.join(root, MARKER_KEY);
    for (const text of [
      '{"version": 1, "files": ',
      '["raw/a.parquet"]',
      '{"version": 7, "files": {}}',
      '{"version": 1, "files": {"raw/a": {}}}',
    ]) {
      await writeFile(file, text);
      const marker = new MarkerStore(new LocalObjectStore(root));
      await expect(marker.load()).rejects.toBeInstanceOf(MarkerCorruptError);
      await expect(marker.record('raw/b.parquet', entry('"1"'))).rejects.toBeInstanceOf(MarkerCorruptError);
      expect(await readFile(file, 'utf8')).toBe(text);
    }
  });
});
