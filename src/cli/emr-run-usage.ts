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
      if (run.etag === null) return { ...run, emr: null };
      const record = await inflight.read(run.key, run.etag).catch(() => undefined);
      return { ...run, emr: record?.runId === run.runId ? (record.usage ?? null) : null };
    }),
  );
  return [...shown, ...runs.slice(count)];
}
