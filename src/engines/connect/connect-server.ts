import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PrerequisiteError } from '../../errors.js';
import { DELTA_SPARK_CONF, deltaJars } from '../delta-support.js';
import { signalProcessGroup } from '../process-tree.js';
import { DEFAULT_DRIVER_MEMORY, localSparkConf } from '../local-spark-conf.js';
import { readTail } from '../spark-submit-engine.js';
import { portAnswers } from './spark-remote.js';
import { withUtf8Locale } from '../utf8-locale.js';

export const CONNECT_SERVER_CLASS = 'org.apache.spark.sql.connect.service.SparkConnectServer';

export interface ConnectServerOptions {
  readonly sparkSubmit: string;
  /** 127.0.0.1 unless told otherwise: the server runs anything a client sends. */
  readonly host: string;
  readonly port: number;
  /** @default local[*] */
  readonly master?: string;
  readonly env: Readonly<Record<string, string>>;
  /** The server's heap (`--driver-memory`). @default DEFAULT_DRIVER_MEMORY.connectServer */
  readonly driverMemory?: string;
  readonly sparkConf?: Readonly<Record<string, string>>;
  /** Extra jars on the driver's class path (hadoop-aws for an S3 lake). */
  readonly jars?: readonly string[];
  /** Holds `spark-connect-<port>.json` (pid, port, log) and `spark-connect-<port>.log`. */
  readonly stateDir: string;
}

/** What `spark-connect start` leaves behind for `status` and `stop`. */
export interface ConnectServerState {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly remote: string;
  readonly logFile: string;
  readonly startedAt: string;
}

const stateFile = (stateDir: string, port: number): string => path.join(stateDir, `spark-connect-${port}.json`);

/** The exact spark-submit arguments (an array: no shell parses them). */
export function connectServerArgs(o: Omit<ConnectServerOptions, 'sparkSubmit' | 'env' | 'stateDir'>): string[] {
  const conf: Record<string, string> = {
    'spark.connect.grpc.binding.address': o.host,
    'spark.connect.grpc.binding.port': String(o.port),
    'spark.ui.enabled': 'false',
    ...localSparkConf(),
    // Spark caches compiled query code per (session class loader, code), 100 entries by default.
    // One session's job needs about 90, so two workers' sessions (two datasets at once) or a
    // restarted worker would evict each other's and recompile all the time, and the JVM would
    // keep compiling the new classes too: measured, that was most of a warm server's CPU.
    'spark.sql.codegen.cache.maxEntries': '1000',
    ...(o.jars?.length ? { 'spark.driver.extraClassPath': o.jars.join(':') } : {}),
    ...o.sparkConf,
  };
  return [
    '--master',
    o.master ?? 'local[*]',
    '--name',
    's3-spark-watcher Spark Connect',
    '--driver-memory',
    o.driverMemory ?? DEFAULT_DRIVER_MEMORY.connectServer,
    '--class',
    CONNECT_SERVER_CLASS,
    ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    'spark-internal',
  ];
}

/** A live process (a zombie nobody reaped yet counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/su.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is all there is
  }
}

/**
 * Starts a local Spark Connect server in the background (its own process group, outliving this
 * process), and resolves once its port answers. Refuses when something already answers there.
 */
export async function startConnectServer(
  o: ConnectServerOptions,
  signal?: AbortSignal,
  readyWithinMs = 120_000,
): Promise<ConnectServerState> {
  if (await portAnswers(o)) {
    const known = await readConnectServerState(o.stateDir, o.port);
    throw new PrerequisiteError(
      `port ${o.port} on ${o.host} is already in use${known ? ` by the Spark Connect server started at ${known.startedAt} (pid ${known.pid})` : ''}; ` +
        'stop it with `s3-spark-watcher spark-connect stop`, or choose another port with --port',
    );
  }
  // Curated tables are Delta Lake tables: every server this tool starts loads Delta.
  const withDelta: ConnectServerOptions = {
    ...o,
    jars: [...deltaJars(o.sparkSubmit), ...(o.jars ?? [])],
    sparkConf: { ...DELTA_SPARK_CONF, ...o.sparkConf },
  };
  await mkdir(o.stateDir, { recursive: true });
  const logFile = path.join(o.stateDir, `spark-connect-${o.port}.log`);
  const out = openSync(logFile, 'w', 0o600);
  let child;
  try {
    child = spawn(o.sparkSubmit, connectServerArgs(withDelta), {
      env: { ...withUtf8Locale(o.env), SPARK_LOCAL_IP: o.env['SPARK_LOCAL_IP'] ?? '127.0.0.1' },
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`could not start ${o.sparkSubmit}: ${error.message}`));
    child.once('exit', (code, sig) => resolve(sig ? `was killed by ${sig}` : `exited with code ${code}`));
  });
  child.unref();
  const state: ConnectServerState = {
    pid: child.pid ?? -1,
    host: o.host,
    port: o.port,
    remote: `sc://${o.host}:${o.port}`,
    logFile,
    startedAt: new Date().toISOString(),
  };
  const deadline = Date.now() + readyWithinMs;
  let early: string | undefined;
  void exited.then((why) => (early = why));
  while (!(await portAnswers(o, 500, signal))) {
    if (early !== undefined || signal?.aborted || Date.now() > deadline) {
      signalProcessGroup(child.pid, 'SIGKILL');
      const why = early ?? (signal?.aborted ? 'start was cancelled' : `did not answer within ${Math.round(readyWithinMs / 1000)} s`);
      throw new PrerequisiteError(
        `the Spark Connect server ${why}; the end of its log (${logFile}):\n${await readTail(logFile, 4096, 15)}`,
      );
    }
    await delay(250, undefined, { signal }).catch(() => undefined);
  }
  await writeFile(stateFile(o.stateDir, o.port), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

export async function readConnectServerState(stateDir: string, port: number): Promise<ConnectServerState | undefined> {
  const text = await readFile(stateFile(stateDir, port), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as ConnectServerState;
  } catch {
    return undefined;
  }
}

export interface ConnectServerStatus {
  readonly remote: string;
  /** Something accepts connections on the port. */
  readonly answering: boolean;
  /** The server this tool started there, if its process is still alive. */
  readonly started?: ConnectServerState;
}

export async function connectServerStatus(stateDir: string, host: string, port: number): Promise<ConnectServerStatus> {
  const state = await readConnectServerState(stateDir, port);
  const answering = await portAnswers({ host, port });
  return { remote: `sc://${host}:${port}`, answering, ...(state && isAlive(state.pid) ? { started: state } : {}) };
}

/** Stops the server `start` left on this port: SIGTERM to its group, SIGKILL after graceMs. false when none was running. */
export async function stopConnectServer(stateDir: string, port: number, graceMs = 20_000): Promise<boolean> {
  const state = await readConnectServerState(stateDir, port);
  if (state === undefined || !isAlive(state.pid)) {
    await rm(stateFile(stateDir, port), { force: true });
    return false;
  }
  signalProcessGroup(state.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(state.pid) && Date.now() < deadline) await delay(100);
  if (isAlive(state.pid)) signalProcessGroup(state.pid, 'SIGKILL');
  for (const until = Date.now() + 5000; isAlive(state.pid) && Date.now() < until;) await delay(50);
  await rm(stateFile(stateDir, port), { force: true });
  return true;
}
