/**
 * istiod's debug HTTP endpoints (pilot/pkg/xds/debug.go at 1.17) over the ADS server's state, plus
 * `/ready` (the HTTP port, 8080), `/version` and `/metrics` (the monitoring port, 15014), as istiod's
 * httpMux and monitoringMux split them. JSON is written compact, or with 4-space indents under `?pretty`,
 * with Go's HTML escaping, as istiod's writeJSON does.
 *
 * The same handlers answer the ADS debug type `istio.io/debug` (istiod's DebugGen and its internal mux):
 * `runDebugHandler` runs one in process and captures what it writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigSnapshot } from '../model/index.js';
import { XDS_TYPE, buildInfoString, connectionDump, setDebugHttpRunner, watchStatus } from '../xds/index.js';
import type { AdsServer, Connection, ConnectionDump, DebugHttpReply, Json } from '../xds/index.js';
import { configzJson, goTime, nodeMetadataJson, proxyLabelsJson, serviceJson } from './debug-model-json.js';
import { authorizationDebug, endpointz, pushStatus, pushStatusJson } from './debug-status.js';

/** Response header naming the control plane (its POD_NAME), the ISTIOD column of proxy-status. */
export const PILOT_ID_HEADER = 'x-skiff-pilot-id';

/** istiod's `/version` body: BuildInfo.String() with skiff's build info. */
export const PILOT_VERSION_STRING = buildInfoString();

export interface DebugContext {
  server: AdsServer;
  /** The config the control plane serves. */
  snapshot: () => ConfigSnapshot;
  /** Whether the initial config has been loaded and the xDS server is serving. */
  ready: () => boolean;
  /** Whether a config change has been pushed yet (istiod's LastPushStatus). */
  pushedOnce: () => boolean;
}

/** What a handler writes to: a ServerResponse, or the capture DebugGen runs handlers with. */
export interface DebugResponse {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
  readonly headersSent: boolean;
}

type Handler = (url: URL, ctx: DebugContext, res: DebugResponse) => void | Promise<void>;

const HANDLERS = new Map<string, { help: string; handler: Handler }>();

function register(path: string, help: string, handler: Handler): void {
  HANDLERS.set(path, { help, handler });
}

/** Go's encoding/json output: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goJson(value: unknown, pretty: boolean): string {
  const text = pretty ? JSON.stringify(value, null, 4) : JSON.stringify(value);
  return (text ?? 'null').replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function writeJson(res: DebugResponse, url: URL, value: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(goJson(value, url.searchParams.has('pretty')));
}

function writeText(res: DebugResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** istiod's getDebugConnection + errorHandler: the connection named by ?proxyID, or an error written. */
function debugConnection(url: URL, ctx: DebugContext, res: DebugResponse): Connection | undefined {
  const proxyId = url.searchParams.get('proxyID') ?? '';
  if (proxyId === '') {
    writeText(res, 400, 'You must provide a proxyID in the query string\n');
    return undefined;
  }
  const con = ctx.server.findConnection(proxyId);
  if (!con) {
    writeText(
      res,
      404,
      'Proxy not connected to this Pilot instance. It may be connected to another instance.\n',
    );
    return undefined;
  }
  return con;
}

/**
 * istiod's AdsClient: id, time and address; with details (adsz) also the proxy's labels, its NodeMetadata,
 * locality and watches. `connections` leaves Labels unset, which Go writes as `"labels": null`.
 */
function adsClient(con: Connection, withDetails: boolean): Record<string, unknown> {
  const base: Record<string, unknown> = {
    connectionId: con.id,
    connectedAt: goTime(con.connectedAt),
    address: con.peerAddress,
  };
  if (!withDetails) return { ...base, labels: null };
  const watches: Record<string, string[]> = {};
  for (const type of [...con.watches.keys()].sort()) {
    const w = con.watches.get(type);
    watches[type] = w ? [...w.names] : [];
  }
  return {
    ...base,
    labels: proxyLabelsJson(con.proxy),
    metadata: nodeMetadataJson(con.proxy.metadata),
    locality: localityJson(con.locality),
    ...(Object.keys(watches).length > 0 ? { watches } : {}),
  };
}

