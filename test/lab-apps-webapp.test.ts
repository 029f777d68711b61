import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AppConfigError,
  goJson,
  propagatedHeaders,
  startCatalog,
  startSleep,
  startWebapp,
  webappOptionsFromEnv,
} from '../src/lab/index.js';
import type { AppHandle } from '../src/lab/index.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** `curl -s http://webapp.istioinaction.io:30000/api/catalog` in the seed. */
const SEED_WEBAPP_ITEMS =
  '[{"id":1,"color":"amber","department":"Eyewear","name":"Elinor Glasses","price":"282.00"},' +
  '{"id":2,"color":"cyan","department":"Clothing","name":"Atlas Shirt","price":"127.00"},' +
  '{"id":3,"color":"teal","department":"Clothing","name":"Small Metal Shoes","price":"232.00"},' +
  '{"id":4,"color":"red","department":"Watches","name":"Red Dragon Watch","price":"232.00"}]';

interface Recorded {
  requestLine: string;
  headers: IncomingHttpHeaders;
}

/**
 * A stand-in for the sidecar's outbound port: records each absolute-form request and forwards it
 * to the given upstream port, or answers with `fixed` when set.
 */
async function startRecordingProxy(
  upstreamPort: () => number,
  fixed?: { status: number; body: string },
): Promise<{ server: Server; port: number; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  const server = createServer((req, res) => {
    seen.push({ requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`, headers: req.headers });
    if (fixed) {
      res.writeHead(fixed.status, { 'content-type': 'text/plain' });
      res.end(fixed.body);
      return;
    }
    const target = new URL(req.url ?? '/');
    const up = request(
      {
        host: '127.0.0.1',
        port: upstreamPort(),
        path: target.pathname,
        method: req.method,
        headers: req.headers,
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(503);
      res.end('no healthy upstream');
    });
    up.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

const quiet = (): void => {};

describe('webapp through the sidecar proxy', () => {
  let catalog: AppHandle;
  let webapp: AppHandle;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;

  before(async () => {
    catalog = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
    proxy = await startRecordingProxy(() => catalog.port);
    webapp = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      catalogUrl: 'http://catalog.istioinaction:80',
      proxyAddr: `127.0.0.1:${proxy.port}`,
    });
  });
  after(async () => {
    await webapp.close();
    await catalog.close();
    proxy.server.closeAllConnections();
    await new Promise((r) => proxy.server.close(r));
  });

  it('sends the absolute-form request with the service host and returns the seed body', async () => {
    proxy.seen.length = 0;
    const r = await get(webapp.port, '/api/catalog');
    assert.equal(r.status, 200);
    assert.equal(r.body, SEED_WEBAPP_ITEMS);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(proxy.seen.length, 1);
    assert.equal(proxy.seen[0]?.requestLine, 'GET http://catalog.istioinaction/items HTTP/1.1');
    assert.equal(proxy.seen[0]?.headers.host, 'catalog.istioinaction');
  });

  it('propagates request id, tracing and routing headers, not hop-level ones', async () => {
    proxy.seen.length = 0;
    await get(webapp.port, '/api/catalog', {
      'x-request-id': '556487c7-4e8b-9465-ba02-4a876f016439',
      'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124',
      'x-b3-spanid': 'a2fb4a1d1a96d312',
      'x-b3-parentspanid': '0020000000000001',
      'x-b3-sampled': '1',
      b3: '463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1',
      'x-istio-cohort': 'internal',
      'x-envoy-attempt-count': '1',
      'x-forwarded-for': '172.18.0.1',
      cookie: 'session=1',
    });
    const h = proxy.seen[0]?.headers ?? {};
    assert.equal(h['x-request-id'], '556487c7-4e8b-9465-ba02-4a876f016439');
    assert.equal(h['x-b3-traceid'], '463ac35c9f6413ad48485a3953bb6124');
    assert.equal(h['x-b3-spanid'], 'a2fb4a1d1a96d312');
    assert.equal(h['x-b3-parentspanid'], '0020000000000001');
    assert.equal(h['x-b3-sampled'], '1');
    assert.equal(h.b3, '463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1');
    assert.equal(h['x-istio-cohort'], 'internal');
    assert.equal(h['x-envoy-attempt-count'], undefined);
    assert.equal(h['x-forwarded-for'], undefined);
    assert.equal(h.cookie, undefined);
  });

  it('serves one item, the health check and the HTML page', async () => {
    const one = await get(webapp.port, '/api/catalog/items/3');
    assert.equal(
      one.body,
      '{"id":3,"color":"teal","department":"Clothing","name":"Small Metal Shoes","price":"232.00"}',
    );
    assert.equal((await get(webapp.port, '/api/healthz')).body, 'Healthy!');
    const page = await get(webapp.port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<th>Elinor Glasses<\/th><td>amber<\/td><td>282.00<\/td>/);
    assert.match(page.body, /Red Dragon Watch/);
    assert.equal((await get(webapp.port, '/nope')).status, 404);
  });

  it('passes a catalog error status and body through', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: catalog.port, method: 'POST', path: '/blowup', agent: false },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ type: '500', active: true }));
    });
    try {
      const r = await get(webapp.port, '/api/catalog');
      assert.equal(r.status, 500);
      assert.equal(r.body, '');
    } finally {
      await new Promise<void>((resolve) => {
        const req = request(
          { host: '127.0.0.1', port: catalog.port, method: 'DELETE', path: '/blowup' },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        );
        req.end();
      });
    }
    assert.equal((await get(webapp.port, '/api/catalog')).status, 200);
  });
});

describe('webapp failures', () => {
  it('answers 502 with a JSON error when the catalog is down', async () => {
    // A port that was just free: nothing listens there.
    const dead = await startSleep({ host: '127.0.0.1', port: 0, log: quiet });
    const deadPort = dead.port;
    await dead.close();
    const webapp = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      catalogUrl: `http://127.0.0.1:${deadPort}`,
    });
    try {
      const r = await get(webapp.port, '/api/catalog');
      assert.equal(r.status, 502);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      const body = JSON.parse(r.body) as { error: string; detail: string };
      assert.equal(body.error, 'error calling Catalog service');
      assert.match(body.detail, /ECONNREFUSED/);
      const page = await get(webapp.port, '/');
      assert.equal(page.status, 200);
      assert.match(page.body, /The catalog service is currently not available\./);
    } finally {
      await webapp.close();
    }
  });

  it('connects directly (origin form) without a proxy', async () => {
    const catalog = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet, showImage: true });
    const webapp = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      catalogUrl: `http://127.0.0.1:${catalog.port}`,
    });
    try {
      const items = JSON.parse((await get(webapp.port, '/api/catalog')).body) as Record<string, unknown>[];
      assert.equal(items.length, 4);
      assert.equal(items[0]?.imageUrl, 'http://lorempixel.com/640/480');
    } finally {
      await webapp.close();
      await catalog.close();
    }
  });

  it('passes an Envoy 504 through and times out on a silent catalog with 502', async () => {
    const proxy = await startRecordingProxy(() => 0, { status: 504, body: 'upstream request timeout' });
    const slow = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const viaProxy = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      proxyAddr: `127.0.0.1:${proxy.port}`,
    });
    const direct = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      catalogUrl: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
      catalogTimeoutMs: 150,
    });
    try {
      const r = await get(viaProxy.port, '/api/catalog');
      assert.equal(r.status, 504);
      assert.equal(r.body, 'upstream request timeout');
      assert.equal(proxy.seen[0]?.requestLine, 'GET http://catalog.istioinaction/items HTTP/1.1');
      const t = await get(direct.port, '/api/catalog');
      assert.equal(t.status, 502);
      assert.match(t.body, /did not answer within 150 ms/);
    } finally {
      await viaProxy.close();
      await direct.close();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
      proxy.server.closeAllConnections();
      await new Promise((r) => proxy.server.close(r));
    }
  });

  it('answers 502 when the catalog sends something that is not items', async () => {
    const proxy = await startRecordingProxy(() => 0, { status: 200, body: '{"not":"items"}' });
    const webapp = await startWebapp({
      host: '127.0.0.1',
      port: 0,
      log: quiet,
      proxyAddr: `127.0.0.1:${proxy.port}`,
    });
    try {
      const r = await get(webapp.port, '/api/catalog');
      assert.equal(r.status, 502);
    } finally {
      await webapp.close();
      proxy.server.closeAllConnections();
      await new Promise((r) => proxy.server.close(r));
    }
  });

  it('refuses bad settings before listening', async () => {
    await assert.rejects(startWebapp({ port: 0, proxyAddr: 'nonsense' }), /invalid HTTP proxy address/);
    await assert.rejects(startWebapp({ port: 0, catalogUrl: 'https://catalog' }), /only http/);
  });
});

