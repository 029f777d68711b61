// The store's Kubernetes-style REST API over node:http: /api/v1/..., /apis/<group>/<version>/..., list /
// get / watch / create / update / patch / delete, selectors, discovery. Every failure is a `Status` body;
// no request, however malformed, takes the server down.
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { KindInfo } from '../api/index.js';
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  groupVersion,
  kindForPlural,
  versionInfo,
} from './discovery.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import { isPlainObject } from './resource.js';
import type { KubeObject, ObjectStore, Watch, WatchEvent } from './store.js';
import type { GroupResource } from './status.js';
import {
  StoreError,
  asStoreError,
  badRequest,
  entityTooLarge,
  methodNotSupported,
  notFound,
  pathNotFound,
  unsupportedMediaType,
} from './status.js';

/** The API server's default request body limit (3 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface StoreApiOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  maxBodyBytes?: number;
}

export interface StoreApiServer {
  server: Server;
  /** `http://host:port` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where a resource path points. */
interface ResourceTarget {
  info: KindInfo;
  group: string;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: 'status';
  /** The legacy `/watch/` path form. */
  watchPath: boolean;
}

type Route =
  | { type: 'json'; body: object }
  | { type: 'text'; body: string }
  | { type: 'resource'; target: ResourceTarget };

const JSON_BODY_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml'];

function gr(info: KindInfo): GroupResource {
  return { group: info.group, plural: info.plural, kind: info.kind };
}

