/**
 * A backlog: files/min with one job per file vs batches, cold (spark-submit) and warm (Spark
 * Connect), and vs the peer a Spark user would write by hand (Structured Streaming, availableNow,
 * foreachBatch running the same transforms and merge), on the same generated files, in one run.
 *
 *   npx tsx bench/backlog.ts [--files 200] [--rows 40000] [--batch 100] [--cold-sample 12] [--warm-sample 40] [--warmup-files 20]
 *     [--format delta|parquet]
 *
 * The files are the connect bench's (bench/make_bench_files.py: orders with the demo's spec, about
 * 1 MB each, each a new day plus late updates of the day before), all in one dataset. Each mode
 * runs one pass of a fresh controller over its own copy of the files:
 *
 * - per-file cold: ENGINE=local, MAX_FILES_PER_JOB=1, on the first --cold-sample files (a cold
 *   job costs the same whatever file it gets; all 200 would take most of an hour);
 * - batched cold: ENGINE=local, MAX_FILES_PER_JOB=--batch, all files;
 * - per-file warm: ENGINE=connect, MAX_FILES_PER_JOB=1, on the first --warm-sample files, after
 *   the controller's worker processed --warmup-files files of another dataset the same way (its
 *   session is warm, as a long-lived controller's is);
 * - batched warm: ENGINE=connect, MAX_FILES_PER_JOB=--batch, all files, warmed up the same way;
 * - the peer: `spark-submit bench/streaming_peer.py` (one cold process, all files).
 *
 * Curated is a Delta table (the default) or Parquet folders (`--format parquet`): the demo's spec
 * with that `tableFormat`, in every mode and in the peer, whose spark-submit gets the controller's
 * own settings for the lake (`localSpark`: the Delta jars and extensions).
 *
 * files/min = files processed / wall time of the pass (for the peer: of its process). The curated
 * tables of the all-files modes must hold the same rows (checked, else the bench fails).
 */
import { rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createWatcher } from '../src/cli/wiring.js';
import { loadConfig } from '../src/config/config.js';
import { startConnectServer, stopConnectServer } from '../src/engines/connect/connect-server.js';
import { localSpark } from '../src/cli/engine-wiring.js';
import { sparkSubmitOptions } from '../src/engines/spark-submit-engine.js';
import { resolveSparkInstall } from '../src/engines/spark-install.js';
import { venvPython } from '../test/helpers/python.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '200' },
    rows: { type: 'string', default: '40000' },
    batch: { type: 'string', default: '100' },
    'cold-sample': { type: 'string', default: '12' },
    'warm-sample': { type: 'string', default: '40' },
    'warmup-files': { type: 'string', default: '20' },
    format: { type: 'string', default: 'delta' },
  },
});
const files = Number(values.files);
const rows = Number(values.rows);
const batch = Number(values.batch);
const coldSample = Math.min(files, Number(values['cold-sample']));
const warmSample = Math.min(files, Number(values['warm-sample']));
const warmupFiles = Math.min(files, Number(values['warmup-files']));
const format = values.format;
if (format !== 'delta' && format !== 'parquet') throw new Error(`--format: delta or parquet, got ${format}`);

