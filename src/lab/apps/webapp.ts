// The `webapp` sample app: the book's web front end, calling the catalog through its sidecar.
import { Agent, createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  appHandle,
  guarded,
  HTML,
  JSON_TYPE,
  listen,
  logRequest,
  requestPath,
  send,
  stdoutLog,
  TEXT,
} from './http-util.js';
import type { AppHandle, LogFn } from './http-util.js';
import {
  DEFAULT_CATALOG_TIMEOUT_MS,
  DEFAULT_CATALOG_URL,
  decodeItem,
  decodeItems,
  getFromCatalog,
  goJson,
  parseCatalogUrl,
  parseHostPort,
  propagatedHeaders,
} from './webapp-client.js';
import type { CatalogTarget, UpstreamResponse } from './webapp-client.js';
import { renderIndexPage } from './webapp-page.js';

export interface WebappOptions {
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080, the webapp's containerPort; 0 picks a free one). */
  port?: number;
  /** Catalog base URL (default http://catalog.istioinaction:80). */
  catalogUrl?: string;
  /** `host:port` of the sidecar's outbound port; unset means connect to the catalog directly. */
  proxyAddr?: string;
  /** How long to wait for the catalog (default 60 s, as the book's Go client). */
  catalogTimeoutMs?: number;
  log?: LogFn;
}

export const WEBAPP_DEFAULT_PORT = 8080;

/** The error answer when the catalog cannot be reached or answers something unusable. */
export const CATALOG_CALL_FAILED = 'error calling Catalog service';

/** Starts the webapp; rejects on a bad catalog URL or proxy address, or when it cannot bind. */
export async function startWebapp(options: WebappOptions = {}): Promise<AppHandle> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? stdoutLog;
  const target: CatalogTarget = {
    baseUrl: parseCatalogUrl(options.catalogUrl ?? DEFAULT_CATALOG_URL),
    timeoutMs: options.catalogTimeoutMs ?? DEFAULT_CATALOG_TIMEOUT_MS,
  };
  if (options.proxyAddr) target.proxy = parseHostPort(options.proxyAddr, 'HTTP proxy address');
  const agent = new Agent({ keepAlive: true });

  const failed = (res: ServerResponse, err: unknown): void => {
    const detail = err instanceof Error ? err.message : String(err);
    log(`${CATALOG_CALL_FAILED}: ${detail}`);
    if (!res.destroyed) send(res, 502, goJson({ error: CATALOG_CALL_FAILED, detail }), JSON_TYPE);
  };

  /** A catalog error status goes back as it came (e.g. Envoy's 504 "upstream request timeout"). */
  const passThrough = (res: ServerResponse, up: UpstreamResponse): void => {
    const type = up.headers['content-type'];
    if (!res.destroyed) send(res, up.status, up.body, typeof type === 'string' ? type : TEXT);
  };

  async function proxyCatalog(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    decode: (v: unknown) => unknown,
  ): Promise<void> {
    let up: UpstreamResponse;
    try {
      up = await getFromCatalog(target, path, propagatedHeaders(req.headers), agent);
    } catch (err) {
      return failed(res, err);
    }
    if (up.status < 200 || up.status > 299) return passThrough(res, up);
    let decoded: unknown;
    try {
      decoded = decode(JSON.parse(up.body.toString('utf8')));
    } catch {
      decoded = undefined;
    }
    if (decoded === undefined)
      return failed(res, new Error(`catalog answered ${up.status} with unreadable items`));
    if (!res.destroyed) send(res, 200, goJson(decoded), JSON_TYPE);
  }

  async function indexPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let items: ReturnType<typeof decodeItems>;
    try {
      const up = await getFromCatalog(target, '/items', propagatedHeaders(req.headers), agent);
      items =
        up.status >= 200 && up.status <= 299 ? decodeItems(JSON.parse(up.body.toString('utf8'))) : undefined;
    } catch (err) {
      log(`${CATALOG_CALL_FAILED}: ${err instanceof Error ? err.message : String(err)}`);
      items = undefined;
    }
    if (!res.destroyed) send(res, 200, renderIndexPage(items), HTML);
  }

  const handler = guarded(async (req, res) => {
    logRequest(req, res, log);
    const { path } = requestPath(req);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    // The book routes /api/catalog for every method.
    if (path === '/api/catalog' || path === '/api/catalog/')
      return proxyCatalog(req, res, '/items', decodeItems);
    const item = /^\/api\/catalog\/items\/(\d+)$/.exec(path);
    if (item && method === 'GET') return proxyCatalog(req, res, `/items/${item[1]}`, decodeItem);
    if (path === '/api/healthz' && method === 'GET') return send(res, 200, 'Healthy!', TEXT);
    if (path === '/' && method === 'GET') return indexPage(req, res);
    send(res, 404, 'Not Found', TEXT);
  }, log);

  const server = createServer(handler);
  const port = await listen(server, host, options.port ?? WEBAPP_DEFAULT_PORT);
  return appHandle(server, host, port, () => agent.destroy());
}
