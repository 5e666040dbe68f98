import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { createWatcher } from '../../src/cli/wiring.js';
import { describeEngineConformance } from '../helpers/engine-conformance.js';
import { processesMentioning } from '../helpers/processes.js';
import { readParquetRows } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

describeEngineConformance('local spark-submit', async () => {
  const lake = path.join(await tempDir('s3sw-conf-local-'), 'lake');
  const logs = path.join(lake, '..', 'logs');
  const config = loadConfig(
    { ...process.env, LAKE: lake, RUN_LOG_DIR: logs, SPARK_MASTER: 'local[1]', ENGINE: 'local' },
    { cwd: process.cwd() },
  );
  const watcher = await createWatcher(config);
  const started = new Set<string>();
  return {
    engine: watcher.engine,
    store: watcher.store,
    readRows: (prefix) => readParquetRows(path.join(lake, prefix)),
    // The driver is up once its log has output.
    whenRunning: (runId) =>
      until(
        async () => ((await stat(path.join(logs, `${runId}.log`)).catch(() => undefined))?.size ?? 0) > 0,
        `${runId} runs`,
        120_000,
      ).then(() => {
        started.add(runId);
      }),
    leftovers: async () => (await Promise.all([...started].map(processesMentioning))).flat().length,
    close: () => watcher.close(),
  };
});
