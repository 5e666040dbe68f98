import path from 'node:path';
import { ConnectEngine } from '../../src/engines/connect/connect-engine.js';
import { VENV_PYTHON, WORKER_PATH } from '../../src/config/project-paths.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { startTestConnectServer } from '../helpers/connect-server.js';
import { describeEngineConformance } from '../helpers/engine-conformance.js';
import { processesMentioning } from '../helpers/processes.js';
import { readParquetRows } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

describeEngineConformance('Spark Connect', async () => {
  const server = await startTestConnectServer();
  const lake = path.join(await tempDir('s3sw-conf-connect-'), 'lake');
  const engine = new ConnectEngine({
    remoteUrl: server.state.remote,
    python: VENV_PYTHON,
    workerPath: WORKER_PATH,
    lakeUri: `file://${lake}`,
    workers: 2,
    timeoutMs: 300_000,
    logDir: path.join(lake, '..', 'logs'),
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
  });
  const sent = new Set<string>();
  engine.events.on('job:sent', ({ runId }) => sent.add(runId));
  return {
    engine,
    store: new LocalObjectStore(lake),
    readRows: (prefix) => readParquetRows(path.join(lake, prefix)),
    whenRunning: (runId) =>
      new Promise<void>((resolve) => {
        if (sent.has(runId)) return resolve();
        engine.events.on('job:sent', (e) => e.runId === runId && resolve());
      }),
    // Nothing of the stopped run is left: no process names it, and the replaced worker's session was interrupted.
    leftovers: async () => (await Promise.all([...sent].map(processesMentioning))).flat().length,
    close: async () => {
      await engine.close();
      await server.stop();
    },
  };
});
