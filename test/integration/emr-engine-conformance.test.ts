import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, createWatcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import { VENV_PYTHON, VENV_SPARK_SUBMIT } from '../../src/config/project-paths.js';
import type { DatasetSpec } from '../../src/datasets/spec.js';
import { buildJobArtifacts } from '../../src/engines/emr/artifacts.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import type { RunReport } from '../../src/engines/run-report.js';
import { s3aJars, s3aSparkSettings } from '../../src/engines/s3a-support.js';
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
    if (!o.Key?.endsWith('.parquet')) continue;
    const file = path.join(dir, o.Key.slice(prefix.length + 1));
    await mkdir(path.dirname(file), { recursive: true });
    const body = await m.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    await writeFile(file, (await body.Body?.transformToByteArray()) ?? new Uint8Array());
  }
  return readParquetRows(dir);
}

/** The EMR Serverless engine on a lake in moto S3, its AWS side played by the rehearsal runner. */
async function emrEngineOnRehearsal(m: MotoServer, lakePrefix: string) {
  const config = loadConfig(env(m, lakePrefix, { ENGINE: 'emr-serverless', EMR_APPLICATION_ID: APP, EMR_EXECUTION_ROLE_ARN: ROLE }), {
    cwd: process.cwd(),
  });
  const store = await createStore(config);
  const s3a = s3aSparkSettings(config);
  const rehearsal = new EmrRehearsal({
    s3: m.s3,
    applicationId: APP,
    sparkSubmit: VENV_SPARK_SUBMIT,
    jars: s3aJars(VENV_SPARK_SUBMIT),
    sparkConf: s3a.conf,
    env: { PATH: process.env['PATH'] ?? '', ...s3a.env, PYSPARK_PYTHON: VENV_PYTHON, PYSPARK_DRIVER_PYTHON: VENV_PYTHON },
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
  await engine.validate();
  return { engine, store, rehearsal };
}

describeEngineConformance('EMR Serverless (rehearsal: its requests run by the local spark-submit on moto S3)', async () => {
  const m = await sharedMoto();
  const { engine, store, rehearsal } = await emrEngineOnRehearsal(m, 'conformance');
  return {
    engine,
    store,
    readRows: (prefix) => s3Rows(m, `conformance/${prefix}`),
    whenRunning: (runId) => rehearsal.whenRunning(runId),
    leftovers: () => rehearsal.leftovers(),
    close: async () => {
      await engine.close();
      await rehearsal.close();
    },
  };
});

describe('rehearsal: the exact sparkSubmit request of the EMR engine gives what the local engine gives', { timeout: 300_000 }, () => {
  const key = 'raw/orders/2026/11/01/orders.parquet';
  let spec: DatasetSpec;
  let m: MotoServer;
  let raw: Buffer;

  beforeAll(async () => {
    m = await sharedMoto();
    spec = JSON.parse(await readFile(path.resolve('demo/datasets/orders.json'), 'utf8')) as DatasetSpec;
    const demo = await tempDir('s3sw-emr-demo-');
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', demo]);
    raw = await readFile(path.join(demo, key));
  });

  it('same zones and report for the same file; the request ran as built: code from artifacts/<hash>/, --py-files, s3:// arguments', async () => {
    const runBoth = async (engineStore: ObjectStore, submit: (etag: string) => Promise<RunReport>) => {
      const { etag } = await engineStore.put(key, raw);
      return submit(etag);
    };
    // The local engine (spark-submit over s3a), as `ENGINE=local` wires it, and the EMR engine with
    // its request run by the rehearsal: side by side (one core each), on the same file.
    const local = await createWatcher(
      loadConfig(env(m, 'local-lake', { ENGINE: 'local', RUN_LOG_DIR: await tempDir('s3sw-emr-logs-') }), { cwd: process.cwd() }),
    );
    const emr = await emrEngineOnRehearsal(m, 'emr-lake');
    const [localReport, emrReport] = await Promise.all([
      runBoth(local.store, (etag) => local.engine.submit({ runId: 'local-run', key, etag, dataset: 'orders', spec })),
      runBoth(emr.store, (etag) => emr.engine.submit({ runId: 'emr-run', key, etag, dataset: 'orders', spec })),
    ]).finally(async () => {
      await local.close();
      await emr.engine.close();
      await emr.rehearsal.close();
    });

    const comparable = (r: RunReport) => ({
      key: r.key,
      etag: r.etag,
      dataset: r.dataset,
      status: r.status,
      rows: r.rows,
      sparkVersion: r.sparkVersion,
    });
    expect(emrReport).toMatchObject({ runId: 'emr-run', status: 'succeeded' });
    expect(comparable(emrReport)).toEqual(comparable(localReport));
    expect(Object.keys(emrReport.outputs).sort()).toEqual(Object.keys(localReport.outputs).sort());

    const rows = async (lake: string, zone: string) =>
      (await s3Rows(m, `${lake}/${zone}`)).map((r) => JSON.stringify({ ...r, _ingested_at: undefined })).sort();
    for (const zone of ['cleaned/orders/2026/11/01/orders', 'quarantine/orders/2026/11/01/orders', 'curated/orders']) {
      const fromEmr = await rows('emr-lake', zone);
      expect(fromEmr.length, zone).toBeGreaterThan(0);
      expect(fromEmr, zone).toEqual(await rows('local-lake', zone));
    }

    // What ran is the request: entry point and --py-files pulled from the artifacts the engine uploaded.
    const run = emr.rehearsal.runFor('emr-run');
    const { hash } = await buildJobArtifacts(path.resolve('spark-jobs'));
    const driver = run?.request.jobDriver?.sparkSubmit;
    expect(driver?.entryPoint).toBe(`s3://${BUCKET}/emr-lake/artifacts/${hash}/pipeline.py`);
    expect(driver?.sparkSubmitParameters).toBe(`--py-files s3://${BUCKET}/emr-lake/artifacts/${hash}/watcher_job.zip`);
    const command = run?.command ?? [];
    expect(command[command.indexOf('--py-files') + 1]).toMatch(/\/watcher_job\.zip$/u);
    expect(command.slice(command.findIndex((a) => a.endsWith('/pipeline.py')) + 1)).toEqual(driver?.entryPointArguments);
    expect(driver?.entryPointArguments?.slice(0, 2)).toEqual(['--lake', `s3://${BUCKET}/emr-lake`]);
  });
});
