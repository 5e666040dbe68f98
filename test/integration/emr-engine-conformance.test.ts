import { isTableFile } from '../helpers/lake-consistency.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, createWatcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import type { DatasetSpec } from '../../src/datasets/spec.js';
import { buildJobArtifacts } from '../../src/engines/emr/artifacts.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { RELEASE_FAMILIES, type ReleaseFamily } from '../../src/engines/emr/release-families.js';
import { acceptedPythons, rehearsalRuntime, requireRehearsalRuntime } from '../../src/engines/emr/rehearsal-runtimes.js';
import { type RunReport, singleVersionReport } from '../../src/engines/run-report.js';
import { s3aSparkSettings } from '../../src/engines/s3a-support.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { EmrRehearsal } from '../helpers/emr-rehearsal.js';
import { describeEngineConformance } from '../helpers/engine-conformance.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

const BUCKET = 'emr-rehearsal';
const APP = '00rehearsal00001';
const ROLE = 'arn:aws:iam::123456789012:role/s3-spark-watcher-job';

/** One moto server for the file; the lakes are prefixes of one bucket. */
let moto: MotoServer | undefined;
async function sharedMoto(): Promise<MotoServer> {
  if (moto === undefined) {
    moto = await startMotoServer();
    await moto.createBucket(BUCKET);
  }
  return moto;
}
afterAll(async () => moto?.stop());

const env = (m: MotoServer, lakePrefix: string, extra: Record<string, string> = {}) => ({
  ...(process.env as Record<string, string>),
  LAKE: `s3://${BUCKET}/${lakePrefix}`,
  S3_ENDPOINT: m.endpoint,
  ACCESS_KEY: 'testing',
  SECRET_KEY: 'testing',
  SPARK_MASTER: 'local[1]',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  ...extra,
});

/** Rows of a zone folder in the bucket, downloaded (hive partition folders kept) and read with pyarrow. */
async function s3Rows(m: MotoServer, prefix: string): Promise<Record<string, unknown>[]> {
  const dir = await tempDir('s3sw-emr-rows-');
  const listed = await m.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  for (const o of listed.Contents ?? []) {
    if (o.Key === undefined || !isTableFile(o.Key.slice(prefix.length + 1))) continue;
    const file = path.join(dir, o.Key.slice(prefix.length + 1));
    await mkdir(path.dirname(file), { recursive: true });
    const body = await m.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    await writeFile(file, (await body.Body?.transformToByteArray()) ?? new Uint8Array());
  }
  return readParquetRows(dir);
}

/** The family's example release label: what the rehearsed application reports. */
const labelOf = (family: ReleaseFamily): string => family.example;

/** `3.5` -> a version of that line: `3.5.9` (also `3.5.9.dev0`). */
const lineOf = (line: string): RegExp => new RegExp(`^${line.replace('.', '\\.')}\\.\\d+`, 'u');

/**
 * The EMR Serverless engine on a lake in moto S3, its AWS side played by the rehearsal runner on
 * the family's runtime; a PrerequisiteError naming the setup command when that runtime is missing.
 */
async function emrEngineOnRehearsal(m: MotoServer, lakePrefix: string, family: ReleaseFamily) {
  const config = loadConfig(env(m, lakePrefix, { ENGINE: 'emr-serverless', EMR_APPLICATION_ID: APP, EMR_EXECUTION_ROLE_ARN: ROLE }), {
    cwd: process.cwd(),
  });
  const runtime = rehearsalRuntime(family);
  const { jars, imageJars } = await requireRehearsalRuntime(runtime);
  const store = await createStore(config);
  const s3a = s3aSparkSettings(config);
  const rehearsal = new EmrRehearsal({
    s3: m.s3,
    applicationId: APP,
    releaseLabel: labelOf(family),
    runtime,
    jars,
    imageJars,
    sparkConf: s3a.conf,
    env: { PATH: process.env['PATH'] ?? '', ...s3a.env },
    workDir: await tempDir('s3sw-emr-rehearsal-'),
  });
  const engine = new EmrServerlessEngine({
    client: rehearsal.client,
    store,
    settings: {
      applicationId: APP,
      executionRoleArn: ROLE,
      lakeUri: `s3://${BUCKET}/${lakePrefix}`,
      logUri: config.emr?.logUri ?? '',
      executionTimeoutMinutes: 10,
    },
    sparkJobsDir: path.resolve('spark-jobs'),
    timeoutMs: 600_000,
    // Real time, but short pauses: a local job takes seconds, not minutes.
    poll: { initialMs: 200, maxMs: 1000, factor: 1.5 },
  });
  const { releaseLabel } = await engine.validate();
  expect(releaseLabel).toBe(labelOf(family));
  return { engine, store, rehearsal };
}

/**
 * The whole conformance suite runs on the family of the release the README suggests (emr-7.x: the
 * oldest Spark and Python the job supports); the other families' runtimes run the comparison with
 * the local engine below (a whole job each). S3SW_FULL_MATRIX=1 runs the suite on every family.
 */
const SUITE_FAMILIES = process.env['S3SW_FULL_MATRIX'] === '1' ? RELEASE_FAMILIES : RELEASE_FAMILIES.slice(0, 1);

