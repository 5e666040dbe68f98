/**
 * Cold spark-submit per file (the original design) vs one warm Spark Connect server, on the same files.
 *
 *   npx tsx bench/connect-speedup.ts [--files 20] [--rows 40000] [--datasets 1] [--warmup-rounds 5] [--formats delta]
 *                                   [--max-files-per-job 1]
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
 * With --formats parquet,delta each engine's pass runs once per curated table format (the spec's
 * `tableFormat`), each on its own lake and controller, in one run: cold in the order given, warm
 * in the reverse order (so neither format always runs first on a warming machine).
 * With --max-files-per-job N the controllers take up to N files per job (MAX_FILES_PER_JOB), the
 * warm-up too; per-file time is then the batch's job time, shared by its files.
 */
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
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
    formats: { type: 'string', default: 'delta' },
    'max-files-per-job': { type: 'string', default: '1' },
  },
});
const files = Number(values.files);
const rows = Number(values.rows);
const datasets = Number(values.datasets);
const warmupRounds = Number(values['warmup-rounds']);
type Format = 'delta' | 'parquet';
const formats = values.formats.split(',').map((f) => f.trim()) as Format[];
if (formats.length === 0 || formats.some((f) => f !== 'delta' && f !== 'parquet'))
  throw new Error(`--formats: delta and/or parquet, got ${values.formats}`);

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

const datasetNames = Array.from({ length: datasets }, (_, d) => `orders${datasets > 1 ? d : ''}`);
const demoSpec = JSON.parse(await readFile('demo/datasets/orders.json', 'utf8')) as Record<string, unknown>;
/** The specs folder of one table format: the demo's orders spec with that `tableFormat`. */
async function specsFor(format: Format): Promise<string> {
  const dir = path.join(work, `specs-${format}`);
  await mkdir(dir, { recursive: true });
  for (const name of [...datasetNames, ...datasetNames.map((n) => `warmup_${n}`)])
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ ...demoSpec, tableFormat: format }));
  return dir;
}

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
async function pass(engine: 'local' | 'connect', format: Format, options: { remote?: string; warmupRounds?: number } = {}): Promise<Run> {
  const lake = path.join(work, `${engine}-${format}`, 'lake');
  await mkdir(lake, { recursive: true });
  const watcher = await createWatcher(
    loadConfig(
      {
        ...process.env,
        LAKE: lake,
        ENGINE: engine,
        ...(options.remote ? { SPARK_REMOTE: options.remote } : {}),
        DATASETS_DIR: await specsFor(format),
        RUN_LOG_DIR: path.join(work, `${engine}-${format}`, 'logs'),
        MAX_CONCURRENT_JOBS: '2',
        MAX_FILES_PER_JOB: values['max-files-per-job'],
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
    const batches: { files: number; durationMs: number }[] = [];
    watcher.reconciler.events.on('batch:finished', ({ succeeded, failed, durationMs }) =>
      batches.push({ files: succeeded + failed, durationMs }),
    );
    const started = performance.now();
    const summary = await watcher.reconciler.runPass();
    const passMs = performance.now() - started;
    if (summary.processed !== files)
      throw new Error(
        `${engine}: ${summary.processed} of ${files} processed: ${JSON.stringify(summary.results.filter((r) => r.status === 'failed'))}`,
      );
    // A batch's files share its job: each one's time is the batch's wall time over its files.
    const perFileMs =
      batches.length > 0 ? batches.flatMap((b) => Array<number>(b.files).fill(b.durationMs / b.files)) : reports.map((r) => r.wallMs);
    return { perFileMs, passMs, reports };
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

console.error(`${files} files, ${datasets} dataset(s), ${rows} rows, mean ${meanMb.toFixed(2)} MB, curated as ${formats.join(' and ')}`);
const cold = new Map<Format, Run>();
for (const format of formats) {
  console.error(`cold pass, ${format}...`);
  cold.set(format, await pass('local', format));
}
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
const warm = new Map<Format, Run>();
try {
  for (const format of [...formats].reverse()) {
    console.error(`warm-up (${warmupRounds} x ${files} files in the same controller) and warm pass, ${format}...`);
    warm.set(format, await pass('connect', format, { remote: server.state.remote, warmupRounds }));
  }
} finally {
  await server.stop();
}

const row = (name: string, r: Run): string =>
  `| ${name} | ${(median(r.perFileMs) / 1000).toFixed(2)} s | ${(quantile(r.perFileMs, 0.95) / 1000).toFixed(2)} s | ${((files / r.passMs) * 60_000).toFixed(1)} | ${(r.passMs / 1000).toFixed(1)} s |`;
const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const runs = formats.flatMap((f) => [
  [`cold spark-submit per file (ENGINE=local), ${f}`, cold.get(f)] as const,
  [`warm Spark Connect (ENGINE=connect), ${f}`, warm.get(f)] as const,
]);
const ratios = formats.map(
  (f) => `${f}: warm/cold per-file median ${(median(warm.get(f)?.perFileMs ?? []) / median(cold.get(f)?.perFileMs ?? [])).toFixed(3)}`,
);
const [first, second] = formats;
const vs =
  first !== undefined && second !== undefined
    ? `\n${second}/${first} per-file median: cold ${(median(cold.get(second)?.perFileMs ?? []) / median(cold.get(first)?.perFileMs ?? [])).toFixed(3)}, warm ${(median(warm.get(second)?.perFileMs ?? []) / median(warm.get(first)?.perFileMs ?? [])).toFixed(3)}`
    : '';
const phaseColumns = runs.map(([name, r]) => [name, r === undefined ? {} : phases(r)] as const);
console.log(`Machine: ${machine}. ${files} files of ${meanMb.toFixed(2)} MB (${rows} rows) in ${datasets} dataset(s), MAX_CONCURRENT_JOBS=2, MAX_FILES_PER_JOB=${values['max-files-per-job']}.
Connect server start: ${(serverStartMs / 1000).toFixed(1)} s (once, not in the figures).

| engine | per-file median | per-file p95 | files/min | pass |
|---|---|---|---|---|
${runs.map(([name, r]) => (r === undefined ? '' : row(name, r))).join('\n')}

${ratios.join('; ')}${vs}

Where a file's time goes (median ms):
| phase | ${phaseColumns.map(([name]) => name).join(' | ')} |
|---|${phaseColumns.map(() => '---|').join('')}
${Object.keys(phaseColumns[0]?.[1] ?? {})
  .map((k) => `| ${k} | ${phaseColumns.map(([, p]) => Math.round(p[k] ?? NaN)).join(' | ')} |`)
  .join('\n')}`);
