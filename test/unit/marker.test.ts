import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MarkerCorruptError } from '../../src/errors.js';
import { MARKER_DELTA_PREFIX, deltaKey } from '../../src/state/marker-deltas.js';
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

  it('a big marker takes each update as a small numbered delta, and folds them into processed_files.json every foldEvery updates', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    const big = { deltasFrom: 0, foldEvery: 3 };
    const marker = new MarkerStore(store, big);
    const deltas = async () => (await readdir(path.join(root, MARKER_DELTA_PREFIX)).catch(() => [])).sort();
    await marker.record('raw/a.parquet', entry('"a"'));
    await marker.record('raw/b.parquet', entry('"b"'));
    expect(await deltas()).toEqual(['000000000001.json', '000000000002.json']);
    expect(await store.get(MARKER_KEY)).toBeUndefined();
    // The third update folds: the document holds all three, says through which delta, and the deltas are gone.
    await marker.record('raw/c.parquet', entry('"c"'));
    expect(await deltas()).toEqual([]);
    const folded = JSON.parse(await readFile(path.join(root, MARKER_KEY), 'utf8')) as { foldedThrough: number; files: object };
    expect(folded.foldedThrough).toBe(2);
    expect(Object.keys(folded.files).sort()).toEqual(['raw/a.parquet', 'raw/b.parquet', 'raw/c.parquet']);
    await marker.record('raw/d.parquet', entry('"d"'));
    await marker.record('raw/a.parquet', entry('"a2"'));
    expect(await deltas()).toEqual(['000000000003.json', '000000000004.json']);
    // Any reader (a restarted controller, status) sees the document with the deltas applied in order.
    const { document } = await new MarkerStore(store).load();
    expect(Object.fromEntries(Object.entries(document.files).map(([k, e]) => [k, e.etag]))).toEqual({
      'raw/a.parquet': '"a2"',
      'raw/b.parquet': '"b"',
      'raw/c.parquet': '"c"',
      'raw/d.parquet': '"d"',
    });
  });

  it('merges concurrent writers through deltas and folds too, losing no entry', async () => {
    const root = await tempDir();
    const options = { deltasFrom: 0, foldEvery: 4 };
    const a = new MarkerStore(new LocalObjectStore(root), options);
    const b = new MarkerStore(new LocalObjectStore(root), options);
    const keys = Array.from({ length: 30 }, (_, i) => `raw/ds/${i}.parquet`);
    await Promise.all(keys.map((k, i) => (i % 2 === 0 ? a : b).record(k, entry(`"${i}"`))));
    const { document } = await new MarkerStore(new LocalObjectStore(root)).load();
    expect(Object.keys(document.files).sort()).toEqual([...keys].sort());
  });

  it('refuses a delta it cannot read, naming it, and leaves it untouched', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    const marker = new MarkerStore(store, { deltasFrom: 0 });
    await marker.record('raw/a.parquet', entry('"a"'));
    await store.put(deltaKey(2), '{"version": 1, "seq": 2, "files": {"raw/b.parquet": {}}}');
    const error = await new MarkerStore(store).load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarkerCorruptError);
    expect((error as Error).message).toContain(`${deltaKey(2)} (an update of the marker not yet folded into it) is not valid`);
    expect((error as Error).message).toContain('`s3-spark-watcher marker rebuild`');
    await expect(marker.record('raw/c.parquet', entry('"c"'))).rejects.toBeInstanceOf(MarkerCorruptError);
    expect((await store.get(deltaKey(2)))?.body.toString()).toBe('{"version": 1, "seq": 2, "files": {"raw/b.parquet": {}}}');
  });

  it('redoes an update whose delta number was freed by a fold that ran meanwhile, so the entry is not lost', async () => {
    const root = await tempDir();
    const options = { deltasFrom: 0, foldEvery: 3 };
    const folder = new MarkerStore(new LocalObjectStore(root), options);
    // The slow writer's store holds its first delta write until the other writer has folded.
    let hold: Promise<void> | undefined;
    let reached = (_key: string): void => {};
    const held = new Promise<string>((resolve) => (reached = resolve));
    const slowStore = new LocalObjectStore(root);
    const put = slowStore.put.bind(slowStore);
    slowStore.put = async (key, body, opts) => {
      if (hold !== undefined && key.startsWith(MARKER_DELTA_PREFIX)) {
        reached(key);
        await hold;
      }
      return put(key, body, opts);
    };
    const slow = new MarkerStore(slowStore, options);
    await folder.record('raw/1.parquet', entry('"1"')); // delta 1
    let release = (): void => {};
    hold = new Promise((resolve) => (release = resolve));
    const slowRecord = slow.record('raw/slow.parquet', entry('"slow"'));
    expect(await held).toBe(deltaKey(2)); // it read delta 1 and is about to write delta 2
    await folder.record('raw/2.parquet', entry('"2"')); // takes delta 2
    await folder.record('raw/3.parquet', entry('"3"')); // folds through 2, deletes deltas 1 and 2
    expect(JSON.parse(await readFile(path.join(root, MARKER_KEY), 'utf8'))).toMatchObject({ foldedThrough: 2 });
    hold = undefined;
    release();
    await slowRecord; // its delta 2 lands in a freed number, below foldedThrough: it must write again
    const { document } = await new MarkerStore(new LocalObjectStore(root)).load();
    expect(Object.keys(document.files).sort()).toEqual(['raw/1.parquet', 'raw/2.parquet', 'raw/3.parquet', 'raw/slow.parquet']);
  });

  it('reads again when a fold ran between reading processed_files.json and listing the deltas, so no entry is missed', async () => {
    const root = await tempDir();
    const options = { deltasFrom: 0, foldEvery: 3 };
    const writer = new MarkerStore(new LocalObjectStore(root), options);
    await writer.record('raw/1.parquet', entry('"1"'));
    await writer.record('raw/2.parquet', entry('"2"'));
    // The reader's first listing of the deltas waits until the writer has folded them away.
    let release = (): void => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    let reached = (): void => {};
    const listing = new Promise<void>((resolve) => (reached = resolve));
    const readerStore = new LocalObjectStore(root);
    const listPage = readerStore.listPage.bind(readerStore);
    let first = true;
    readerStore.listPage = async (prefix, opts) => {
      if (first && prefix === MARKER_DELTA_PREFIX) {
        first = false;
        reached();
        await hold;
      }
      return listPage(prefix, opts);
    };
    const read = new MarkerStore(readerStore).load();
    await listing; // it has read processed_files.json (none yet) and is about to list deltas 1 and 2
    await writer.record('raw/3.parquet', entry('"3"')); // folds 1..3 into processed_files.json, deletes the deltas
    release();
    const { document } = await read;
    expect(Object.keys(document.files).sort()).toEqual(['raw/1.parquet', 'raw/2.parquet', 'raw/3.parquet']);
  });
});