/** Resolves a URL path; undefined for paths the server does not have. */
function route(path: string, serverAddress: string): Route | undefined {
  const segs = path.split('/').filter((s) => s !== '');
  let decoded: string[];
  try {
    decoded = segs.map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  const [root, ...rest] = decoded;
  if (root === undefined)
    return { type: 'json', body: { paths: ['/api', '/api/v1', '/apis', '/healthz', '/version'] } };
  if (['healthz', 'readyz', 'livez'].includes(root) && rest.length === 0) return { type: 'text', body: 'ok' };
  if (root === 'version' && rest.length === 0) return { type: 'json', body: versionInfo() };
  if (root === 'api') {
    if (rest.length === 0) return { type: 'json', body: apiVersions(serverAddress) };
    const [version, ...tail] = rest;
    if (version !== 'v1') return undefined;
    if (tail.length === 0) return discovery(apiResourceList('', 'v1'));
    return resourceRoute('', version, tail);
  }
  if (root === 'apis') {
    if (rest.length === 0) return { type: 'json', body: apiGroupList() };
    const [group, version, ...tail] = rest as [string, string | undefined, ...string[]];
    if (version === undefined) return discovery(apiGroup(group));
    if (tail.length === 0) return discovery(apiResourceList(group, version));
    return resourceRoute(group, version, tail);
  }
  return undefined;
}

function discovery(body: object | undefined): Route | undefined {
  return body ? { type: 'json', body } : undefined;
}

function resourceRoute(group: string, version: string, segs: string[]): Route | undefined {
  let watchPath = false;
  if (segs[0] === 'watch') {
    watchPath = true;
    segs = segs.slice(1);
  }
  let namespace: string | undefined;
  let rest = segs;
  if (segs[0] === 'namespaces' && segs.length >= 3 && segs[2] !== 'status' && segs[2] !== 'finalize') {
    namespace = segs[1];
    rest = segs.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (plural === undefined || extra.length > 0) return undefined;
  const info = kindForPlural(group, version, plural);
  if (!info) return undefined;
  if (namespace !== undefined && !info.namespaced) return undefined;
  // /api/v1/pods/<name> does not exist: a namespaced object is only reached through its namespace.
  if (namespace === undefined && info.namespaced && name !== undefined) return undefined;
  if (subresource !== undefined && subresource !== 'status') return undefined;
  const target: ResourceTarget = { info, group, version, watchPath };
  if (namespace !== undefined) target.namespace = namespace;
  if (name !== undefined) target.name = name;
  if (subresource === 'status') target.subresource = 'status';
  return { type: 'resource', target };
}

/** The object as served at the request's version (every version of a kind shares one schema). */
function render(object: KubeObject, target: ResourceTarget): KubeObject {
  const apiVersion = groupVersion(target.group, target.version);
  return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = asStoreError(err);
  sendJson(res, e.code, e.toStatus(), headers);
}

/** Reads a request body up to `limit` bytes; a larger one is a 413. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(entityTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(entityTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (err) => {
      if (!done) {
        done = true;
        reject(badRequest(`error reading the request body: ${err.message}`));
      }
    });
  });
}

function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase() as string;
}

/** Decodes a JSON (or YAML) body; an empty or unreadable one is a 400. */
function decodeBody(bytes: Buffer, type: string): unknown {
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  if (type.includes('yaml')) {
    try {
      const value = parseYaml(text, { maxAliasCount: 100 }) as unknown;
      checkDepth(value);
      return value;
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw badRequest(
        `couldn't get version/kind; yaml parse error: ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  checkDepth(value);
  return value;
}

/**
 * Bodies nested deeper than this are refused before anything recurses over them. The API server's decoder
 * allows 10000; no Kubernetes or Istio object comes near 1000, and the validators recurse.
 */
export const MAX_BODY_DEPTH = 1000;

function checkDepth(value: unknown): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth > MAX_BODY_DEPTH)
      throw badRequest(`the request body is nested more than ${MAX_BODY_DEPTH} levels deep`);
    for (const child of Object.values(node))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
}

function warningHeaders(warnings: readonly string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  // RFC 7234 warn-code 299, as the API server sends admission warnings; the value is a quoted string.
  const text = warnings
    .map((w) => `299 - ${JSON.stringify(w.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?'))}`)
    .join(', ');
  return { Warning: text };
}

function isDryRun(query: URLSearchParams): boolean {
  return query.getAll('dryRun').includes('All');
}

/** Fills a written object's apiVersion and kind from the path, and refuses ones that name another. */
function checkBodyKind(body: unknown, target: ResourceTarget): Record<string, unknown> {
  if (!isPlainObject(body)) throw badRequest('the request body must be a JSON object');
  const expected = groupVersion(target.group, target.version);
  const apiVersion = body['apiVersion'];
  const kind = body['kind'];
  if (apiVersion !== undefined && apiVersion !== '' && apiVersion !== expected) {
    throw badRequest(
      `the API version in the data (${String(apiVersion)}) does not match the expected API version (${expected})`,
    );
  }
  if (kind !== undefined && kind !== '' && kind !== target.info.kind) {
    throw badRequest(
      `the kind in the data (${String(kind)}) does not match the expected kind (${target.info.kind})`,
    );
  }
  return { ...body, apiVersion: expected, kind: target.info.kind };
}

/** The handler, for mounting the API in another server. */
export function storeApiHandler(
  store: ObjectStore,
  opts: StoreApiOptions = {},
): RequestListener & { closeWatches(): void } {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const watches = new Set<{ watch?: Watch; res: ServerResponse }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The path is taken as it is: `new URL('//x', base)` would read `x` as a host.
    let url: URL;
    try {
      url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
    } catch {
      throw badRequest('the request URL cannot be parsed');
    }
    const host = String(req.headers.host ?? `${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}`);
    const found = route(url.pathname, host);
    if (!found) {
      sendError(res, pathNotFound());
      return;
    }
    if (found.type !== 'resource') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(res, methodNotSupported(undefined, req.method ?? ''));
        return;
      }
      if (found.type === 'text') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(found.body);
      } else {
        sendJson(res, 200, found.body);
      }
      return;
    }
    const target = found.target;
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    const kindKey = `${target.info.group}/${target.info.kind}`;
    const isWatch = target.watchPath || ['true', '1'].includes(query.get('watch') ?? '');
    const collection = target.name === undefined;
    if (method === 'GET' && isWatch) {
      startWatch(req, res, target, query);
      return;
    }
    if (method === 'GET' && collection) {
      const list = store.list(kindKey, {
        namespace: target.namespace,
        labelSelector: query.get('labelSelector') ?? undefined,
        fieldSelector: query.get('fieldSelector') ?? undefined,
      });
      sendJson(res, 200, {
        kind: `${target.info.kind}List`,
        apiVersion: groupVersion(target.group, target.version),
        metadata: { resourceVersion: list.resourceVersion },
        items: list.items.map((o) => render(o, target)),
      });
      return;
    }
    if (method === 'GET') {
      const object = store.get(kindKey, target.namespace, target.name as string);
      if (!object) throw notFound(gr(target.info), target.name as string);
      sendJson(res, 200, render(object, target));
      return;
    }
    if (method === 'POST' && collection && target.subresource === undefined) {
      if (target.info.namespaced && target.namespace === undefined)
        throw methodNotSupported(gr(target.info), method);
      const body = checkBodyKind(await readWriteBody(req), target);
      const warnings: string[] = [];
      const created = store.create(body, { namespace: target.namespace, dryRun: isDryRun(query), warnings });
      sendJson(res, 201, render(created, target), warningHeaders(warnings));
      return;
    }
    if (method === 'PUT' && !collection) {
      const body = checkBodyKind(await readWriteBody(req), target);
      const meta = body['metadata'];
      const bodyName = isPlainObject(meta) ? meta['name'] : undefined;
      if (bodyName !== target.name) {
        throw badRequest(
          `the name of the object (${String(bodyName ?? '')}) does not match the name on the URL (${target.name})`,
        );
      }
      const warnings: string[] = [];
      const updated = store.update(body, {
        namespace: target.namespace,
        dryRun: isDryRun(query),
        warnings,
        ...(target.subresource ? { subresource: target.subresource } : {}),
      });
      sendJson(res, 200, render(updated, target), warningHeaders(warnings));
      return;
    }
    if (method === 'PATCH' && !collection) {
      const type = PATCH_CONTENT_TYPES[mediaType(req)];
      if (!type) {
        // Drain what the client sent before answering, so the connection stays usable.
        await readBody(req, maxBody).catch(() => undefined);
        throw unsupportedMediaType(mediaType(req), Object.keys(PATCH_CONTENT_TYPES));
      }
      const patch = decodeBody(await readBody(req, maxBody), 'application/json');
      const warnings: string[] = [];
      const patched = store.patch(kindKey, target.namespace, target.name as string, type, patch, {
        dryRun: isDryRun(query),
        warnings,
        ...(target.subresource ? { subresource: target.subresource } : {}),
      });
      sendJson(res, 200, render(patched, target), warningHeaders(warnings));
      return;
    }
    if (method === 'DELETE' && target.subresource === undefined) {
      const bytes = await readBody(req, maxBody);
      const options = bytes.toString('utf8').trim() === '' ? {} : decodeBody(bytes, 'application/json');
      const pre =
        isPlainObject(options) && isPlainObject(options['preconditions']) ? options['preconditions'] : {};
      const dryRun =
        isDryRun(query) ||
        (isPlainObject(options) && Array.isArray(options['dryRun']) && options['dryRun'].includes('All'));
      const preconditions = {
        ...(typeof pre['resourceVersion'] === 'string' ? { resourceVersion: pre['resourceVersion'] } : {}),
        ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}),
      };
      if (collection) {
        const deleted = store.deleteCollection(kindKey, {
          namespace: target.namespace,
          labelSelector: query.get('labelSelector') ?? undefined,
          fieldSelector: query.get('fieldSelector') ?? undefined,
          dryRun,
        });
        sendJson(res, 200, {
          kind: `${target.info.kind}List`,
          apiVersion: groupVersion(target.group, target.version),
          metadata: { resourceVersion: store.resourceVersion },
          items: deleted.map((o) => render(o, target)),
        });
        return;
      }
      const deleted = store.delete(kindKey, target.namespace, target.name as string, {
        dryRun,
        preconditions,
      });
      sendJson(res, 200, render(deleted, target));
      return;
    }
    await readBody(req, maxBody).catch(() => undefined);
    throw methodNotSupported(gr(target.info), method);
  };

  const readWriteBody = async (req: IncomingMessage): Promise<unknown> => {
    const type = mediaType(req);
    if (type !== '' && !JSON_BODY_TYPES.includes(type)) {
      await readBody(req, maxBody).catch(() => undefined);
      throw unsupportedMediaType(type, JSON_BODY_TYPES);
    }
    return decodeBody(await readBody(req, maxBody), type);
  };

  const startWatch = (
    req: IncomingMessage,
    res: ServerResponse,
    target: ResourceTarget,
    query: URLSearchParams,
  ): void => {
    const kindKey = `${target.info.group}/${target.info.kind}`;
    let fieldSelector = query.get('fieldSelector') ?? undefined;
    if (target.name !== undefined) {
      const byName = `metadata.name=${target.name}`;
      fieldSelector = fieldSelector ? `${fieldSelector},${byName}` : byName;
    }
    const entry: { watch?: Watch; res: ServerResponse } = { res };
    const write = (event: WatchEvent | { type: 'ERROR'; object: unknown }) => {
      if (res.writableEnded || res.destroyed) return;
      const object = event.type === 'ERROR' ? event.object : render(event.object, target);
      res.write(`${JSON.stringify({ type: event.type, object })}\n`);
    };
    const finish = () => {
      entry.watch?.close();
      watches.delete(entry);
      if (!res.writableEnded) res.end();
    };
    const open = () => {
      if (!res.headersSent) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
        res.flushHeaders();
      }
    };
    const options = {
      kindKey,
      namespace: target.namespace,
      labelSelector: query.get('labelSelector') ?? undefined,
      fieldSelector,
      resourceVersion: query.get('resourceVersion') ?? undefined,
    };
    try {
      // Selectors are checked before the stream starts, so a bad one is a plain 400.
      store.list(kindKey, { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
      open();
      watches.add(entry);
      entry.watch = store.watch(options, write);
    } catch (err) {
      const e = asStoreError(err);
      if (e.code === 410 && res.headersSent) {
        // As the API server: an expired resourceVersion is an ERROR event in a 200 stream.
        write({ type: 'ERROR', object: e.toStatus() });
        finish();
        return;
      }
      watches.delete(entry);
      if (res.headersSent) {
        write({ type: 'ERROR', object: e.toStatus() });
        finish();
      } else {
        sendError(res, e);
      }
      return;
    }
    const timeout = Number(query.get('timeoutSeconds'));
    if (Number.isFinite(timeout) && timeout > 0) {
      const timer = setTimeout(finish, Math.min(timeout, 24 * 3600) * 1000);
      timer.unref();
      res.on('close', () => clearTimeout(timer));
    }
    req.on('close', finish);
    res.on('close', finish);
    res.on('error', finish);
  };

  const listener = ((req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    handle(req, res).catch((err: unknown) => {
      const e = asStoreError(err);
      // A 413 is answered at once and the connection closed, so the rest of a huge body is never read.
      const headers: Record<string, string> = e.code === 413 ? { Connection: 'close' } : {};
      try {
        sendError(res, e, headers);
      } catch {
        res.destroy();
      }
    });
  }) as RequestListener & { closeWatches(): void };
  listener.closeWatches = () => {
    for (const w of [...watches]) {
      w.watch?.close();
      if (!w.res.writableEnded) w.res.end();
    }
    watches.clear();
  };
  return listener;
}

/** Starts the REST API on host:port (127.0.0.1 and a free port by default). */
export function createStoreApiServer(
  store: ObjectStore,
  opts: StoreApiOptions = {},
): Promise<StoreApiServer> {
  const handler = storeApiHandler(store, opts);
  const server = createServer(handler);
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        port,
        url: `http://${shownHost}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            handler.closeWatches();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