/** core.Locality through encoding/json: the proto's snake_case names, empty ones left out. */
function localityJson(locality: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['region', 'zone', 'sub_zone']) {
    const v = locality[key] ?? (key === 'sub_zone' ? locality['subZone'] : undefined);
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

function clientsJson(connections: Connection[], withDetails: boolean): Record<string, unknown> {
  return {
    totalClients: connections.length,
    ...(connections.length > 0 ? { clients: connections.map((c) => adsClient(c, withDetails)) } : {}),
  };
}

/** handlePushRequest: `?push=true` pushes everything to everyone. */
function handledPush(url: URL, ctx: DebugContext, res: DebugResponse): boolean {
  if ((url.searchParams.get('push') ?? '') === '') return false;
  const n = ctx.server.pushAll('debug');
  writeText(res, 200, `Pushed to ${n} servers\n`);
  return true;
}

function withType(typeUrl: string, json: Json): Record<string, unknown> {
  return { '@type': typeUrl, ...json };
}

/**
 * istiod's connectionConfigDump as proto3 JSON: the Envoy admin ConfigDump of what the control plane would
 * send the proxy now (only the types it watches; EDS only with include_eds=true; secrets redacted).
 */
export function configDump(dump: ConnectionDump, includeEds: boolean): unknown {
  const version = dump.version;
  const configs: unknown[] = [
    { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump' },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      versionInfo: version,
      ...nonEmpty(
        'dynamicActiveClusters',
        dump.clusters.map((c) => ({ cluster: withType(XDS_TYPE.cluster, c) })),
      ),
    },
  ];
  if (includeEds) {
    configs.push({
      '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      ...nonEmpty(
        'dynamicEndpointConfigs',
        dump.endpoints.map((e) => ({
          versionInfo: version,
          endpointConfig: withType(XDS_TYPE.endpoint, e),
        })),
      ),
    });
  }
  configs.push(
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      versionInfo: version,
      ...nonEmpty(
        'dynamicListeners',
        dump.listeners.map((l) => ({
          name: typeof l['name'] === 'string' ? l['name'] : '',
          activeState: { versionInfo: version, listener: withType(XDS_TYPE.listener, l) },
        })),
      ),
    },
    { '@type': 'type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump' },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      ...nonEmpty(
        'dynamicRouteConfigs',
        dump.routes.map((r) => ({ versionInfo: version, routeConfig: withType(XDS_TYPE.route, r) })),
      ),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
      ...nonEmpty(
        'dynamicActiveSecrets',
        dump.secrets.map((s) => ({ versionInfo: version, secret: withType(XDS_TYPE.secret, s) })),
      ),
    },
    { '@type': 'type.googleapis.com/envoy.admin.v3.EcdsConfigDump' },
  );
  return { configs };
}

function nonEmpty(key: string, list: unknown[]): Record<string, unknown> {
  return list.length > 0 ? { [key]: list } : {};
}

register('/debug/adsz', 'Status and debug interface for ADS', (url, ctx, res) => {
  if (handledPush(url, ctx, res)) return;
  const proxyId = url.searchParams.get('proxyID') ?? '';
  let connections = ctx.server.connections();
  if (proxyId !== '') {
    const con = ctx.server.findConnection(proxyId);
    if (!con) {
      writeText(
        res,
        404,
        'Proxy not connected to this Pilot instance. It may be connected to another instance.\n',
      );
      return;
    }
    connections = [con];
  }
  const sorted = [...connections].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  writeJson(res, url, clientsJson(sorted, true));
});
register('/debug/adsz?push=true', 'Initiates push of the current state to all connected endpoints', () => {});
register(
  '/debug/syncz',
  'Synchronization status of all Envoys connected to this Pilot instance',
  (url, ctx, res) => {
    const namespace = url.searchParams.get('namespace') ?? '';
    const rows = ctx.server
      .syncz()
      .filter((r) => namespace === '' || (r.proxy ?? '').endsWith(`.${namespace}`));
    // Who answered: istioctl learns the istiod pod from Kubernetes; skiff's proxy-status reads it here.
    res.setHeader(PILOT_ID_HEADER, ctx.server.podName);
    writeJson(res, url, rows);
  },
);
register('/debug/configz', 'Debug support for config', (url, ctx, res) => {
  writeJson(res, url, configzJson(ctx.snapshot().resources));
});
register('/debug/registryz', 'Debug support for registry', (url, ctx, res) => {
  writeJson(
    res,
    url,
    ctx.server.push.registry.services().map((svc) => serviceJson(svc)),
  );
});
register('/debug/endpointz', 'Debug support for endpoints', (url, ctx, res) => {
  writeJson(res, url, endpointz(ctx.server.push));
});
register('/debug/cachez', 'Info about the internal XDS caches', (url, ctx, res) => {
  if (url.searchParams.get('clear')) {
    ctx.server.cache.clear();
    writeText(res, 200, 'Cache cleared\n');
    return;
  }
  writeJson(res, url, ctx.server.cache.keysByType());
});
register(
  '/debug/config_dump',
  'ConfigDump in the form of the Envoy admin config dump API for passed in proxyID',
  (url, ctx, res) => {
    const con = debugConnection(url, ctx, res);
    if (!con) return;
    let dump: ConnectionDump;
    try {
      dump = connectionDump(ctx.server, con);
    } catch (err) {
      writeText(res, 500, (err as Error).message);
      return;
    }
    writeJson(res, url, configDump(dump, url.searchParams.get('include_eds') === 'true'));
  },
);
register('/debug/push_status', 'Last PushContext Details', (_url, ctx, res) => {
  // The push context skiff builds at startup plays the part of istiod's first push, so there is always one.
  const proxies = ctx.server
    .connections()
    .filter((c) => !c.debug)
    .map((c) => c.proxy);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(pushStatusJson(pushStatus(ctx.server.push, proxies)));
});
register('/debug/authorizationz', 'Internal authorization policies', (url, ctx, res) => {
  writeJson(res, url, authorizationDebug(ctx.server.push));
});
register('/debug/connections', 'Info about the connected XDS clients', (url, ctx, res) => {
  writeJson(res, url, clientsJson(ctx.server.connections(), false));
});
register('/debug/mesh', 'Active mesh config', (url, ctx, res) => {
  writeJson(res, url, ctx.snapshot().mesh);
});
register('/debug/list', 'List all supported debug commands in json', (url, _ctx, res) => {
  writeJson(
    res,
    url,
    [...HANDLERS.keys()]
      .map((k) => k.replace('/debug/', ''))
      .filter((k) => k !== 'list')
      .sort(),
  );
});

