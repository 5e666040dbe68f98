import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { MarkerStore } from '../../src/state/marker.js';
import { listAll, type ObjectStore } from '../../src/storage/object-store.js';
import { readParquetRows } from './python.js';
import { tempDir } from './temp-dir.js';
import { type VersionState, versionStates } from './version-states.js';

const LINEAGE = new Set(['_source_key', '_source_etag', '_ingested_at']);

/** The rows of `curated/<dataset>/` in any store (copied to a temporary folder, read with delta-rs, or pyarrow for a Parquet table); [] when there is none. */
export async function curatedRows(store: ObjectStore, dataset: string): Promise<Record<string, unknown>[]> {
  const prefix = `curated/${dataset}/`;
  const folder = await tempDir('s3sw-curated-');
  let files = 0;
  for await (const object of listAll(store, prefix)) {
    const rel = object.key.slice(prefix.length);
    if (!isTableFile(rel)) continue;
    const target = path.join(folder, ...rel.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, (await store.get(object.key))?.body ?? Buffer.alloc(0));
    files += 1;
  }
  return files === 0 ? [] : readParquetRows(folder);
}

/** A data file or a Delta log entry of a table (not Spark's `_SUCCESS`, staging or checksum files). */
export function isTableFile(rel: string): boolean {
  if (rel.startsWith('_delta_log/')) return /^_delta_log\/[^/]+\.(json|checkpoint\.parquet)$|^_delta_log\/_last_checkpoint$/u.test(rel);
  return rel.endsWith('.parquet') && !rel.split('/').some((s) => s.startsWith('_') || s.startsWith('.'));
}

/** Rows (as JSON of their data columns, lineage left out) that occur more than once; with `keys`, keys that do. */
export function duplicates(rows: readonly Record<string, unknown>[], keys?: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const row of rows) {
    const picked = Object.entries(row)
      .filter(([name]) => (keys ? keys.includes(name) : !LINEAGE.has(name)))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const id = JSON.stringify(picked);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}

/** The datasets that have a curated table (the first folder under curated/). */
async function curatedDatasets(store: ObjectStore): Promise<string[]> {
  const found = new Set<string>();
  for await (const object of listAll(store, 'curated/')) found.add(object.key.split('/')[1] ?? '');
  return [...found].filter((d) => d !== '').sort();
}

/**
 * What a user checks after any run: every current raw version is in exactly one of processed,
 * dead-lettered or pending (versionStates fails otherwise); every curated table has no duplicate
 * row (no duplicate key for the datasets in `keysOf`); and every curated row comes from a version
 * the marker records (a failed job left nothing behind). `datasets` limits the curated checks
 * (each costs a read); by default every curated table is checked. Returns the version states.
 */
export async function expectLakeConsistent(
  store: ObjectStore,
  options: { datasets?: readonly string[]; keysOf?: Readonly<Record<string, readonly string[]>> } = {},
): Promise<Record<string, VersionState>> {
  const states = await versionStates(store);
  const { document: marker } = await new MarkerStore(store).load();
  for (const dataset of options.datasets ?? (await curatedDatasets(store))) {
    const keysOf = options.keysOf ?? {};
    const rows = await curatedRows(store, dataset);
    expect(duplicates(rows, keysOf[dataset]), `duplicate rows in curated/${dataset}/`).toEqual([]);
    const sources = new Set(rows.map((r) => JSON.stringify([String(r['_source_key']), String(r['_source_etag'])])));
    for (const source of sources) {
      const [key, etag] = JSON.parse(source) as [string, string];
      expect(marker.files[key]?.etag, `curated/${dataset}/ has rows of ${key} ${etag}, a version the marker does not record`).toBe(etag);
    }
  }
  return states;
}
