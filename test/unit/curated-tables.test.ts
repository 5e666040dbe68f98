import { describe, expect, it } from 'vitest';
import { curatedTableState } from '../../src/state/curated-tables.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const log = (dataset: string, version: number): string => `curated/${dataset}/_delta_log/${String(version).padStart(20, '0')}.json`;

/** A commit as Delta writes it: one JSON action per line, commitInfo among them. */
function commit(timestamp: number, operation: string, userMetadata?: string): string {
  return [
    JSON.stringify({ commitInfo: { timestamp, operation, ...(userMetadata === undefined ? {} : { userMetadata }) } }),
    JSON.stringify({ add: { path: 'part-0.parquet', size: 1, modificationTime: timestamp, dataChange: true } }),
  ].join('\n');
}

describe('curated table state (status)', () => {
  it('reads the latest commit of a Delta table, from its last checkpoint on', async () => {
    const store = new LocalObjectStore(await tempDir());
    for (let v = 0; v <= 24; v += 1) {
      await store.put(
        log('orders', v),
        commit(1_764_000_000_000 + v * 1000, v === 0 ? 'WRITE' : 'MERGE', JSON.stringify({ app: 's3-spark-watcher', runId: `run-${v}` })),
      );
    }
    await store.put('curated/orders/_delta_log/00000000000000000020.checkpoint.parquet', 'x');
    await store.put('curated/orders/_delta_log/_last_checkpoint', JSON.stringify({ version: 20, size: 3 }));
    expect(await curatedTableState(store, 'orders')).toEqual({
      format: 'delta',
      version: 24,
      committedAt: new Date(1_764_000_024_000).toISOString(),
      operation: 'MERGE',
      runId: 'run-24',
    });
  });

  it('says nothing of the run when another writer made the last commit, and reads a log without checkpoint', async () => {
    const store = new LocalObjectStore(await tempDir());
    await store.put(log('events', 0), commit(1_764_000_000_000, 'WRITE', JSON.stringify({ app: 's3-spark-watcher', runId: 'run-0' })));
    await store.put(log('events', 1), commit(1_764_000_001_000, 'OPTIMIZE', 'compaction by hand'));
    await store.put('curated/events/_delta_log/_last_checkpoint', 'not json');
    expect(await curatedTableState(store, 'events')).toMatchObject({ format: 'delta', version: 1, operation: 'OPTIMIZE', runId: null });
  });

  it('reads a table whose only commit has a checkpoint (CONVERT TO DELTA writes one at version 0)', async () => {
    const store = new LocalObjectStore(await tempDir());
    await store.put(
      log('converted', 0),
      commit(1_764_000_000_000, 'CONVERT', JSON.stringify({ app: 's3-spark-watcher', runId: 'convert-1' })),
    );
    await store.put('curated/converted/_delta_log/00000000000000000000.checkpoint.parquet', 'x');
    await store.put('curated/converted/_delta_log/_last_checkpoint', JSON.stringify({ version: 0, size: 3 }));
    await store.put('curated/converted/order_date=2026-11-01/part-0.snappy.parquet', 'x');
    expect(await curatedTableState(store, 'converted')).toMatchObject({
      format: 'delta',
      version: 0,
      operation: 'CONVERT',
      runId: 'convert-1',
    });
  });

  it('tells a Parquet table from no table', async () => {
    const store = new LocalObjectStore(await tempDir());
    await store.put('curated/plain/order_date=2026-11-01/part-0.snappy.parquet', 'x');
    expect(await curatedTableState(store, 'plain')).toEqual({ format: 'parquet' });
    expect(await curatedTableState(store, 'nothing')).toBeUndefined();
  });
});
