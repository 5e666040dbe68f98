import { batchInflightId } from '../engines/emr/emr-serverless-engine.js';
import { InflightRecords } from '../engines/emr/inflight.js';
import type { RunRecord } from '../state/run-history.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * The newest `count` runs with what their EMR job run used and was billed, from each version's
 * in-flight record (it holds the last attempt's usage: an older attempt's run shows null).
 */
export async function withEmrUsage(store: ObjectStore, runs: readonly RunRecord[], count: number): Promise<RunRecord[]> {
  const inflight = new InflightRecords(store);
  const shown = await Promise.all(
    runs.slice(0, count).map(async (run) => {
      // A batch's record is its dataset's (the last batch run of it); a version's is its key and ETag's.
      const id =
        run.batch !== undefined
          ? { key: batchInflightId(run.dataset), etag: '' }
          : run.etag === null
            ? undefined
            : { key: run.key, etag: run.etag };
      if (id === undefined) return { ...run, emr: null };
      const record = await inflight.read(id.key, id.etag).catch(() => undefined);
      return { ...run, emr: record?.runId === run.runId ? (record.usage ?? null) : null };
    }),
  );
  return [...shown, ...runs.slice(count)];
}
