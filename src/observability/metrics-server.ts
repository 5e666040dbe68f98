import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, describeError } from '../errors.js';
import type { WatcherMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { RunningJobs } from './running-jobs.js';

export interface MetricsServerOptions {
  /** @default 127.0.0.1: only this machine can scrape unless METRICS_HOST says otherwise. */
  readonly host?: string;
  /** 0: any free port (see `url`). */
  readonly port: number;
  readonly metrics: WatcherMetrics;
  readonly readiness: Readiness;
  readonly running: RunningJobs;
  /** Open connections at once; more are closed as they come. @default MAX_CONNECTIONS */
  readonly maxConnections?: number;
}

/** A scraper or a probe needs one or two; the bound keeps a flood from taking the process's sockets. */
export const MAX_CONNECTIONS = 32;
/** A request (headers included) must arrive within this; an idle kept-alive socket closes after it. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface MetricsServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * `/metrics` (Prometheus text), `/healthz` (200 while the process serves), `/readyz` (200 or 503
 * with the reason), `/jobs` (the running jobs, as JSON: what `status` shows as running).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer(
    { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: REQUEST_TIMEOUT_MS },
    (req, res) => void handle(options, req, res),
  );
  server.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          `the metrics server cannot listen on ${host}:${options.port} (${error.code ?? error.message}); set METRICS_PORT to a free port or METRICS_HOST to an address of this machine`,
          { cause: error },
        ),
      ),
    );
    server.listen(options.port, host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => (closing ??= closeServer(server)),
  };
}

async function handle(o: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
  try {
    switch (path) {
      case '/metrics':
        return send(res, 200, o.metrics.contentType, await o.metrics.text());
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const state = o.readiness.check();
        return send(res, state.ready ? 200 : 503, 'application/json', `${JSON.stringify(state)}\n`);
      }
      case '/jobs':
        return send(res, 200, 'application/json', `${JSON.stringify({ running: o.running.list() })}\n`);
      default:
        return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz, /readyz, /jobs\n');
    }
  } catch (error) {
    return send(res, 500, 'text/plain', `${describeError(error)}\n`);
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
