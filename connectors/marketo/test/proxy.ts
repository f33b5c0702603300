/**
 * A forwarding HTTP proxy in front of the sandbox that refuses URIs longer than `limit` bytes the way proxies
 * do: 414, 431, or closing the connection without an answer. It counts what it forwards and what it refuses.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Refusal = '414' | '431' | 'close';

export interface UriCappingProxy {
  url: string;
  /** REST requests (paths under /rest) received, by method, and how many were refused. */
  counts: { get: number; post: number; refused: number };
  close(): Promise<void>;
}

export async function startProxy(target: string, limit: number, refusal: Refusal): Promise<UriCappingProxy> {
  const counts = { get: 0, post: 0, refused: 0 };
  const upstream = new URL(target);
  // Node's own header limit (16 KB) must not answer before the proxy's does.
  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const rest = url.startsWith('/rest/');
    if (rest && req.method === 'GET') counts.get++;
    if (rest && req.method === 'POST') counts.post++;
    if (Buffer.byteLength(url) > limit) {
      counts.refused++;
      if (refusal === 'close') {
        req.socket.destroy();
        return;
      }
      res.writeHead(Number(refusal), { 'content-type': 'text/html', connection: 'close' });
      res.end(`<html><body>${refusal}</body></html>`);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.once('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
