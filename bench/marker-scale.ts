/**
 * What the marker (metadata/processed_files.json, one JSON document) costs as it grows: a reconcile
 * pass with nothing to do, reading the marker (as the running controller keeps it, and cold, as a
 * controller that just started), and marker updates (MarkerStore.record, 40 in a row, as 40
 * finished jobs make them: median, mean, and the slowest, which folds), at 1k, 10k and 100k
 * entries, on a local-folder lake and on S3 (moto server on loopback).
 *
 *   npx tsx bench/marker-scale.ts [--sizes 1000,10000,100000] [--repeat 5] [--stores local,s3]
 *
 * The marker is synthesized (N entries of the shape the controller writes); so is the raw/ listing
 * (served from memory, in pages of 1000 as S3 does, so the figure is the marker's cost and the
 * diff's, not the listing's); the dead-letter document is real and empty. The engine is a stand-in
 * that would succeed at once (no Spark) and is never called: every raw version is in the marker.
 * Prints the median of `--repeat` runs per figure and Markdown table rows for BENCHMARKS.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Reconciler } from '../src/controller/reconciler.js';
import { candidateFilter } from '../src/discovery/candidates.js';
import { PollingDiscovery } from '../src/discovery/poller.js';
import type { JobRequest, SparkEngine } from '../src/engines/engine.js';
import type { RunReport } from '../src/engines/run-report.js';
import { DeadLetterStore } from '../src/state/dead-letters.js';
import { MARKER_FORMAT_VERSION, MARKER_KEY, MarkerStore, type ProcessedEntry } from '../src/state/marker.js';
import { LocalObjectStore } from '../src/storage/local-store.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectStore } from '../src/storage/object-store.js';
import { S3ObjectStore } from '../src/storage/s3-store.js';
import { startMotoServer } from '../test/helpers/moto-server.js';
import { succeededReport } from '../test/helpers/scripted-engine.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    repeat: { type: 'string', default: '5' },
    stores: { type: 'string', default: 'local,s3' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const repeat = Number(values.repeat);
const stores = values.stores.split(',');

/** Never called in a pass with nothing to do; there so the Reconciler is the real one. */
class IdleEngine implements SparkEngine {
  readonly name = 'local' as const;
  submitted = 0;
  async submit(job: JobRequest): Promise<RunReport> {
    this.submitted += 1;
    return succeededReport(job);
  }
  async close(): Promise<void> {}
}

/** The lake's store, with raw/ listed from memory (N synthetic versions); everything else is the real store's. */
class SyntheticRaw implements ObjectStore {
  readonly description: string;
  constructor(
    readonly inner: ObjectStore,
    readonly raw: readonly ObjectInfo[],
  ) {
    this.description = inner.description;
  }
  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (prefix !== 'raw/') return this.inner.listPage(prefix, options);
    const from = Number(options.continuationToken ?? 0);
    const to = from + (options.pageSize ?? 1000);
    return to < this.raw.length ? { objects: this.raw.slice(from, to), nextToken: String(to) } : { objects: this.raw.slice(from) };
  }
  head: ObjectStore['head'] = (key, signal) => this.inner.head(key, signal);
  get: ObjectStore['get'] = (key, signal) => this.inner.get(key, signal);
  put: ObjectStore['put'] = (key, body, options) => this.inner.put(key, body, options);
  delete: ObjectStore['delete'] = (key, signal) => this.inner.delete(key, signal);
}

