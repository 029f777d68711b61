/**
 * Routing through the proxy end to end: retries with attempt counts, per-try timeouts, weighted splits,
 * rewrites and redirects, JSON access logs, and snapshot updates that switch routing without dropping a
 * request in flight.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  edsCluster,
  endpoints,
  gatewaySnapshot,
  request,
  startProxy,
  upstream,
  vhost,
  waitFor,
} from './proxy-fixtures.js';

const A = 'outbound|80|a|svc.ns.svc.cluster.local';
const B = 'outbound|80|b|svc.ns.svc.cluster.local';
const FLAKY = 'outbound|80|flaky|svc.ns.svc.cluster.local';
const BROKEN = 'outbound|80|broken|svc.ns.svc.cluster.local';
const SLOWFIRST = 'outbound|80|slowfirst|svc.ns.svc.cluster.local';

describe('proxy routing', () => {
  let a: Upstream;
  let b: Upstream;
  let flaky: Upstream;
  let broken: Upstream;
  let slowFirst: Upstream;
  let h: Harness;

  const retry = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: 2,
    retriableStatusCodes: [503],
    retryBackOff: { baseInterval: '0.001s' },
    ...extra,
  });

  function routes(target: string): unknown[] {
    return [
      vhost([
        { match: { prefix: '/flaky' }, route: { cluster: FLAKY, timeout: '0s', retryPolicy: retry() } },
        { match: { prefix: '/broken' }, route: { cluster: BROKEN, timeout: '0s', retryPolicy: retry() } },
        {
          match: { prefix: '/pertry' },
          route: {
            cluster: SLOWFIRST,
            timeout: '5s',
            retryPolicy: retry({ retryOn: '5xx', perTryTimeout: '0.2s' }),
          },
        },
        {
          match: { prefix: '/split' },
          route: {
            weightedClusters: {
              clusters: [
                { name: A, weight: 20 },
                { name: B, weight: 80 },
              ],
              totalWeight: 100,
            },
            timeout: '0s',
          },
        },
        {
          match: { prefix: '/api/' },
          route: { cluster: A, prefixRewrite: '/v2/', hostRewriteLiteral: 'backend.local' },
        },
        { match: { prefix: '/old' }, redirect: { pathRedirect: '/new', responseCode: 'FOUND' } },
        { match: { path: '/health' }, directResponse: { status: 200, body: { inlineString: 'ok' } } },
        { match: { prefix: '/' }, route: { cluster: target, timeout: '0s' } },
      ]),
    ];
  }

  function snapshot(target: string, extraRoutes?: unknown[]): ReturnType<typeof gatewaySnapshot> {
    return gatewaySnapshot(
      extraRoutes ?? routes(target),
      [A, B, FLAKY, BROKEN, SLOWFIRST].map((c) => edsCluster(c)),
      [
        endpoints(A, [a.port]),
        endpoints(B, [b.port]),
        endpoints(FLAKY, [flaky.port]),
        endpoints(BROKEN, [broken.port]),
        endpoints(SLOWFIRST, [slowFirst.port]),
      ],
    );
  }

  before(async () => {
    a = await upstream('a', (req, res) => {
      if (req.url?.startsWith('/hold')) setTimeout(() => res.end('a-held'), 400);
      else res.end('a');
    });
    b = await upstream('b');
    flaky = await upstream('flaky', (_req, res, n) => {
      res.statusCode = n <= 2 ? 503 : 200;
      res.end(n <= 2 ? 'unavailable' : 'recovered');
    });
    broken = await upstream('broken', (_req, res) => {
      res.statusCode = 503;
      res.end('still broken');
    });
    slowFirst = await upstream('slowfirst', (_req, res, n) => {
      if (n === 1) setTimeout(() => res.end('too late'), 1000).unref();
      else res.end('second try');
    });
    h = await startProxy(snapshot(A), { encoding: 'JSON' });
  });

  after(async () => {
    await h.close();
    for (const u of [a, b, flaky, broken, slowFirst]) await u.close();
  });

  function jsonLine(pred: (o: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return h.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find(pred);
  }

  it('retries retriable status codes with x-envoy-attempt-count', async () => {
    const r = await request(h.port, { path: '/flaky' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'recovered');
    assert.deepEqual(
      flaky.seen.map((s) => s['x-envoy-attempt-count']),
      ['1', '2', '3'],
    );
    await waitFor(() => h.lines.some((l) => l.includes('"/flaky"')));
    const log = jsonLine((o) => o['path'] === '/flaky');
    assert.equal(log?.['response_code'], 200);
    assert.equal(log?.['response_flags'], null);
  });

  it('exhausted retries on 503 answer the upstream response with URX', async () => {
    const r = await request(h.port, { path: '/broken' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'still broken');
    assert.equal(broken.seen.length, 3);
    await waitFor(() => h.lines.some((l) => l.includes('"/broken"')));
    const log = jsonLine((o) => o['path'] === '/broken');
    assert.equal(log?.['response_flags'], 'URX');
    assert.equal(log?.['response_code_details'], 'via_upstream');
  });

  it('a per-try timeout retries on a fresh attempt', async () => {
    const r = await request(h.port, { path: '/pertry' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'second try');
    assert.equal(slowFirst.seen[0]?.['x-envoy-expected-rq-timeout-ms'], '200');
    assert.equal(h.proxy.stats.counters.get(`cluster.${SLOWFIRST}.upstream_rq_per_try_timeout`)?.value, 1);
  });

  it('splits 20/80 over 500 requests within tolerance', async () => {
    const counts = { a: 0, b: 0 };
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => request(h.port, { path: '/split' })),
      );
      for (const r of replies) counts[r.body as 'a' | 'b']++;
    }
    assert.equal(counts.a + counts.b, 500);
    // 20% of 500 = 100; binomial sd ≈ 8.9, so ±40 is > 4 sd.
    assert.ok(counts.a > 60 && counts.a < 140, `a=${counts.a} b=${counts.b}`);
  });

  it('rewrites prefix and host, keeping the original path for the access log', async () => {
    const r = await request(h.port, { path: '/api/items?x=1' });
    assert.equal(r.body, 'a');
    assert.equal(a.paths.at(-1), '/v2/items?x=1');
    assert.equal(a.seen.at(-1)?.['host'], 'backend.local');
    assert.equal(a.seen.at(-1)?.['x-envoy-original-path'], '/api/items?x=1');
    await waitFor(() => h.lines.some((l) => l.includes('/api/items')));
    const log = jsonLine((o) => o['path'] === '/api/items?x=1');
    assert.equal(log?.['authority'], 'backend.local');
  });

  it('answers redirects and direct responses locally', async () => {
    const r = await request(h.port, { path: '/old?q=1' });
    assert.equal(r.status, 302);
    assert.equal(r.headers['location'], 'http://catalog.istioinaction.io:30000/new?q=1');
    const d = await request(h.port, { path: '/health' });
    assert.equal(d.status, 200);
    assert.equal(d.body, 'ok');
    await waitFor(() => h.lines.some((l) => l.includes('"/health"')));
    const log = jsonLine((o) => o['path'] === '/health');
    assert.equal(log?.['response_code_details'], 'direct_response');
  });

  it('writes Istio JSON access logs with 24 typed keys', async () => {
    await request(h.port, { path: '/json-check', headers: { 'x-request-id': 'rid-json' } });
    await waitFor(() => h.lines.some((l) => l.includes('rid-json')));
    const log = jsonLine((o) => o['request_id'] === 'rid-json') ?? {};
    assert.equal(Object.keys(log).length, 24);
    assert.equal(log['response_code'], 200);
    assert.equal(typeof log['duration'], 'number');
    assert.equal(log['bytes_sent'], 1);
    assert.equal(log['bytes_received'], 0);
    assert.equal(log['upstream_cluster'], A);
    assert.equal(log['route_name'], null);
    assert.equal(log['requested_server_name'], null);
    assert.equal(log['method'], 'GET');
    assert.equal(log['protocol'], 'HTTP/1.1');
    assert.equal(typeof log['upstream_service_time'], 'string');
  });

  it('switches routing on update without dropping the request in flight', async () => {
    const inflight = request(h.port, { path: '/hold' });
    await waitFor(() => a.paths.includes('/hold'));
    const result = await h.proxy.update(snapshot(B));
    assert.equal(result.ok, true);
    const after = await request(h.port, { path: '/next' });
    assert.equal(after.body, 'b');
    const held = await inflight;
    assert.equal(held.status, 200);
    assert.equal(held.body, 'a-held');
  });

  it('refuses a snapshot with an invalid regex and keeps serving the previous config', async () => {
    const bad = snapshot(A, [
      vhost([{ match: { safeRegex: { regex: '(unclosed' } }, route: { cluster: A } }]),
    ]);
    const result = await h.proxy.update(bad);
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /invalid regex '\(unclosed'/);
    const r = await request(h.port, { path: '/still' });
    assert.equal(r.body, 'b');
  });

  it('stops routing to a cluster removed from the snapshot: NC', async () => {
    const s = snapshot(B);
    s.clusters = (s.clusters ?? []).filter((c) => (c as { name: string }).name !== B);
    assert.equal((await h.proxy.update(s)).ok, true);
    const r = await request(h.port, { path: '/gone' });
    assert.equal(r.status, 503);
    await waitFor(() => h.lines.some((l) => l.includes('"/gone"')));
    assert.equal(jsonLine((o) => o['path'] === '/gone')?.['response_flags'], 'NC');
  });
});

describe('proxy request bodies', () => {
  it('streams a POST body upstream and replays it on a retry', async () => {
    const bodies: string[] = [];
    const echo = await upstream('echo', (req, res, n) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.statusCode = n === 1 ? 503 : 200;
        res.end(`got ${Buffer.concat(chunks).length}`);
      });
    });
    const C = 'outbound|80||echo.ns.svc.cluster.local';
    const h = await startProxy(
      gatewaySnapshot(
        [
          vhost([
            {
              match: { prefix: '/' },
              route: {
                cluster: C,
                retryPolicy: {
                  retryOn: 'retriable-status-codes',
                  retriableStatusCodes: [503],
                  numRetries: 1,
                },
              },
            },
          ]),
        ],
        [edsCluster(C)],
        [endpoints(C, [echo.port])],
      ),
    );
    try {
      const payload = 'x'.repeat(200_000);
      const r = await request(h.port, { method: 'POST', path: '/upload', body: payload });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'got 200000');
      assert.deepEqual(
        bodies.map((b) => b.length),
        [200_000, 200_000],
      );
      await waitFor(() => h.lines.length > 0);
      assert.match(h.lines[0] ?? '', /"POST \/upload HTTP\/1\.1" 200 - via_upstream - "-" 200000 10 /);
    } finally {
      await h.close();
      await echo.close();
    }
  });
});
