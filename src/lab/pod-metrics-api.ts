/**
 * The lab's REST API with the metrics.k8s.io/v1beta1 group mounted beside the store's routes, as the
 * aggregation layer puts metrics-server's API beside the API server's own: `/apis` lists the group, and
 * `/apis/metrics.k8s.io/v1beta1/[namespaces/<ns>/]pods[/<name>]` answers PodMetrics (lists honour
 * `labelSelector`). Everything else goes to the store's handler unchanged.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectStore, StoreApiOptions, StoreApiServer } from '../store/index.js';
import { apiGroupList, asStoreError, storeApiHandler } from '../store/index.js';
import type { PodMetricsCollector } from './pod-metrics.js';
import { METRICS_GROUP_VERSION } from './pod-metrics.js';

const GROUP = 'metrics.k8s.io';
const VERSION = 'v1beta1';

const groupVersion = { groupVersion: METRICS_GROUP_VERSION, version: VERSION };

function metricsGroup(): Record<string, unknown> {
  return { name: GROUP, versions: [groupVersion], preferredVersion: groupVersion };
}

function resourceList(): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: METRICS_GROUP_VERSION,
    resources: [
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function status(code: number, reason: string, message: string, name?: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(name !== undefined ? { details: { name, group: GROUP, kind: 'pods' } } : {}),
    code,
  };
}

/**
 * Answers the request when it is for the metrics group (or `/apis`, which must list it); false when the
 * store should.
 */
export function serveMetricsApi(
  metrics: PodMetricsCollector,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  let url: URL;
  try {
    url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
  } catch {
    return false;
  }
  const segs = url.pathname.split('/').filter((s) => s !== '');
  if (segs[0] !== 'apis') return false;
  if (segs.length === 1) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const list = apiGroupList() as { groups?: unknown[] } & Record<string, unknown>;
    send(res, 200, { ...list, groups: [...(list.groups ?? []), metricsGroup()] });
    return true;
  }
  if (segs[1] !== GROUP) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(
      res,
      405,
      status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
    );
    return true;
  }
  let rest: string[];
  try {
    rest = segs.slice(2).map((s) => decodeURIComponent(s));
  } catch {
    send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    return true;
  }
  if (rest.length === 0) {
    send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...metricsGroup() });
    return true;
  }
  if (rest[0] !== VERSION) {
    send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    return true;
  }
  const path = rest.slice(1);
  if (path.length === 0) {
    send(res, 200, resourceList());
    return true;
  }
  let namespace: string | undefined;
  let tail = path;
  if (path[0] === 'namespaces' && path.length >= 3) {
    namespace = path[1];
    tail = path.slice(2);
  }
  const [plural, name, ...extra] = tail;
  if (plural !== 'pods' || extra.length > 0 || (namespace === undefined && name !== undefined)) {
    send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    return true;
  }
  try {
    if (name !== undefined && namespace !== undefined) {
      const item = metrics.get(namespace, name);
      if (!item) {
        // metrics-server names the object namespace/name in its NotFound text.
        send(res, 404, status(404, 'NotFound', `podmetrics.${GROUP} "${namespace}/${name}" not found`, name));
        return true;
      }
      send(res, 200, item);
      return true;
    }
    const items = metrics.list(namespace, url.searchParams.get('labelSelector') ?? undefined);
    send(res, 200, { kind: 'PodMetricsList', apiVersion: METRICS_GROUP_VERSION, metadata: {}, items });
  } catch (err) {
    const e = asStoreError(err);
    send(res, e.code, e.toStatus());
  }
  return true;
}

/** The store's REST API with the metrics group beside it, on host:port (127.0.0.1 and any port by default). */
export function createLabApiServer(
  store: ObjectStore,
  metrics: PodMetricsCollector,
  opts: StoreApiOptions = {},
): Promise<StoreApiServer> {
  const storeHandler = storeApiHandler(store, opts);
  const server = createServer((req, res) => {
    let handled = false;
    try {
      handled = serveMetricsApi(metrics, req, res);
    } catch {
      if (!res.headersSent) send(res, 500, status(500, 'InternalError', 'metrics request failed'));
      handled = true;
    }
    if (!handled) storeHandler(req, res);
  });
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        server,
        port,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            storeHandler.closeWatches();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
