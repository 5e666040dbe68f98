/**
 * Cold spark-submit per file (the original design) vs one warm Spark Connect server, on the same files.
 *
 *   npx tsx bench/connect-speedup.ts [--files 20] [--rows 40000] [--datasets 1] [--warmup-rounds 5]
 *
 * Makes N Parquet files of about 1 MB (orders with the demo's spec: types, rules, keys, a
 * partition by day; file i holds day i's new orders, 5% of them twice, and 2% late updates of day
 * i-1's, so each merge rewrites two partitions of a growing table), copies them into two local
 * lakes, and runs one pass over each: ENGINE=local (one spark-submit per file), then
 * ENGINE=connect against a server started here, with a controller that first processed the same
 * files --warmup-rounds times as other datasets (its worker's session is warm, as a long-lived
 * controller's is). Reports per-file wall time (job start to report, as the controller
 * sees it) median and p95, files per minute over the whole pass, and where a warm file's time goes
 * (the job's own phases from its report, plus the time outside the job: process start, JVM start
 * and SparkContext for a cold run; the request round trip and the report for a warm one).
 * With --datasets K the files are spread over K datasets, so MAX_CONCURRENT_JOBS=2 can overlap them.
 */
import { cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createWatcher } from '../src/cli/wiring.js';
import { loadConfig } from '../src/config/config.js';
import type { RunReport } from '../src/engines/run-report.js';
import { startConnectServer, stopConnectServer } from '../src/engines/connect/connect-server.js';
import { resolveSparkInstall } from '../src/engines/spark-install.js';
import { venvPython } from '../test/helpers/python.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '20' },
    rows: { type: 'string', default: '40000' },
    datasets: { type: 'string', default: '1' },
    'warmup-rounds': { type: 'string', default: '5' },
  },
});
const files = Number(values.files);
const rows = Number(values.rows);
const datasets = Number(values.datasets);
const warmupRounds = Number(values['warmup-rounds']);

const work = await mkdtemp(path.join(tmpdir(), 's3sw-bench-'));
process.on('exit', () => void rm(work, { recursive: true, force: true }));
const source = path.join(work, 'source');
await execa(venvPython(), ['bench/make_bench_files.py', source, String(files), String(rows), String(datasets)]);
const sizes = await Promise.all(
  (await readdir(path.join(source, 'raw'), { recursive: true }))
    .filter((f) => f.endsWith('.parquet'))
    .map(async (f) => (await stat(path.join(source, 'raw', f))).size),
);
const meanMb = sizes.reduce((a, b) => a + b, 0) / sizes.length / 1e6;

const specs = path.join(work, 'specs');
await mkdir(specs);
const datasetNames = Array.from({ length: datasets }, (_, d) => `orders${datasets > 1 ? d : ''}`);
for (const name of [...datasetNames, ...datasetNames.map((n) => `warmup_${n}`)])
  await cp('demo/datasets/orders.json', path.join(specs, `${name}.json`));

interface Run {
  readonly perFileMs: number[];
  readonly passMs: number;
  readonly reports: Array<RunReport & { wallMs: number }>;
}

/**
 * One pass of one controller over the bench files. With `warmupRounds`, the same controller
 * (so the same workers and Spark Connect sessions) first processes the files that many times
 * as the datasets `warmup_<dataset>`, as a long-lived controller would have; not measured.
 */
async function pass(engine: 'local' | 'connect', options: { remote?: string; warmupRounds?: number } = {}): Promise<Run> {
  const lake = path.join(work, engine, 'lake');
  await mkdir(lake, { recursive: true });
  const watcher = await createWatcher(
    loadConfig(
      {
        ...process.env,
        LAKE: lake,
        ENGINE: engine,
        ...(options.remote ? { SPARK_REMOTE: options.remote } : {}),
        DATASETS_DIR: specs,
        RUN_LOG_DIR: path.join(work, engine, 'logs'),
        MAX_CONCURRENT_JOBS: '2',
      },
      { cwd: process.cwd() },
    ),
  );
  const reports: Run['reports'] = [];
  try {
    const rounds = options.warmupRounds ?? 0;
    if (rounds > 0) {
      for (let r = 0; r < rounds; r++)
        for (const name of datasetNames)
          await cp(path.join(source, 'raw', name), path.join(lake, 'raw', `warmup_${name}`, `round${r}`), { recursive: true });
      const warmup = await watcher.reconciler.runPass();
      if (warmup.processed !== rounds * files) throw new Error(`${engine} warm-up: ${warmup.processed} of ${rounds * files} processed`);
    }
    await cp(source, lake, { recursive: true });
    watcher.reconciler.events.on('job:succeeded', ({ report, durationMs }) => reports.push({ ...report, wallMs: durationMs }));
    const started = performance.now();
    const summary = await watcher.reconciler.runPass();
    const passMs = performance.now() - started;
    if (summary.processed !== files)
      throw new Error(
        `${engine}: ${summary.processed} of ${files} processed: ${JSON.stringify(summary.results.filter((r) => r.status === 'failed'))}`,
      );
    return { perFileMs: reports.map((r) => r.wallMs), passMs, reports };
  } finally {
    await watcher.close();
  }
}

