import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher, type Watcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import { AutoEngine, type AutoEngineEvents } from '../../src/engines/auto-engine.js';
import { ConnectEngine } from '../../src/engines/connect/connect-engine.js';
import { manifestUri } from '../../src/engines/job-arguments.js';
import { signalProcessGroup } from '../../src/engines/process-tree.js';
import { BatchManifests } from '../../src/state/batch-manifests.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { type TestConnectServer, startTestConnectServer } from '../helpers/connect-server.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

/** The process runs (a zombie, ended but not yet reaped, does not). */
async function runs(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return status !== '' && !/^State:\s+Z/mu.test(status);
}

/** ENGINE=auto against a real local Spark Connect server: same results, and it survives losing the worker or the server. */
describe('Spark Connect with ENGINE=auto', { timeout: 300_000 }, () => {
  let server: TestConnectServer;
  let lake: string;
  let watcher: Watcher;
  let auto: AutoEngine;
  let connect: ConnectEngine;
  const switches: AutoEngineEvents['engine:switched'][] = [];

  const watcherOn = async (root: string, engine: string): Promise<Watcher> =>
    createWatcher(
      loadConfig(
        {
          ...process.env,
          LAKE: root,
          ENGINE: engine,
          SPARK_REMOTE: server.state.remote,
          DATASETS_DIR: 'demo/datasets',
          RUN_LOG_DIR: path.join(root, '..', 'logs'),
          SPARK_MASTER: 'local[1]',
        },
        { cwd: process.cwd() },
      ),
    );
  const putOrders = async (root: string, name: string): Promise<void> => {
    await mkdir(path.join(root, 'raw/orders/2026/11'), { recursive: true });
    await copyFile(path.join(demoLake, 'raw/orders/2026/11/01/orders.parquet'), path.join(root, 'raw/orders/2026/11', name));
  };
  let demoLake: string;

  beforeAll(async () => {
    demoLake = path.join(await tempDir('s3sw-connect-demo-'), 'lake');
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', demoLake]);
    server = await startTestConnectServer();
    lake = path.join(await tempDir('s3sw-connect-'), 'lake');
    watcher = await watcherOn(lake, 'auto');
    auto = watcher.engine as AutoEngine;
    connect = auto.connectEngine as ConnectEngine;
    auto.events.on('engine:switched', (e) => switches.push(e));
  });
  afterAll(async () => {
    await watcher?.close();
    await server?.stop();
  });

  it("takes wide files: 66 columns (which broke Connect's protobuf depth limit) and 200, every row counted", async () => {
    const wideLake = path.join(await tempDir('s3sw-connect-wide-'), 'lake');
    const make = [
      'import sys, pyarrow as pa, pyarrow.parquet as pq, pathlib',
      'root, width = pathlib.Path(sys.argv[1]), int(sys.argv[2])',
      'cols = {f"Col {i}": [i, None, i] for i in range(width)}',
      'path = root / "raw" / "wide" / f"w{width}.parquet"',
      'path.parent.mkdir(parents=True, exist_ok=True)',
      'pq.write_table(pa.table(cols), path)',
    ].join('\n');
    for (const width of ['66', '200']) await execa(venvPython(), ['-c', make, wideLake, width]);
    const wide = await watcherOn(wideLake, 'connect');
    try {
      const summary = await wide.reconciler.runPass();
      expect(summary, JSON.stringify(summary.results.map((r) => r.error))).toMatchObject({ processed: 2, failed: 0 });
      // Row 2 is all null (dropped), rows 1 and 3 are the same row (one kept).
      for (const r of summary.results) expect(r.rows, r.key).toEqual({ read: 3, cleaned: 1, quarantined: 0, curated: 1 });
      const curated = await readParquetRows(path.join(wideLake, 'curated', 'wide'));
      expect(curated).toHaveLength(2);
    } finally {
      await wide.close();
    }
  });

  it('runs over Connect and gives the same zones as spark-submit for the same file', async () => {
    await putOrders(lake, 'a.parquet');
    expect(await watcher.reconciler.runPass()).toMatchObject({ processed: 1, failed: 0 });
    expect(switches.map((s) => s.to)).toEqual(['connect']);

    const localLake = path.join(await tempDir('s3sw-connect-local-'), 'lake');
    await putOrders(localLake, 'a.parquet');
    const local = await watcherOn(localLake, 'local');
    try {
      expect(await local.reconciler.runPass()).toMatchObject({ processed: 1, failed: 0 });
    } finally {
      await local.close();
    }
    // Everything but the ingestion time (the file's mtime, which differs between the two copies).
    const rows = async (root: string, zone: string): Promise<string[]> =>
      (await readParquetRows(path.join(root, zone))).map(({ _ingested_at: _, ...r }) => JSON.stringify(r)).sort();
    for (const zone of ['cleaned/orders/2026/11/a', 'quarantine/orders/2026/11/a', 'curated/orders']) {
      const viaConnect = await rows(lake, zone);
      expect(viaConnect.length, zone).toBeGreaterThan(0);
      expect(viaConnect, zone).toEqual(await rows(localLake, zone));
    }
  });

  it('runs jobs of two datasets at once, each worker with its own session', async () => {
    await putOrders(lake, 'two-a.parquet');
    await mkdir(path.join(lake, 'raw/customers'), { recursive: true });
    await copyFile(path.join(demoLake, 'raw/customers/customers.parquet'), path.join(lake, 'raw/customers/customers.parquet'));
    let inFlight = 0;
    let most = 0;
    const workers = new Set<number | undefined>();
    const sent = ({ workerPid }: { workerPid: number | undefined }): void => {
      workers.add(workerPid);
      most = Math.max(most, ++inFlight);
    };
    const done = (): void => void (inFlight -= 1);
    connect.events.on('job:sent', sent);
    watcher.reconciler.events.on('job:succeeded', done);
    const summary = await watcher.reconciler.runPass();
    connect.events.off('job:sent', sent);
    watcher.reconciler.events.off('job:succeeded', done);
    expect(summary).toMatchObject({ processed: 2, failed: 0 });
    expect(most).toBe(2);
    expect(workers.size).toBe(2);
  });

  it('a worker whose controller is killed with SIGKILL interrupts its job and exits: the orphan writes nothing more', async () => {
    const root = path.join(await tempDir('s3sw-orphan-'), 'lake');
    const store = new LocalObjectStore(root);
    const files = [];
    for (let i = 0; i < 20; i++) {
      const name = `o${String(i).padStart(2, '0')}.parquet`;
      await putOrders(root, name);
      const key = `raw/orders/2026/11/${name}`;
      files.push({ key, etag: (await store.head(key))?.etag ?? '' });
    }
    const runId = '20261202T000000000Z-0000000orphan';
    const manifestKey = await new BatchManifests(store).write(runId, 'orders', files);
    const logFile = path.join(root, '..', 'worker.log');
    const request = {
      id: 'r1',
      job: {
        lake: `file://${root}`,
        manifest: manifestUri(`file://${root}`, manifestKey),
        runId,
        spec: await readFile('demo/datasets/orders.json', 'utf8'),
      },
    };
    // The controller, reduced to what matters: it starts the worker as the Connect engine does (its
    // own process group, stdio pipes), sends a job of 20 files, says so, and is then killed.
    const controller = execa(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process');
         const fs = require('node:fs');
         const [python, worker, remote, session, log, request] = process.argv.slice(1);
         const child = spawn(python, [worker, '--remote', remote, '--session-id', session], {
           cwd: require('node:path').dirname(worker), detached: true, stdio: ['pipe', 'pipe', fs.openSync(log, 'a')],
         });
         let buffered = '';
         child.stdout.on('data', (chunk) => {
           buffered += chunk;
           if (buffered.includes('"ready"')) {
             buffered = '';
             child.stdin.write(request + '\\n');
             console.log('sent ' + child.pid);
           }
         });
         setInterval(() => {}, 1000);`,
        venvPython(),
        path.resolve('spark-jobs/worker.py'),
        server.state.remote,
        randomUUID(),
        logFile,
        JSON.stringify(request),
      ],
      { stdout: 'pipe', stderr: 'inherit' },
    );
    const workerPid = await new Promise<number>((resolve) => {
      controller.stdout?.on('data', (chunk: Buffer) => {
        const m = /sent (\d+)/u.exec(chunk.toString());
        if (m) resolve(Number(m[1]));
      });
    });
    controller.kill('SIGKILL');
    await controller.catch(() => undefined);
    await until(async () => !(await runs(workerPid)), 'the orphaned worker has exited', 30_000);
    // It stopped the batch instead of finishing it: no report, no curated, not one zone folder.
    expect(await exists(path.join(root, `metadata/runs/${runId}.json`))).toBe(false);
    expect(await exists(path.join(root, 'curated/orders'))).toBe(false);
    expect(await readFile(logFile, 'utf8')).toMatch(/the controller \(pid \d+\) is gone: interrupting the session's job and exiting/u);
    // The control: the same 20 files through a live controller do give curated rows.
    const live = await watcherOn(root, 'connect');
    try {
      expect(await live.reconciler.runPass()).toMatchObject({ processed: 20, failed: 0 });
    } finally {
      await live.close();
    }
    expect(await exists(path.join(root, 'curated/orders'))).toBe(true);
  });

  it('replaces a worker killed mid-job and runs the job again on the new one', async () => {
    await putOrders(lake, 'b.parquet');
    const restarted: string[] = [];
    connect.events.on('worker:restarted', ({ runId }) => restarted.push(runId));
    let killed = false;
    const kill = ({ workerPid }: { workerPid: number | undefined }): void => {
      if (killed) return;
      killed = true;
      signalProcessGroup(workerPid, 'SIGKILL');
    };
    connect.events.on('job:sent', kill);
    const summary = await watcher.reconciler.runPass();
    connect.events.off('job:sent', kill);
    expect(summary).toMatchObject({ processed: 1, failed: 0 });
    expect(restarted).toHaveLength(1);
    expect(switches.map((s) => s.to)).toEqual(['connect']); // still on Connect
  });

  it('runs the job again with spark-submit when the server dies mid-job, and moves back once it returns', async () => {
    await putOrders(lake, 'c.parquet');
    const killServer = (): void => signalProcessGroup(server.state.pid, 'SIGKILL');
    connect.events.on('job:sent', killServer);
    const summary = await watcher.reconciler.runPass();
    connect.events.off('job:sent', killServer);
    expect(summary).toMatchObject({ processed: 1, failed: 0 });
    expect(switches.map((s) => s.to)).toEqual(['connect', 'local']);
    expect(switches[1]?.reason).toMatch(/went away during a job/u);

    // The server is back on the same port: the next file goes over Connect again.
    server = await startTestConnectServer({ port: server.state.port, stateDir: server.stateDir });
    await putOrders(lake, 'd.parquet');
    expect(await watcher.reconciler.runPass()).toMatchObject({ processed: 1, failed: 0 });
    expect(switches.map((s) => s.to)).toEqual(['connect', 'local', 'connect']);
    const curated = await readParquetRows(path.join(lake, 'curated/orders'));
    const ids = curated.map((r) => Number(r['order_id']));
    expect(new Set(ids).size).toBe(ids.length); // four files of the same orders: still one row per key
  });
});
