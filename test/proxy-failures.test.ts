/**
 * The proxy's Envoy failure semantics end to end: real upstream servers and real client requests on
 * 127.0.0.1, asserting status, body, response flags, details and the access-log line of each failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  deadPort,
  edsCluster,
  endpoints,
  F,
  gatewaySnapshot,
  parseTextLine,
  request,
  startProxy,
  upstream,
  vhost,
  waitFor,
} from './proxy-fixtures.js';

const V1 = 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local';
const V2 = 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local';
const SLOW = 'outbound|80|slow|catalog.istioinaction.svc.cluster.local';
const DEAD = 'outbound|80|dead|catalog.istioinaction.svc.cluster.local';
const SICK = 'outbound|80|sick|catalog.istioinaction.svc.cluster.local';

describe('proxy failure semantics', () => {
  let v1: Upstream;
  let slow: Upstream;
  let h: Harness;
  let dead: number;

  before(async () => {
    v1 = await upstream('v1', (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('[{"id":1}]');
    });
    slow = await upstream('slow', (_req, res) => {
      setTimeout(() => res.end('late'), 1500).unref();
    });
    dead = await deadPort();
    const routes = [
      vhost(
        [
          {
            name: 'missing-subset',
            match: { prefix: '/nc' },
            route: { cluster: 'outbound|80|nope|catalog.istioinaction.svc.cluster.local', timeout: '0s' },
          },
          {
            match: { prefix: '/slow' },
            route: { cluster: SLOW, timeout: '0.5s' },
            decorator: { operation: 'slow:80/*' },
          },
          { match: { prefix: '/untimed' }, route: { cluster: SLOW, timeout: '0s' } },
          { match: { prefix: '/dead' }, route: { cluster: DEAD, timeout: '0s' } },
          {
            match: { prefix: '/deadretry' },
            route: {
              cluster: DEAD,
              timeout: '0s',
              retryPolicy: {
                retryOn: 'connect-failure',
                numRetries: 2,
                retryBackOff: { baseInterval: '0.001s' },
              },
            },
          },
          { match: { prefix: '/sick' }, route: { cluster: SICK } },
          {
            match: { prefix: '/items' },
            route: { cluster: V1, timeout: '0s' },
            decorator: { operation: 'catalog-v1-v2:80/*' },
          },
        ],
        { name: 'catalog.istioinaction.io:80' },
      ),
    ];
    const snapshot = gatewaySnapshot(
      routes,
      [edsCluster(V1), edsCluster(V2), edsCluster(SLOW), edsCluster(DEAD), edsCluster(SICK)],
      [
        endpoints(V1, [v1.port]),
        endpoints(SLOW, [slow.port]),
        endpoints(DEAD, [dead]),
        endpoints(SICK, [v1.port], 'UNHEALTHY'),
      ],
    );
    // DEAD's route must be checked before '/dead' swallows '/deadretry': reorder.
    const vh = (snapshot.routes?.[0] as { virtualHosts: { routes: unknown[] }[] }).virtualHosts[0];
    if (vh) vh.routes.splice(3, 2, vh.routes[4], vh.routes[3]);
    h = await startProxy(snapshot);
  });

  after(async () => {
    await h.close();
    await v1.close();
    await slow.close();
  });

  async function lineFor(requestId: string): Promise<string[]> {
    await waitFor(() => h.lines.some((l) => l.includes(`"${requestId}"`)));
    return parseTextLine(h.lines.find((l) => l.includes(`"${requestId}"`)) ?? '');
  }

  it('forwards via upstream with Envoy and Istio headers', async () => {
    const r = await request(h.port, {
      headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-peer-metadata-id': 'abc' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, '[{"id":1}]');
    assert.equal(r.headers['server'], 'istio-envoy');
    assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
    const seen = v1.seen.at(-1) ?? {};
    assert.match(
      String(seen['x-request-id']),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-envoy-internal'], 'true');
    assert.equal(seen['x-envoy-decorator-operation'], 'catalog-v1-v2:80/*');
    assert.equal(seen['x-envoy-attempt-count'], '1');
    assert.equal(seen['x-envoy-expected-rq-timeout-ms'], undefined, 'timeout 0s sends no expected timeout');
    assert.equal(seen['x-envoy-retry-on'], undefined, 'internal x-envoy headers are stripped');
    assert.equal(seen['x-envoy-peer-metadata-id'], 'abc');
    assert.equal(seen['host'], 'catalog.istioinaction.io:30000');
    const f = await lineFor(String(seen['x-request-id']));
    assert.equal(f[F.request], 'GET /items HTTP/1.1');
    assert.deepEqual(
      [f[F.code], f[F.flags], f[F.details], f[F.termination]],
      ['200', '-', 'via_upstream', '-'],
    );
    assert.equal(f[F.bytesSent], '10');
    assert.equal(f[F.upstreamHost], `127.0.0.1:${v1.port}`);
    assert.equal(f[F.cluster], V1);
    assert.match(f[F.upstreamLocal] ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(f[F.downstreamLocal], `127.0.0.1:${h.port}`);
    assert.equal(f[F.userAgent], 'curl/8.13.0');
    assert.equal(f[F.authority], 'catalog.istioinaction.io:30000');
    assert.match(f[F.serviceTime] ?? '', /^\d+$/);
  });

  it('no route: 404 NR route_not_found with an empty body', async () => {
    const r = await request(h.port, { host: 'unknown.example.com' });
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
    assert.equal(r.headers['server'], 'istio-envoy');
    assert.equal(r.headers['content-length'], '0');
    await waitFor(() => h.lines.some((l) => l.includes('"unknown.example.com"')));
    const line = h.lines.find((l) => l.includes('"unknown.example.com"')) ?? '';
    const f = parseTextLine(line);
    assert.deepEqual([f[F.code], f[F.flags], f[F.details]], ['404', 'NR', 'route_not_found']);
    assert.equal(f[F.cluster], '-');
  });

  it('unknown cluster: 503 NC cluster_not_found, a line shaped like the lab notes', async () => {
    const r = await request(h.port, {
      path: '/nc',
      headers: { 'x-request-id': '4cf735c9-d09b-9769-9bf0-83fefa1b6931' },
    });
    assert.equal(r.status, 503);
    assert.equal(r.body, '');
    await waitFor(() => h.lines.some((l) => l.includes(' NC ')));
    const line = h.lines.find((l) => l.includes(' NC ')) ?? '';
    // The seed's line with the variable parts (time, ids, ports, route name) as patterns.
    assert.match(
      line,
      /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET \/nc HTTP\/1\.1" 503 NC cluster_not_found - "-" 0 0 \d+ - "127\.0\.0\.1" "curl\/8\.13\.0" "4cf735c9-d09b-9769-9bf0-83fefa1b6931" "catalog\.istioinaction\.io:30000" "-" - - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - missing-subset\n$/,
    );
  });

  it('no healthy endpoint: 503 UH no_healthy_upstream', async () => {
    const r = await request(h.port, { path: '/sick' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
    assert.equal(r.headers['content-type'], 'text/plain');
    await waitFor(() => h.lines.some((l) => l.includes('/sick')));
    const f = parseTextLine(h.lines.find((l) => l.includes('/sick')) ?? '');
    assert.deepEqual([f[F.code], f[F.flags], f[F.details]], ['503', 'UH', 'no_healthy_upstream']);
    assert.equal(f[F.bytesSent], '19');
    assert.equal(f[F.upstreamHost], '-');
    assert.equal(f[F.cluster], SICK);
  });

  it('connect failure: 503 UF with the reset body', async () => {
    const r = await request(h.port, { path: '/dead' });
    assert.equal(r.status, 503);
    assert.equal(
      r.body,
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
    );
    await waitFor(() => h.lines.some((l) => l.includes('"GET /dead HTTP')));
    const f = parseTextLine(h.lines.find((l) => l.includes('"GET /dead HTTP')) ?? '');
    assert.deepEqual(
      [f[F.code], f[F.flags], f[F.details]],
      ['503', 'UF', 'upstream_reset_before_response_started{connection_failure}'],
    );
    assert.equal(f[F.upstreamHost], `127.0.0.1:${dead}`);
    assert.equal(h.proxy.stats.counters.get(`cluster.${DEAD}.upstream_cx_connect_fail`)?.value, 1);
  });

  it('connect failure with retries exhausted: UF,URX after 3 attempts', async () => {
    const r = await request(h.port, { path: '/deadretry' });
    assert.equal(r.status, 503);
    assert.match(r.body, /retried and the latest reset reason: connection failure$/);
    await waitFor(() => h.lines.some((l) => l.includes('/deadretry')));
    const f = parseTextLine(h.lines.find((l) => l.includes('/deadretry')) ?? '');
    assert.deepEqual([f[F.code], f[F.flags]], ['503', 'UF,URX']);
    assert.equal(h.proxy.stats.counters.get(`cluster.${DEAD}.upstream_rq_retry`)?.value, 2);
  });

  it('route timeout 0.5s over a slow upstream: 504 UT response_timeout, traced in debug logs', async () => {
    h.proxy.log.setPaths('http:debug,router:debug,pool:debug');
    const started = Date.now();
    const r = await request(h.port, { path: '/slow' });
    const took = Date.now() - started;
    h.proxy.log.setAll('warning');
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.equal(r.headers['content-length'], '24');
    assert.ok(took >= 480 && took < 1400, `took ${took} ms`);
    assert.equal(slow.seen.at(-1)?.['x-envoy-expected-rq-timeout-ms'], '500');
    await waitFor(() => h.lines.some((l) => l.includes('"GET /slow HTTP')));
    const f = parseTextLine(h.lines.find((l) => l.includes('"GET /slow HTTP')) ?? '');
    assert.deepEqual([f[F.code], f[F.flags], f[F.details]], ['504', 'UT', 'response_timeout']);
    assert.equal(f[F.bytesSent], '24');
    assert.equal(f[F.serviceTime], '-');
    assert.equal(f[F.upstreamHost], `127.0.0.1:${slow.port}`);
    assert.ok(Number(f[F.duration]) >= 490 && Number(f[F.duration]) < 1400, `duration ${f[F.duration]}`);
    // The debug trail: the timeout and the local reply carry the same [C][S] ids.
    const timeout = h.debug.find((l) => l.includes('upstream timeout'));
    assert.ok(timeout, h.debug.join(''));
    assert.match(
      timeout,
      /^\d{4}-\d\d-\d\dT[\d:.]+Z\tdebug\tenvoy router \S+router\.cc:947\t\[C\d+\]\[S\d+\] upstream timeout\tthread=\d+\n$/,
    );
    const ids = /\[C\d+\]\[S\d+\]/.exec(timeout)?.[0] ?? 'none';
    assert.ok(h.debug.some((l) => l.includes(`${ids} Sending local reply with details response_timeout`)));
    assert.ok(h.debug.some((l) => l.includes(`${ids} cluster '${SLOW}' match for URL '/slow'`)));
    assert.equal(h.proxy.stats.counters.get(`cluster.${SLOW}.upstream_rq_timeout`)?.value, 1);
  });

  it('timeout 0s disables the route timeout', async () => {
    const r = await request(h.port, { path: '/untimed' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'late');
  });

  it('downstream disconnect: DC downstream_remote_disconnect with response code 0', async () => {
    const http = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: h.port,
        path: '/untimed?dc=1',
        headers: { host: 'catalog.istioinaction.io' },
        agent: false,
      });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
    await waitFor(() => h.lines.some((l) => l.includes('dc=1')));
    const f = parseTextLine(h.lines.find((l) => l.includes('dc=1')) ?? '');
    assert.deepEqual([f[F.code], f[F.flags], f[F.details]], ['0', 'DC', 'downstream_remote_disconnect']);
  });

  it('oversized headers: 431; too many headers: 431; a malformed request: 400 — and it keeps serving', async () => {
    const big = await request(h.port, { headers: { 'x-big': 'a'.repeat(70 * 1024) } }).catch((e: Error) => e);
    assert.ok(!(big instanceof Error), String(big));
    assert.equal((big as { status: number }).status, 431);
    const many: Record<string, string> = {};
    for (let i = 0; i < 120; i++) many[`x-h${i}`] = 'v';
    const r2 = await request(h.port, { headers: many });
    assert.equal(r2.status, 431);
    const net = await import('node:net');
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(h.port, '127.0.0.1', () => s.write('GARBAGE\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /\r\n\r\nBad Request$/);
    await waitFor(() => h.lines.some((l) => l.includes('http1.codec_error')));
    assert.ok(h.lines.some((l) => / 431 DPE http1\.headers_too_large /.test(l)));
    const ok = await request(h.port);
    assert.equal(ok.status, 200);
  });

  it('renders stats in Envoy flat names and Prometheus form', () => {
    const prom = h.proxy.stats.renderPrometheus();
    assert.match(
      prom,
      new RegExp(
        `envoy_cluster_upstream_rq\\{response_code="200",cluster_name="${V1.replace(/\|/g, '\\|')}"\\} \\d+`,
      ),
    );
    assert.match(prom, /# TYPE envoy_http_downstream_rq_total counter/);
    assert.match(
      prom,
      /envoy_http_downstream_rq\{response_code_class="5xx",http_conn_manager_prefix="outbound_0.0.0.0_8080"\} \d+/,
    );
    assert.match(h.proxy.stats.renderText(), /^http\.outbound_0\.0\.0\.0_8080\.no_route: 1$/m);
  });
});
