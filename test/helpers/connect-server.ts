import { createServer } from 'node:net';
import { type ConnectServerState, startConnectServer, stopConnectServer } from '../../src/engines/connect/connect-server.js';
import { resolveSparkInstall } from '../../src/engines/spark-install.js';
import { tempDir } from './temp-dir.js';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestConnectServer {
  readonly state: ConnectServerState;
  readonly stateDir: string;
  stop(): Promise<void>;
}

/** A real local Spark Connect server from the project's PySpark, as `spark-connect start` makes it. */
export async function startTestConnectServer(options: { port?: number; stateDir?: string } = {}): Promise<TestConnectServer> {
  const install = resolveSparkInstall(undefined, {});
  const stateDir = options.stateDir ?? (await tempDir('s3sw-connect-'));
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' };
  if (process.env['JAVA_HOME']) env['JAVA_HOME'] = process.env['JAVA_HOME'];
  if (install.pysparkPython) env['PYSPARK_PYTHON'] = install.pysparkPython;
  const state = await startConnectServer({ sparkSubmit: install.sparkSubmit, host: '127.0.0.1', port, master: 'local[2]', env, stateDir });
  return { state, stateDir, stop: async () => void (await stopConnectServer(stateDir, port)) };
}