function quantile(ms: number[], q: number): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
const median = (ms: number[]): number => quantile(ms, 0.5);

/**
 * Median of each phase, and of the time outside the job (wall minus startedAt..finishedAt).
 * `write` runs alongside `curate` (a second thread of the job), so "other in job" subtracts the
 * longer of the two.
 */
function phases(run: Run): Record<string, number> {
  const names = ['read', 'plan', 'check', 'write', 'curate'];
  const out: Record<string, number> = {};
  for (const n of names) out[n] = median(run.reports.map((r) => r.timingsMs?.[n] ?? NaN));
  out['other in job'] = median(
    run.reports.map((r) => {
      const t = (n: string): number => r.timingsMs?.[n] ?? 0;
      return Date.parse(r.finishedAt) - Date.parse(r.startedAt) - t('read') - t('plan') - t('check') - Math.max(t('write'), t('curate'));
    }),
  );
  out['outside the job'] = median(run.reports.map((r) => r.wallMs - (Date.parse(r.finishedAt) - Date.parse(r.startedAt))));
  return out;
}

console.error(`${files} files, ${datasets} dataset(s), ${rows} rows, mean ${meanMb.toFixed(2)} MB; cold pass...`);
const cold = await pass('local');
console.error('starting a Spark Connect server...');
const serverStarted = performance.now();
const install = resolveSparkInstall(undefined, {});
const stateDir = path.join(work, 'spark-connect');
const server = {
  state: await startConnectServer({
    sparkSubmit: install.sparkSubmit,
    host: '127.0.0.1',
    port: 15_102,
    env: { ...(process.env as Record<string, string>), ...(install.pysparkPython ? { PYSPARK_PYTHON: install.pysparkPython } : {}) },
    stateDir,
  }),
  stop: () => stopConnectServer(stateDir, 15_102),
};
const serverStartMs = performance.now() - serverStarted;
let warm: Run;
try {
  console.error(`warm-up (${warmupRounds} x ${files} files in the same controller) and warm pass...`);
  warm = await pass('connect', { remote: server.state.remote, warmupRounds });
} finally {
  await server.stop();
}

const row = (name: string, r: Run): string =>
  `| ${name} | ${(median(r.perFileMs) / 1000).toFixed(2)} s | ${(quantile(r.perFileMs, 0.95) / 1000).toFixed(2)} s | ${((files / r.passMs) * 60_000).toFixed(1)} | ${(r.passMs / 1000).toFixed(1)} s |`;
const ratio = median(warm.perFileMs) / median(cold.perFileMs);
const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
console.log(`Machine: ${machine}. ${files} files of ${meanMb.toFixed(2)} MB (${rows} rows) in ${datasets} dataset(s), MAX_CONCURRENT_JOBS=2.
Connect server start: ${(serverStartMs / 1000).toFixed(1)} s (once, not in the figures).

| engine | per-file median | per-file p95 | files/min | pass |
|---|---|---|---|---|
${row('cold spark-submit per file (ENGINE=local)', cold)}
${row('warm Spark Connect (ENGINE=connect)', warm)}

warm/cold per-file median: ${ratio.toFixed(3)}

Where a file's time goes (median ms):
| phase | cold | warm |
|---|---|---|
${Object.entries(phases(cold))
  .map(([k, v]) => `| ${k} | ${Math.round(v)} | ${Math.round(phases(warm)[k] ?? NaN)} |`)
  .join('\n')}`);
