// The `catalog` sample app: the book's catalog service (items JSON plus `/blowup` fault injection).
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { blowupApplies, decideBlowup, parseBlowup } from './blowup.js';
import type { Blowup } from './blowup.js';
import { CATALOG_ITEMS, renderCatalogJson, servedItem } from './catalog-items.js';
import {
  appHandle,
  guarded,
  HTML,
  JSON_TYPE,
  listen,
  logRequest,
  readBody,
  requestPath,
  send,
  stdoutLog,
  TEXT,
} from './http-util.js';
import type { AppHandle, LogFn } from './http-util.js';

export interface CatalogOptions {
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** Port (default 3000, the catalog's containerPort; 0 picks a free one). */
  port?: number;
  /** Add `imageUrl` to every item, as the book's catalog does when SHOW_IMAGE is set. */
  showImage?: boolean;
  /** Version label reported by `/health` (the pod's `version` label; informational). */
  version?: string;
  log?: LogFn;
  /** Source of randomness in [0, 1) for percentages and volatile latency (tests pin it). */
  random?: () => number;
}

export const CATALOG_DEFAULT_PORT = 3000;

/** Starts the catalog; resolves once it is listening. */
export async function startCatalog(options: CatalogOptions = {}): Promise<AppHandle> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? stdoutLog;
  const random = options.random ?? Math.random;
  const showImage = options.showImage ?? false;
  const version = options.version ?? '';

  // Per-server state: the book's catalog keeps items and blowups in memory, lost on restart.
  const items: Record<string, unknown>[] = CATALOG_ITEMS.map((i) => ({ ...i }));
  let lastId = items.length;
  const blowups = new Map<string, Blowup>();
  const pendingDelays = new Set<NodeJS.Timeout>();

  const sendJson = (res: ServerResponse, status: number, value: unknown): void =>
    send(res, status, renderCatalogJson(value), JSON_TYPE);

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (path === '/items') {
      const all = items.map((i) => servedItem(i, showImage));
      if (method === 'GET') return sendJson(res, 200, all);
      if (method === 'POST') return createItem(req, res);
    } else if (path.startsWith('/items/') && method === 'GET') {
      const id = path.slice('/items/'.length);
      const item = /^\d+$/.test(id) ? items.find((i) => i.id === Number(id)) : undefined;
      return item ? sendJson(res, 200, servedItem(item, showImage)) : send(res, 404, 'Not Found', TEXT);
    } else if (path === '/blowup') {
      const shown = Object.fromEntries([...blowups].map(([type, b]) => [type, b.raw]));
      if (method === 'GET') return sendJson(res, 200, shown);
      if (method === 'POST') return setBlowup(req, res);
      if (method === 'DELETE') return deleteBlowup(req, res, query);
    } else if (path === '/health' && method === 'GET') {
      return sendJson(res, 200, version ? { status: 'ok', version } : { status: 'ok' });
    }
    send(res, 404, 'Not Found', TEXT);
  }

  async function jsonBody(req: IncomingMessage): Promise<unknown> {
    const text = (await readBody(req)).toString('utf8').trim();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  async function createItem(req: IncomingMessage, res: ServerResponse) {
    const body = await jsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return send(res, 400, 'item must be a JSON object', TEXT);
    }
    items.push({ ...(body as Record<string, unknown>), id: ++lastId });
    send(res, 201, '', TEXT);
  }

  async function setBlowup(req: IncomingMessage, res: ServerResponse) {
    const parsed = parseBlowup(await jsonBody(req));
    if ('error' in parsed) return send(res, 400, parsed.error, TEXT);
    log(`altering blowup with ${JSON.stringify(parsed.raw)}`);
    blowups.set(parsed.type, parsed);
    // Byte for byte what the book's catalog answers (it concatenates an object into a string).
    send(res, 200, 'blowups=[object Object]', HTML);
  }

  async function deleteBlowup(req: IncomingMessage, res: ServerResponse, query: URLSearchParams) {
    const body = await jsonBody(req);
    const fromBody =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>).type
        : undefined;
    const type =
      typeof fromBody === 'string' || typeof fromBody === 'number' ? String(fromBody) : query.get('type');
    if (type === null) {
      blowups.clear();
      return send(res, 200, 'deleted all blowups', HTML);
    }
    blowups.delete(type);
    send(res, 200, `deleted blowup ${type}`, HTML);
  }

  const handler = guarded(async (req, res) => {
    logRequest(req, res, log);
    const target = requestPath(req);
    const query = target.query;
    // Express matches `/items/` as `/items`.
    const path = target.path.length > 1 && target.path.endsWith('/') ? target.path.slice(0, -1) : target.path;
    if (!blowupApplies(path) || blowups.size === 0) return route(req, res, path, query);

    const outcome = decideBlowup(blowups.values(), random);
    if (outcome.kind === 'error500') {
      log('Sending a 500 blowup');
      return send(res, 500, '', TEXT);
    }
    if (outcome.kind === 'drop') {
      log('Dropping connection');
      req.socket.destroy();
      return;
    }
    if (outcome.delayMs <= 0) return route(req, res, path, query);
    log(`Sending a latency blowup for ${outcome.delayMs}ms`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        pendingDelays.delete(timer);
        resolve();
      }, outcome.delayMs);
      pendingDelays.add(timer);
      // A caller that gave up (an Envoy timeout resets the connection) needs no answer.
      res.once('close', () => {
        if (pendingDelays.delete(timer)) clearTimeout(timer);
        resolve();
      });
    });
    if (!res.destroyed) await route(req, res, path, query);
  }, log);

  const server = createServer(handler);
  const port = await listen(server, host, options.port ?? CATALOG_DEFAULT_PORT);
  return appHandle(server, host, port, () => {
    for (const t of pendingDelays) clearTimeout(t);
    pendingDelays.clear();
  });
}
