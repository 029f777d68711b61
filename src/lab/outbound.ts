/**
 * A sidecar's outbound capture point (15001) in the lab. Applications use it as their HTTP proxy (absolute
 * form `GET http://catalog.istioinaction/items`, or origin form with a Host header). Each request goes to
 * the engine's outbound listener for its destination port — what Envoy does after original-destination
 * capture hands a connection from virtualOutbound to `0.0.0.0_<port>` — or, with no listener for the port,
 * straight to its destination (Istio's PassthroughCluster under ALLOW_ANY).
 */
import { Agent, createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ForwardTarget } from './tcp-forward.js';

export interface OutboundFront {
  close(): Promise<void>;
}

/** Where a proxied request is headed: its authority and origin-form path. */
export function requestDestination(
  url: string,
  hostHeader: string | undefined,
): { authority: string; host: string; port: number; path: string } | undefined {
  let authority: string;
  let path: string;
  if (/^http:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    authority = parsed.host;
    path = `${parsed.pathname}${parsed.search}`;
  } else {
    if (!hostHeader) return undefined;
    authority = hostHeader;
    path = url;
  }
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : 80;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { authority, host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port, path: path || '/' };
}

const HOP_BY_HOP = new Set(['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive']);

export function startOutboundFront(
  host: string,
  port: number,
  listenerFor: (destinationPort: number) => ForwardTarget | undefined,
): Promise<OutboundFront> {
  const agent = new Agent({ keepAlive: true });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const dest = requestDestination(req.url ?? '/', req.headers.host);
    if (!dest) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request target\n');
      return;
    }
    const via = listenerFor(dest.port) ?? { host: dest.host, port: dest.port };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    headers['host'] = dest.authority;
    const upstream = request(
      { host: via.host, port: via.port, method: req.method, path: dest.path, headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent)
        res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream connect error\n');
      else res.destroy();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server: Server = createServer(handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve({
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            agent.destroy();
          }),
      });
    });
  });
}
