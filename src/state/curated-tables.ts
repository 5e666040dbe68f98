import type { ObjectStore } from '../storage/object-store.js';
import { listAll } from '../storage/object-store.js';

/**
 * What `status` says of a curated table, read from the lake without Spark: a Delta Lake table's
 * latest version and commit (from its `_delta_log/`: `_last_checkpoint` says where to start
 * listing, so the listing stays short however long the log), or a Parquet table.
 */
export type CuratedTableState =
  | {
      readonly format: 'delta';
      readonly version: number;
      /** When the latest commit was made (its commitInfo), if it says. */
      readonly committedAt: string | null;
      /** MERGE, WRITE, ...; null when the commit does not say. */
      readonly operation: string | null;
      /** The run that made it, when the tool did (its userMetadata). */
      readonly runId: string | null;
    }
  | { readonly format: 'parquet' };

const COMMIT = /^(\d{20})\.json$/u;

/** The state of `curated/<dataset>/`, or undefined when there is no table. */
export async function curatedTableState(store: ObjectStore, dataset: string, signal?: AbortSignal): Promise<CuratedTableState | undefined> {
  const root = `curated/${dataset}/`;
  const log = `${root}_delta_log/`;
  const checkpoint = await checkpointVersion(store, log, signal);
  let latest: number | undefined;
  // Listing starts just after the commit before the checkpoint's (the listing's startAfter is exclusive).
  const from = checkpoint === undefined || checkpoint === 0 ? {} : { startAfter: `${log}${String(checkpoint - 1).padStart(20, '0')}.json` };
  for await (const object of listAll(store, log, { ...from, ...(signal ? { signal } : {}) })) {
    const m = COMMIT.exec(object.key.slice(log.length));
    if (m?.[1] !== undefined) latest = Math.max(latest ?? 0, Number(m[1]));
  }
  if (latest === undefined) {
    for await (const object of listAll(store, root, signal ? { signal } : {})) {
      if (object.key.endsWith('.parquet') && !object.key.slice(root.length).startsWith('_')) return { format: 'parquet' };
    }
    return undefined;
  }
  const commit = await commitInfo(store, `${log}${String(latest).padStart(20, '0')}.json`, signal);
  return { format: 'delta', version: latest, ...commit };
}

async function checkpointVersion(store: ObjectStore, log: string, signal?: AbortSignal): Promise<number | undefined> {
  const object = await store.get(`${log}_last_checkpoint`, signal);
  if (object === undefined) return undefined;
  try {
    const version = (JSON.parse(object.body.toString('utf8')) as { version?: unknown }).version;
    return typeof version === 'number' && Number.isInteger(version) && version >= 0 ? version : undefined;
  } catch {
    return undefined; // unreadable: list the whole log instead
  }
}

async function commitInfo(
  store: ObjectStore,
  key: string,
  signal?: AbortSignal,
): Promise<{ committedAt: string | null; operation: string | null; runId: string | null }> {
  const none = { committedAt: null, operation: null, runId: null };
  const object = await store.get(key, signal);
  if (object === undefined) return none;
  for (const line of object.body.toString('utf8').split('\n')) {
    let action: { commitInfo?: { timestamp?: unknown; operation?: unknown; userMetadata?: unknown } };
    try {
      action = JSON.parse(line) as typeof action;
    } catch {
      continue;
    }
    const info = action.commitInfo;
    if (info === undefined) continue;
    return {
      committedAt: typeof info.timestamp === 'number' ? new Date(info.timestamp).toISOString() : null,
      operation: typeof info.operation === 'string' ? info.operation : null,
      runId: runIdOf(info.userMetadata),
    };
  }
  return none;
}

function runIdOf(userMetadata: unknown): string | null {
  if (typeof userMetadata !== 'string') return null;
  try {
    const parsed = JSON.parse(userMetadata) as { app?: unknown; runId?: unknown };
    return parsed.app === 's3-spark-watcher' && typeof parsed.runId === 'string' ? parsed.runId : null;
  } catch {
    return null;
  }
}