function synthesize(n: number): { raw: ObjectInfo[]; files: Record<string, ProcessedEntry> } {
  const raw: ObjectInfo[] = [];
  const files: Record<string, ProcessedEntry> = {};
  for (let i = 0; i < n; i++) {
    const dataset = `dataset${i % 20}`;
    const key = `raw/${dataset}/2026/11/${String((i % 28) + 1).padStart(2, '0')}/part-${String(i).padStart(7, '0')}.parquet`;
    const etag = `"${(i * 2654435761).toString(16).padStart(32, '0').slice(-32)}"`;
    raw.push({ key, size: 1_048_576 + i, etag, lastModified: new Date(1_764_000_000_000 + i * 1000) });
    files[key] = {
      etag,
      size: 1_048_576 + i,
      runId: `20261128T120000123Z-${(i * 40503).toString(16).padStart(12, '0').slice(-12)}`,
      engine: 'local',
      finishedAt: new Date(1_764_000_060_000 + i * 1000).toISOString(),
      rows: { read: 40_000, cleaned: 39_800, quarantined: 200, curated: 39_800 },
    };
  }
  return { raw, files };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

interface Row {
  store: string;
  entries: number;
  markerBytes: number;
  passMs: number;
  /** A controller that just started (nothing kept yet). */
  coldLoadMs: number;
  loadMs: number;
  recordMs: number;
  recordMeanMs: number;
  /** The slowest update: one that folds the deltas into processed_files.json (every 20th at this size). */
  recordMaxMs: number;
}

const UPDATES = 40;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function measure(name: string, base: ObjectStore, n: number): Promise<Row> {
  const { raw, files } = synthesize(n);
  const text = `${JSON.stringify({ version: MARKER_FORMAT_VERSION, updatedAt: new Date().toISOString(), files }, null, 1)}\n`;
  await base.put(MARKER_KEY, text, { contentType: 'application/json' });
  const store = new SyntheticRaw(base, raw);
  const engine = new IdleEngine();
  const marker = new MarkerStore(store);
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker,
    deadLetters: new DeadLetterStore(store),
    engine,
  });
  const pass: number[] = [];
  const load: number[] = [];
  const coldLoad: number[] = [];
  const record: number[] = [];
  const summary = await reconciler.runPass();
  if (summary.upToDate !== n || engine.submitted !== 0) throw new Error(`the pass was not idle: ${JSON.stringify(summary)}`);
  // Updates as a controller makes them, one per finished job (a fold among them), with passes in between.
  for (let i = 0; i < UPDATES; i++) {
    const [key, entry] = [raw[i]!.key, files[raw[i]!.key]!];
    record.push(await timed(() => marker.record(key, { ...entry, runId: `${entry.runId}-again` })));
  }
  for (let i = 0; i < repeat; i++) {
    pass.push(await timed(() => reconciler.runPass()));
    load.push(await timed(() => marker.load()));
    coldLoad.push(await timed(() => new MarkerStore(store).load()));
  }
  return {
    store: name,
    entries: n,
    markerBytes: Buffer.byteLength(text),
    passMs: median(pass),
    coldLoadMs: median(coldLoad),
    loadMs: median(load),
    recordMs: median(record),
    recordMeanMs: mean(record),
    recordMaxMs: Math.max(...record),
  };
}

const rows: Row[] = [];
const folders: string[] = [];
const moto = stores.includes('s3') ? await startMotoServer() : undefined;
try {
  for (const n of sizes) {
    if (stores.includes('local')) {
      folders.push(await mkdtemp(path.join(tmpdir(), 's3sw-marker-scale-')));
      rows.push(await measure('local folder', new LocalObjectStore(folders.at(-1)!), n));
    }
    if (moto !== undefined) {
      const bucket = `marker-scale-${n}`;
      await moto.createBucket(bucket);
      rows.push(await measure('S3 (moto, loopback)', new S3ObjectStore({ client: moto.s3, bucket }), n));
    }
    const last = rows.at(-1);
    console.error(`done ${n}: ${JSON.stringify(last)}`);
  }
} finally {
  await moto?.stop();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
}

const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
console.log(
  `| store | marker entries | marker size | pass, nothing to do | marker read (kept / cold start) | marker update: median / mean / max of ${UPDATES} |`,
);
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.store} | ${r.entries.toLocaleString('en')} | ${(r.markerBytes / 1_048_576).toFixed(1)} MiB | ${s(r.passMs)} | ${s(r.loadMs)} / ${s(r.coldLoadMs)} | ${s(r.recordMs)} / ${s(r.recordMeanMs)} / ${s(r.recordMaxMs)} |`,
  );
}