function indexPage(): string {
  const rows = [...HANDLERS.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, { help }]) => `\t<tr>\n\t<td><a href='${path}'>${path}</a></td><td>${help}</td>\n\t</tr>`)
    .join('\n');
  return `<html>\n<head>\n<title>Pilot Debug Console</title>\n</head>\n<body>\n<table id="endpoints">\n<tr><th>Endpoint</th><th>Description</th></tr>\n${rows}\n</table>\n</body>\n</html>\n`;
}

/** Proxy-status-like summary per connection (used by skiff's own tools): type URL → status. */
export function connectionStatuses(con: Connection): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [type, w] of con.watches) out[type] = watchStatus(w);
  return out;
}

/** A response that keeps what a handler writes, for DebugGen (istiod's ResponseCapture). */
class CapturedResponse implements DebugResponse {
  status = 200;
  body = '';
  headersSent = false;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  setHeader(): this {
    return this;
  }
  end(body?: string): this {
    this.headersSent = true;
    if (body !== undefined) this.body += body;
    return this;
  }
}

/**
 * Runs the debug handler `/debug/<pathAndQuery>` in process, as istiod's DebugGen runs its internal mux:
 * only the registered `/debug/...` handlers (no index, `/ready` or `/version`); anything else is Go's
 * NotFound (`404 page not found`).
 */
export async function runDebugHandler(ctx: DebugContext, pathAndQuery: string): Promise<DebugHttpReply> {
  const url = new URL(`/debug/${pathAndQuery}`, 'http://localhost');
  const entry = HANDLERS.get(url.pathname);
  const res = new CapturedResponse();
  if (!entry) {
    writeText(res, 404, '404 page not found\n');
    return { status: res.status, body: res.body };
  }
  try {
    await entry.handler(url, ctx, res);
  } catch (err) {
    if (!res.headersSent) writeText(res, 500, `${(err as Error).message ?? String(err)}\n`);
  }
  return { status: res.status, body: res.body };
}

/**
 * The request handler for the debug port (8080: debug handlers and `/ready`) and, with `metrics`, the
 * monitoring port (15014: debug handlers, `/metrics` and `/version`). Also gives the ADS server's DebugGen
 * these handlers, so `istio.io/debug` requests run them in process.
 */
export function debugRequestHandler(
  ctx: DebugContext,
  options: { metrics?: boolean } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  setDebugHttpRunner(ctx.server, (pathAndQuery) => runDebugHandler(ctx, pathAndQuery));
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (options.metrics && path === '/metrics') {
        const text = await ctx.server.metrics.text();
        res.writeHead(200, { 'Content-Type': ctx.server.metrics.registry.contentType });
        res.end(text);
        return;
      }
      if (options.metrics && path === '/version') {
        writeText(res, 200, PILOT_VERSION_STRING);
        return;
      }
      if (!options.metrics && path === '/ready') {
        res.writeHead(ctx.ready() ? 200 : 503, { 'Content-Length': '0' });
        res.end();
        return;
      }
      if (path === '/debug') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(indexPage());
        return;
      }
      const entry = HANDLERS.get(path);
      if (!entry) {
        writeText(res, 404, '404 page not found\n');
        return;
      }
      await entry.handler(url, ctx, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) writeText(res, 500, `${(err as Error).message ?? String(err)}\n`);
      else res.end();
    });
  };
}
