import { Agent, type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as it went to the S3 server, and the status the server answered. */
export interface RecordedRequest {
  readonly method: string;
  /** The raw (percent-encoded) path, `/<bucket>/<key>`, and the query string without `?`. */
  readonly path: string;
  readonly query: string;
  /** The access key id the request was signed with (from Authorization); '' when unsigned. */
  readonly accessKeyId: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The body, kept only for a multi-object delete (`POST ?delete`: the keys are in it). */
  readonly body?: string;
  readonly status: number;
}

export interface S3RequestRecorder {
  /** Give this to the clients under test instead of the server's endpoint. */
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  stop(): Promise<void>;
}

const KEPT_HEADERS = ['x-amz-copy-source', 'if-match', 'if-none-match', 'content-length'];

/**
 * A pass-through loopback proxy in front of a real (moto) S3 server that records every request and
 * the status it got, so a test can check each one against an IAM policy with conditions moto does
 * not evaluate. It answers nothing itself: every answer is the server's, byte for byte.
 */
export async function startS3RequestRecorder(upstream: string): Promise<S3RequestRecorder> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const agent = new Agent({ keepAlive: false });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://recorder');
    const keepBody = req.method === 'POST' && url.searchParams.has('delete');
    const chunks: Buffer[] = [];
    if (keepBody) req.on('data', (c: Buffer) => chunks.push(c));
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        const authorization = req.headers.authorization ?? '';
        requests.push({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.search.replace(/^\?/u, ''),
          accessKeyId: /Credential=([^/]+)\//u.exec(authorization)?.[1] ?? '',
          headers: Object.fromEntries(KEPT_HEADERS.flatMap((h) => (typeof req.headers[h] === 'string' ? [[h, req.headers[h]]] : []))),
          ...(keepBody ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
          status: answer.statusCode ?? 0,
        });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => req.socket.resetAndDestroy());
    req.pipe(forwarded);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