const work = await mkdtemp(path.join(tmpdir(), 's3sw-backlog-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true })); // synchronous: 'exit' runs no async work
const source = path.join(work, 'source');
await execa(venvPython(), ['bench/make_bench_files.py', source, String(files), String(rows), '1']);
const rawDir = path.join(source, 'raw', 'orders', 'bench');
const names = (await readdir(rawDir)).filter((f) => f.endsWith('.parquet')).sort();
const sizes = await Promise.all(names.map(async (f) => (await stat(path.join(rawDir, f))).size));
const meanMb = sizes.reduce((a, b) => a + b, 0) / sizes.length / 1e6;
const specs = path.join(work, 'specs');
await mkdir(specs);
const spec = JSON.stringify({ ...(JSON.parse(await readFile('demo/datasets/orders.json', 'utf8')) as object), tableFormat: format });
for (const name of ['orders', 'warmup']) await writeFile(path.join(specs, `${name}.json`), spec);

/** Puts the first `count` files into a lake (modification times in file order, so oldest first is file order). */
async function addFiles(lake: string, count: number): Promise<void> {
  const dir = path.join(lake, 'raw', 'orders', 'bench');
  await mkdir(dir, { recursive: true });
  for (const f of names.slice(0, count)) await cp(path.join(rawDir, f), path.join(dir, f), { preserveTimestamps: true });
}

async function lakeWith(name: string, count: number): Promise<string> {
  const lake = path.join(work, name, 'lake');
  await addFiles(lake, count);
  return lake;
}

interface Measured {
  readonly files: number;
  readonly ms: number;
  readonly jobs: number;
  readonly lake: string;
}

async function pass(name: string, engine: 'local' | 'connect', perJob: number, count: number, remote?: string): Promise<Measured> {
  const lake = path.join(work, name, 'lake');
  await mkdir(lake, { recursive: true });
  const watcher = await createWatcher(
    loadConfig(
      {
        ...process.env,
        LAKE: lake,
        ENGINE: engine,
        ...(remote ? { SPARK_REMOTE: remote } : {}),
        DATASETS_DIR: specs,
        RUN_LOG_DIR: path.join(work, name, 'logs'),
        MAX_CONCURRENT_JOBS: '2',
        MAX_FILES_PER_JOB: String(perJob),
      },
      { cwd: process.cwd() },
    ),
  );
  try {
    if (engine === 'connect') {
      // Warm the worker's session: files of another dataset through the same controller, as it runs them.
      const warm = path.join(lake, 'raw', 'warmup');
      await mkdir(warm, { recursive: true });
      for (const f of names.slice(0, warmupFiles)) await cp(path.join(rawDir, f), path.join(warm, f));
      const w = await watcher.reconciler.runPass();
      if (w.processed !== warmupFiles) throw new Error(`${name}: warm-up processed ${w.processed} of ${warmupFiles}`);
      await rm(warm, { recursive: true });
    }
    await addFiles(lake, count); // after the warm-up, whose pass must not see them
    let jobs = 0;
    watcher.reconciler.events.on('job:started', () => (jobs += 1));
    let batches = 0;
    watcher.reconciler.events.on('batch:started', ({ versions }) => {
      batches += 1;
      jobs -= versions - 1;
    });
    const started = performance.now();
    const summary = await watcher.reconciler.runPass();
    const ms = performance.now() - started;
    if (summary.processed !== count) {
      throw new Error(
        `${name}: ${summary.processed} of ${count} processed: ${JSON.stringify(summary.results.find((r) => r.status === 'failed'))}`,
      );
    }
    console.error(`${name}: ${count} files in ${(ms / 1000).toFixed(1)} s (${jobs} job runs, ${batches} batches)`);
    return { files: count, ms, jobs, lake };
  } finally {
    await watcher.close();
  }
}

/** The peer: Structured Streaming over the same files, one cold spark-submit. */
async function peer(): Promise<Measured> {
  const lake = await lakeWith('peer', files);
  // The controller's own spark-submit settings for this lake (master, memory, local conf, Delta jars).
  const spark = await localSpark(loadConfig({ ...process.env, LAKE: lake }, { cwd: process.cwd() }));
  const started = performance.now();
  await execa(
    spark.sparkSubmit,
    [
      ...sparkSubmitOptions(spark, 'streaming-peer'),
      'bench/streaming_peer.py',
      '--lake',
      `file://${lake}`,
      '--spec',
      spec,
      '--max-files-per-trigger',
      String(batch),
    ],
    {
      env: { ...spark.env, ...(spark.pysparkPython ? { PYSPARK_PYTHON: spark.pysparkPython } : {}), SPARK_LOCAL_IP: '127.0.0.1' },
      stdio: 'inherit',
    },
  );
  const ms = performance.now() - started;
  console.error(`peer: ${files} files in ${(ms / 1000).toFixed(1)} s`);
  return { files, ms, jobs: 1, lake };
}

/** A curated table's row count and a digest of its rows (data columns, sorted): equal tables, equal digests. */
async function curatedRows(lake: string): Promise<string> {
  const { stdout } = await execa(venvPython(), [
    '-c',
    `import hashlib, os, sys
cols = ["order_id", "customer_id", "amount", "order_ts"]
if sys.argv[2] == "delta":  # the table's current files only, as its log lists them
    from deltalake import DeltaTable
    t = DeltaTable(sys.argv[1]).to_pyarrow_table(columns=cols)
else:
    import pyarrow.dataset as ds
    t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table(columns=cols)
rows = sorted(zip(*[t.column(c).to_pylist() for c in cols]), key=repr)
print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16], flush=True)
os._exit(0)  # delta-rs may abort in the interpreter's teardown`,
    path.join(lake, 'curated', 'orders'),
    format,
  ]);
  return stdout.trim();
}

/** Where a mode's job runs spent their time: the sum of their reports' `timingsMs` by phase, in seconds (`write` runs alongside `curate`). */
async function phases(lake: string): Promise<string> {
  const dir = path.join(lake, 'metadata', 'runs');
  const sums = new Map<string, number>();
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
    const report = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { dataset?: string; timingsMs?: Record<string, number> };
    if (report.dataset === 'warmup') continue;
    for (const [phase, ms] of Object.entries(report.timingsMs ?? {})) sums.set(phase, (sums.get(phase) ?? 0) + ms);
  }
  return [...sums].map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)}`).join(', ');
}

const perMin = (m: Measured): number => (m.files / m.ms) * 60_000;

console.error(`${files} files of ${meanMb.toFixed(2)} MB (${rows} rows) in one dataset; batches of ${batch}`);
const coldOne = await pass('cold-per-file', 'local', 1, coldSample);
const coldBatch = await pass('cold-batched', 'local', batch, files);
const install = resolveSparkInstall(undefined, {});
const stateDir = path.join(work, 'spark-connect');
const port = 15_103;
const server = await startConnectServer({
  sparkSubmit: install.sparkSubmit,
  host: '127.0.0.1',
  port,
  env: { ...(process.env as Record<string, string>), ...(install.pysparkPython ? { PYSPARK_PYTHON: install.pysparkPython } : {}) },
  stateDir,
});
let warmOne: Measured;
let warmBatch: Measured;
try {
  warmOne = await pass('warm-per-file', 'connect', 1, warmSample, server.remote);
  warmBatch = await pass('warm-batched', 'connect', batch, files, server.remote);
} finally {
  await stopConnectServer(stateDir, port);
}
const streaming = await peer();

const reference = await curatedRows(coldBatch.lake);
for (const [name, m] of [
  ['warm batched', warmBatch],
  ['peer', streaming],
] as const) {
  const got = await curatedRows(m.lake);
  if (got !== reference) throw new Error(`curated differs: cold batched has ${reference}, ${name} has ${got}`);
}

const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const row = (name: string, m: Measured): string =>
  `| ${name} | ${m.files} | ${m.jobs} | ${(m.ms / 1000).toFixed(1)} s | ${perMin(m).toFixed(1)} |`;
console.log(`Machine: ${machine}. ${files} files of ${meanMb.toFixed(2)} MB (${rows} rows) in one dataset; MAX_FILES_PER_JOB=${batch} for the batched modes and maxFilesPerTrigger=${batch} for the peer; MAX_CONCURRENT_JOBS=2; curated as ${format}. Curated of the all-files modes: ${reference.split(' ')[0]} rows, equal.

| mode | files | job runs | wall | files/min |
|---|---|---|---|---|
${row('cold spark-submit, a job per file', coldOne)}
${row(`cold spark-submit, batches of ${batch}`, coldBatch)}
${row('warm Spark Connect, a job per file', warmOne)}
${row(`warm Spark Connect, batches of ${batch}`, warmBatch)}
${row(`Structured Streaming peer (availableNow, maxFilesPerTrigger=${batch}, foreachBatch), cold spark-submit`, streaming)}

batched/per-file, cold: ${(perMin(coldBatch) / perMin(coldOne)).toFixed(1)}x (target >= 10x)
batched/per-file, warm: ${(perMin(warmBatch) / perMin(warmOne)).toFixed(1)}x (target >= 5x)
batched cold / peer: ${(perMin(coldBatch) / perMin(streaming)).toFixed(2)}x (target >= 1x)

Seconds by phase, summed over each mode's job reports:
${(
  await Promise.all(
    (
      [
        ['cold per file', coldOne],
        ['cold batched', coldBatch],
        ['warm per file', warmOne],
        ['warm batched', warmBatch],
      ] as const
    ).map(async ([name, m]) => `- ${name}: ${await phases(m.lake)}`),
  )
).join('\n')}`);
