import { createServer } from 'node:net';
import { type ConnectServerState, startConnectServer, stopConnectServer } from '../../src/engines/connect/connect-server.js';
import type { Config } from '../../src/config/config.js';
import { s3aJars, s3aSparkSettings } from '../../src/engines/s3a-support.js';
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

/**
 * A real local Spark Connect server from the project's PySpark, as `spark-connect start` makes it.
 * With `s3`, it also reads and writes s3a:// (the s3a jars, endpoint and credentials of that config),
 * and still file:// lakes.
 */
export async function startTestConnectServer(
  options: { port?: number; stateDir?: string; s3?: Pick<Config, 's3' | 'credentials'> } = {},
): Promise<TestConnectServer> {
  const install = resolveSparkInstall(undefined, {});
  const stateDir = options.stateDir ?? (await tempDir('s3sw-connect-'));
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' };
  if (process.env['JAVA_HOME']) env['JAVA_HOME'] = process.env['JAVA_HOME'];
  if (install.pysparkPython) env['PYSPARK_PYTHON'] = install.pysparkPython;
  const s3a = options.s3 ? { ...s3aSparkSettings(options.s3), jars: s3aJars(install.sparkSubmit) } : undefined;
  const state = await startConnectServer({
    sparkSubmit: install.sparkSubmit,
    host: '127.0.0.1',
    port,
    master: 'local[2]',
    env: { ...env, ...s3a?.env },
    stateDir,
    ...(s3a ? { sparkConf: s3a.conf, jars: s3a.jars } : {}),
  });
  return { state, stateDir, stop: async () => void (await stopConnectServer(stateDir, port)) };
}
