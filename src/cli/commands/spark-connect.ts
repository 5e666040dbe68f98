import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../../config/config.js';
import {
  type ConnectServerState,
  connectServerStatus,
  startConnectServer,
  stopConnectServer,
} from '../../engines/connect/connect-server.js';
import { s3aJars, s3aSparkSettings } from '../../engines/s3a-support.js';
import { checkJava, resolveSparkInstall } from '../../engines/spark-install.js';
import { ConfigError } from '../../errors.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';

export const sparkConnectHelp = `spark-connect start|stop|status [--port N] [--host H] [--json]
                a local Spark Connect server from the project's PySpark, for ENGINE=connect/auto:
                start waits until it answers; its log and pid are in logs/spark-connect/.
                Port: --port, else SPARK_REMOTE's (15002); bound to 127.0.0.1 unless --host.
                Needs no LAKE; with LAKE=s3://... it also gets the S3 settings and credentials`;

/** Where `start` keeps the server's pid file and log, next to the run logs. */
export function connectStateDir(config: Config): string {
  return path.join(path.dirname(config.runLogDir), 'spark-connect');
}

export async function sparkConnectCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...ctx.args],
    options: { port: { type: 'string' }, host: { type: 'string' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const action = positionals[0];
  if (positionals.length !== 1 || !['start', 'stop', 'status'].includes(action ?? '')) {
    throw new ConfigError('spark-connect needs one of: start, stop, status (e.g. `s3-spark-watcher spark-connect start`)');
  }
  // A server needs no lake: without one it gets no S3 settings and serves local lakes only.
  const lakeSet = ['LAKE', 'BUCKET_NAME'].some((name) => (ctx.env[name] ?? '') !== '');
  const config = configFrom(ctx, lakeSet ? {} : { LAKE: ctx.cwd });
  const port = values.port === undefined ? config.sparkRemote.port : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new ConfigError(`--port ${values.port} is not a port number (1-65535)`);
  const host = values.host ?? '127.0.0.1';
  const stateDir = connectStateDir(config);
  const say = (line: string): void => writeLine(ctx.stdout, line);

  if (action === 'status') {
    const status = await connectServerStatus(stateDir, host, port);
    if (values.json) say(JSON.stringify(status));
    else say(describe(status.remote, status.answering, status.started));
    return status.answering ? 0 : 1;
  }
  if (action === 'stop') {
    const stopped = await stopConnectServer(stateDir, port);
    say(stopped ? `stopped the Spark Connect server on port ${port}` : `no Spark Connect server started by this tool runs on port ${port}`);
    return 0;
  }
  const install = resolveSparkInstall(config.sparkSubmit, config.childEnv);
  await checkJava(config.childEnv);
  const s3a = config.lake.kind === 's3' ? { ...s3aSparkSettings(config), jars: s3aJars(install.sparkSubmit) } : undefined;
  const state = await startConnectServer({
    sparkSubmit: install.sparkSubmit,
    host,
    port,
    master: config.sparkMaster,
    ...(config.sparkDriverMemory !== undefined ? { driverMemory: config.sparkDriverMemory } : {}),
    // The server reads and writes the lake: it gets the S3 credentials, in its environment only.
    env: {
      ...config.childEnv,
      ...s3a?.env,
      // spark-submit finds its Spark through this Python (the project's .venv).
      ...(install.pysparkPython !== undefined ? { PYSPARK_PYTHON: install.pysparkPython } : {}),
    },
    ...(s3a ? { sparkConf: s3a.conf, jars: s3a.jars } : {}),
    stateDir,
  });
  if (values.json) say(JSON.stringify(state));
  else say(describe(state.remote, true, state));
  return 0;
}

function describe(remote: string, answering: boolean, started: ConnectServerState | undefined): string {
  if (!answering) return `Spark Connect ${remote}: not answering${started ? ` (pid ${started.pid} is alive; see ${started.logFile})` : ''}`;
  return `Spark Connect ${remote}: answering${started ? ` (pid ${started.pid}, started ${started.startedAt}, log ${started.logFile})` : ' (not started by this tool)'}`;
}