describe('webapp settings and helpers', () => {
  it('builds the catalog URL from the book manifest variables', () => {
    assert.deepEqual(
      webappOptionsFromEnv({ CATALOG_SERVICE_HOST: 'catalog.istioinaction', CATALOG_SERVICE_PORT: '80' }),
      { catalogUrl: 'http://catalog.istioinaction:80' },
    );
    assert.deepEqual(
      webappOptionsFromEnv({
        CATALOG_URL: 'http://127.200.0.10:80',
        CATALOG_SERVICE_HOST: 'ignored',
        HTTP_PROXY_ADDR: '127.10.0.7:15001',
        HOST: '127.11.0.7',
        PORT: '8080',
        CATALOG_TIMEOUT_MS: '2000',
      }),
      {
        host: '127.11.0.7',
        port: 8080,
        catalogUrl: 'http://127.200.0.10:80',
        proxyAddr: '127.10.0.7:15001',
        catalogTimeoutMs: 2000,
      },
    );
    assert.deepEqual(webappOptionsFromEnv({}), {});
  });

  it('reports bad variables by name', () => {
    assert.throws(() => webappOptionsFromEnv({ HTTP_PROXY_ADDR: '127.0.0.1' }), AppConfigError);
    assert.throws(() => webappOptionsFromEnv({ PORT: 'eighty' }), /invalid PORT "eighty"/);
    assert.throws(() => webappOptionsFromEnv({ PORT: '70000' }), /invalid PORT/);
    assert.throws(() => webappOptionsFromEnv({ CATALOG_URL: 'not a url' }), AppConfigError);
    assert.throws(() => webappOptionsFromEnv({ CATALOG_TIMEOUT_MS: '-5' }), /CATALOG_TIMEOUT_MS/);
  });

  it('propagates only the first value of repeated headers, lower-cased', () => {
    assert.deepEqual(propagatedHeaders({ 'x-request-id': 'a', 'x-custom': ['1', '2'], accept: '*/*' }), {
      'x-request-id': 'a',
      'x-custom': '1',
    });
  });

  it('writes JSON as Go does', () => {
    assert.equal(goJson({ name: '<a&b>' }), '{"name":"\\u003ca\\u0026b\\u003e"}');
    assert.equal(goJson([1, 'x']), '[1,"x"]');
  });
});