for (const family of SUITE_FAMILIES) {
  const lake = `conformance-${family.name}`;
  describeEngineConformance(
    `EMR Serverless ${family.name} (${labelOf(family)}; rehearsal: its requests run by Spark ${family.sparkLine} on Python ${family.rehearsalPython} on moto S3)`,
    async () => {
      const m = await sharedMoto();
      const { engine, store, rehearsal } = await emrEngineOnRehearsal(m, lake, family);
      return {
        engine,
        store,
        readRows: (prefix) => s3Rows(m, `${lake}/${prefix}`),
        whenRunning: (runId) => rehearsal.whenRunning(runId),
        leftovers: () => rehearsal.leftovers(),
        close: async () => {
          await engine.close();
          await rehearsal.close();
        },
      };
    },
  );
}

describe(
  'rehearsal: the exact sparkSubmit request of the EMR engine gives what the local engine gives, on each release family',
  { timeout: 300_000 },
  () => {
    const key = 'raw/orders/2026/11/01/orders.parquet';
    let spec: DatasetSpec;
    let m: MotoServer;
    let raw: Buffer;
    /** The local engine's run of the file (spark-submit over s3a, as `ENGINE=local` wires it), started once. */
    let localRun: Promise<RunReport>;

    const put = async (store: ObjectStore): Promise<string> => (await store.put(key, raw)).etag;

    beforeAll(async () => {
      m = await sharedMoto();
      spec = JSON.parse(await readFile(path.resolve('demo/datasets/orders.json'), 'utf8')) as DatasetSpec;
      const demo = await tempDir('s3sw-emr-demo-');
      await execa(venvPython(), ['demo/make_demo_data.py', '--lake', demo]);
      raw = await readFile(path.join(demo, key));
      const local = await createWatcher(
        loadConfig(env(m, 'local-lake', { ENGINE: 'local', RUN_LOG_DIR: await tempDir('s3sw-emr-logs-') }), { cwd: process.cwd() }),
      );
      // Not awaited here: it runs beside the first family's job (one core each).
      localRun = put(local.store)
        .then(async (etag) =>
          singleVersionReport(await local.engine.submit({ runId: 'local-run', key, etag, dataset: 'orders', spec }), 'local-run'),
        )
        .finally(() => local.close());
      localRun.catch(() => undefined); // awaited (and reported) by each test
    });

    for (const family of RELEASE_FAMILIES) {
      it(`${family.name}: same zones as the local engine; the report says Spark ${family.sparkLine}.x on Python ${family.rehearsalPython}.x; the request ran as built (code from artifacts/<hash>/, --py-files, s3:// arguments)`, async () => {
        const lake = `emr-lake-${family.name}`;
        const emr = await emrEngineOnRehearsal(m, lake, family);
        const emrReport = await put(emr.store)
          .then(async (etag) =>
            singleVersionReport(
              await emr.engine.submit({ runId: `emr-run-${family.name}`, key, etag, dataset: 'orders', spec }),
              'emr-run',
            ),
          )
          .finally(async () => {
            await emr.engine.close();
            await emr.rehearsal.close();
          });
        const localReport = await localRun;

        // What a user checks in the run report of a job on this release: its Spark and its Python.
        expect(emrReport.sparkVersion).toMatch(lineOf(family.sparkLine));
        const python = /^\d+\.\d+/u.exec(emrReport.pythonVersion ?? '')?.[0];
        expect(acceptedPythons(rehearsalRuntime(family))).toContain(python);

        const comparable = (r: RunReport) => ({ key: r.key, etag: r.etag, dataset: r.dataset, status: r.status, rows: r.rows });
        expect(emrReport).toMatchObject({ runId: `emr-run-${family.name}`, status: 'succeeded' });
        expect(comparable(emrReport)).toEqual(comparable(localReport));
        expect(Object.keys(emrReport.outputs).sort()).toEqual(Object.keys(localReport.outputs).sort());

        const rows = async (lakePrefix: string, zone: string) =>
          (await s3Rows(m, `${lakePrefix}/${zone}`)).map((r) => JSON.stringify({ ...r, _ingested_at: undefined })).sort();
        for (const zone of ['cleaned/orders/2026/11/01/orders', 'quarantine/orders/2026/11/01/orders', 'curated/orders']) {
          const fromEmr = await rows(lake, zone);
          expect(fromEmr.length, zone).toBeGreaterThan(0);
          expect(fromEmr, zone).toEqual(await rows('local-lake', zone));
        }

        // What ran is the request: entry point and --py-files pulled from the artifacts the engine
        // uploaded, the arguments token for token, on the family's Python.
        const run = emr.rehearsal.runFor(`emr-run-${family.name}`);
        const { hash } = await buildJobArtifacts(path.resolve('spark-jobs'));
        const driver = run?.request.jobDriver?.sparkSubmit;
        expect(driver?.entryPoint).toBe(`s3://${BUCKET}/${lake}/artifacts/${hash}/pipeline.py`);
        expect(driver?.sparkSubmitParameters).toBe(
          `--py-files s3://${BUCKET}/${lake}/artifacts/${hash}/watcher_job.zip --conf spark.jars=/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog`,
        );
        const command = run?.command ?? [];
        expect(command[command.indexOf('--py-files') + 1]).toMatch(/\/watcher_job\.zip$/u);
        expect(command.slice(command.findIndex((a) => a.endsWith('/pipeline.py')) + 1)).toEqual(driver?.entryPointArguments);
        expect(driver?.entryPointArguments?.slice(0, 2)).toEqual(['--lake', `s3://${BUCKET}/${lake}`]);
      });
    }
  },
);
