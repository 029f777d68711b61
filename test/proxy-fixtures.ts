/** Real upstream servers, snapshot builders and a client for the proxy tests (127.0.0.1, ephemeral ports). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyEngine, ProxyOptions, ProxySnapshot } from '../src/proxy/index.js';
import { createProxy, DebugLog } from '../src/proxy/index.js';

export const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const LISTENER = '0.0.0.0_8080';

export interface Upstream {
  port: number;
  name: string;
  /** Request headers each request arrived with. */
  seen: http.IncomingHttpHeaders[];
  paths: string[];
  close: () => Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** An upstream app answering `<name>` (or per the handler). */
export async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const seen: http.IncomingHttpHeaders[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    paths.push(req.url ?? '');
    req.resume();
    if (handler) handler(req, res, seen.length);
    else res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    name,
    seen,
    paths,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export function endpoints(cluster: string, ports: number[], health = 'HEALTHY'): unknown {
  return {
    clusterName: cluster,
    endpoints: [
      {
        lbEndpoints: ports.map((p) => ({
          endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: p } } },
          healthStatus: health,
        })),
      },
    ],
  };
}

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** A cluster's `typedExtensionProtocolOptions` for HTTP/2 upstreams (the generator's grpc / http2 ports). */
export function h2ProtocolOptions(): Record<string, unknown> {
  return {
    [HTTP_OPTIONS]: {
      '@type': `type.googleapis.com/${HTTP_OPTIONS}`,
      explicitHttpConfig: { http2ProtocolOptions: {} },
    },
  };
}

export function edsCluster(name: string, extra: Record<string, unknown> = {}): unknown {
  return {
    name,
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {} }, serviceName: name },
    connectTimeout: '1s',
    ...extra,
  };
}

export function gatewaySnapshot(
  routes: unknown[],
  clusters: unknown[],
  eps: unknown[],
  hcmExtra: Record<string, unknown> = {},
): ProxySnapshot {
  return {
    listeners: [
      {
        name: LISTENER,
        address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } },
        filterChains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typedConfig: {
                  '@type': HCM_TYPE,
                  statPrefix: 'outbound_0.0.0.0_8080',
                  rds: { configSource: { ads: {} }, routeConfigName: 'http.8080' },
                  httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
                  useRemoteAddress: true,
                  serverName: 'istio-envoy',
                  ...hcmExtra,
                },
              },
            ],
          },
        ],
      },
    ],
    routes: [{ name: 'http.8080', virtualHosts: routes, ignorePortInHostMatching: true }],
    clusters,
    endpoints: eps,
  };
}

/** A virtual host for catalog.istioinaction.io with the given routes. */
export function vhost(routes: unknown[], extra: Record<string, unknown> = {}): unknown {
  return {
    name: 'catalog.istioinaction.io:80',
    domains: ['catalog.istioinaction.io'],
    routes,
    includeRequestAttemptCount: true,
    ...extra,
  };
}

export interface Harness {
  proxy: ProxyEngine;
  port: number;
  lines: string[];
  debug: string[];
  close: () => Promise<void>;
}

export async function startProxy(
  snapshot: ProxySnapshot,
  opts: {
    encoding?: 'TEXT' | 'JSON';
    format?: string;
    /** More engine options (peer info, istioStats). */
    proxy?: Pick<ProxyOptions, 'peer' | 'istioStats'>;
    /** The listener whose port the harness reports (default the gateway's). */
    listener?: string;
  } = {},
): Promise<Harness> {
  const lines: string[] = [];
  const debug: string[] = [];
  const proxy = await createProxy(snapshot, {
    bind: () => ({ address: '127.0.0.1', port: 0 }),
    accessLog: { encoding: opts.encoding ?? 'TEXT', format: opts.format ?? '', sink: (l) => lines.push(l) },
    debugLog: new DebugLog((l) => debug.push(l)),
    ...opts.proxy,
  });
  const port = proxy.address(opts.listener ?? LISTENER)?.port ?? 0;
  return { proxy, port, lines, debug, close: () => proxy.close() };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(
  port: number,
  opts: {
    path?: string;
    host?: string;
    headers?: Record<string, string>;
    method?: string;
    body?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/items',
        method: opts.method ?? 'GET',
        headers: {
          host: opts.host ?? 'catalog.istioinaction.io:30000',
          'user-agent': 'curl/8.13.0',
          ...opts.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Splits an Istio TEXT access-log line into its 22 fields (quoted fields unquoted), as a log parser would.
 */
export function parseTextLine(line: string): string[] {
  const m = /^\[([^\]]+)\] "([^"]*)" (.*)\n$/.exec(line);
  if (!m) throw new Error(`not an access-log line: ${line}`);
  const rest: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (const t of (m[3] ?? '').matchAll(re)) rest.push(t[1] ?? t[2] ?? '');
  return [m[1] ?? '', m[2] ?? '', ...rest];
}

export const F = {
  start: 0,
  request: 1,
  code: 2,
  flags: 3,
  details: 4,
  termination: 5,
  transportFailure: 6,
  bytesReceived: 7,
  bytesSent: 8,
  duration: 9,
  serviceTime: 10,
  xff: 11,
  userAgent: 12,
  requestId: 13,
  authority: 14,
  upstreamHost: 15,
  cluster: 16,
  upstreamLocal: 17,
  downstreamLocal: 18,
  downstreamRemote: 19,
  sni: 20,
  route: 21,
} as const;

/** A plain HTTP call (admin and agent endpoints). */
export function call(port: number, method: string, path: string): Promise<Reply> {
  return request(port, { method, path, host: '127.0.0.1' });
}
