import { connect } from 'node:net';
import { ConfigError } from '../../errors.js';

/** The Spark Connect default port (SPARK_REMOTE=sc://host without a port). */
export const SPARK_CONNECT_DEFAULT_PORT = 15002;
export const DEFAULT_SPARK_REMOTE = `sc://127.0.0.1:${SPARK_CONNECT_DEFAULT_PORT}`;

export interface SparkRemote {
  readonly host: string;
  readonly port: number;
  /** `sc://host:port`, without parameters (the worker adds its own session id). */
  readonly url: string;
}

/**
 * Parses `sc://host[:port]`. Parameters after `/;` (tokens, user ids) are refused: they would end
 * up in the worker's arguments, and this build only talks to a server it can reach directly.
 */
export function parseSparkRemote(value: string): SparkRemote {
  const match = /^sc:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/u.exec(value.trim());
  if (!match) {
    throw new ConfigError(`SPARK_REMOTE=${value} is not a Spark Connect URL; expected sc://host:port, e.g. ${DEFAULT_SPARK_REMOTE}`);
  }
  const host = match[1] ?? '';
  const port = match[2] === undefined ? SPARK_CONNECT_DEFAULT_PORT : Number(match[2]);
  if (!(port >= 1 && port <= 65_535)) throw new ConfigError(`SPARK_REMOTE=${value}: port ${port} is out of range`);
  return { host, port, url: `sc://${host}:${port}` };
}

/** Does something accept connections on the server's port? Resolves false on refusal or timeout. */
export function portAnswers(remote: Pick<SparkRemote, 'host' | 'port'>, timeoutMs = 1000, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const socket = connect({ host: remote.host.replace(/^\[|\]$/gu, ''), port: remote.port });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(answer);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
