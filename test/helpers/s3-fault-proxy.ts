import { Agent, type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The S3 operations a rule can aim at, as the controller's ObjectStore uses them. */
export type S3Operation = 'list' | 'get' | 'head' | 'put' | 'delete';

/**
 * slow-down: S3's 503 SlowDown answer (throttling); internal-error: a 500 InternalError;
 * reset: the TCP connection is reset before the request reaches the server (RST, as a load
 * balancer dropping it); reset-after: the request is served, then the connection is reset before
 * the answer gets back (the write landed, the client does not know).
 */
export type Fault = 'slow-down' | 'internal-error' | 'reset' | 'reset-after';

export interface FaultRule {
  readonly operation: S3Operation;
  /** The object key in the bucket (for list: the prefix listed). Any key when absent. */
  readonly key?: string;
  /** The fault; absent: the request goes through, after `before` (if set) has run. */
  readonly fault?: Fault;
  /** How many matching requests this rule takes; then it is spent. @default Infinity */
  readonly times?: number;
  /** Runs before a matching request is forwarded or failed (e.g. another writer gets in first). */
  readonly before?: () => Promise<void>;
}

/** One request as the proxy saw it: what it was for, and what it got. */
export interface SeenRequest {
  readonly operation: S3Operation;
  readonly key: string;
  /** The HTTP status moto answered, or the injected fault. */
  readonly outcome: number | Fault;
}

export interface S3FaultProxy {
  /** Give this to the S3 client under test instead of the moto endpoint. */
  readonly endpoint: string;
  readonly seen: SeenRequest[];
  /** Adds a rule; the first matching unspent rule decides a request. */
  inject(rule: FaultRule): void;
  /** Drops every rule: requests go straight through again. */
  clear(): void;
  /** The requests seen for an operation (and key), in order. */
  requests(operation: S3Operation, key?: string): SeenRequest[];
  stop(): Promise<void>;
}

const ERROR_BODY: Record<Exclude<Fault, 'reset' | 'reset-after'>, { status: number; code: string; message: string }> = {
  'slow-down': { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  'internal-error': { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
};

/**
 * A pass-through HTTP proxy on loopback in front of a real (moto) S3 server that fails chosen
 * requests the way S3 and networks do, which a server cannot be made to do on demand: a 503
 * SlowDown or 500 answer with S3's error document, or a connection reset. Every other request,
 * and every answer, is moto's. Path-style addressing: `/<bucket>/<key>`.
 */
export async function startS3FaultProxy(upstream: string, bucket: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  const rules: Array<FaultRule & { left: number }> = [];
  const seen: SeenRequest[] = [];
  // A fresh connection to moto per request: a kept-alive one that moto has closed would fail the
  // request with a reset nobody injected.
  const agent = new Agent({ keepAlive: false });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { operation, key } = classify(req, bucket);
    const rule = rules.find((r) => r.left > 0 && r.operation === operation && (r.key === undefined || r.key === key));
    if (rule !== undefined) {
      rule.left -= 1;
      await rule.before?.();
    }
    const fault = rule?.fault;
    if (fault === 'reset') {
      seen.push({ operation, key, outcome: fault });
      req.socket.resetAndDestroy();
      return;
    }
    if (fault !== undefined && fault !== 'reset-after') {
      seen.push({ operation, key, outcome: fault });
      const { status, code, message } = ERROR_BODY[fault];
      req.resume();
      req.once('end', () => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          operation === 'head'
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`,
        );
      });
      return;
    }
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (fault === 'reset-after') {
          seen.push({ operation, key, outcome: fault });
          answer.resume();
          answer.once('end', () => req.socket.resetAndDestroy());
          return;
        }
        seen.push({ operation, key, outcome: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => req.socket.resetAndDestroy());
    req.pipe(forwarded);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    inject: (rule) => rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    clear: () => rules.splice(0),
    requests: (operation, key) => seen.filter((s) => s.operation === operation && (key === undefined || s.key === key)),
    stop: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function classify(req: IncomingMessage, bucket: string): { operation: S3Operation; key: string } {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const path = decodeURIComponent(url.pathname);
  const key = path.startsWith(`/${bucket}/`) ? path.slice(bucket.length + 2) : '';
  switch (req.method) {
    case 'PUT':
      return { operation: 'put', key };
    case 'HEAD':
      return { operation: 'head', key };
    case 'DELETE':
      return { operation: 'delete', key };
    default:
      return url.searchParams.has('list-type')
        ? { operation: 'list', key: url.searchParams.get('prefix') ?? '' }
        : { operation: 'get', key };
  }
}
