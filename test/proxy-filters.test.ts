import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startAdmin } from '../src/proxy/index.js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  call,
  edsCluster,
  endpoints,
  F,
  gatewaySnapshot,
  parseTextLine,
  request,
  ROUTER_TYPE,
  startProxy,
  upstream,
  vhost,
  waitFor,
} from './proxy-fixtures.js';

const V1 = 'outbound|80|v1|catalog.istioinaction.svc.cluster.local';
const MIRROR = 'outbound|80||catalog-shadow.istioinaction.svc.cluster.local';
const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const FILTERS = {
  httpFilters: [
    { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT_TYPE } },
    { name: 'envoy.filters.http.cors', typedConfig: { '@type': CORS_TYPE } },
    { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } },
  ],
};

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function app(name: string, handler?: Parameters<typeof upstream>[1]): Promise<Upstream> {
  const u = await upstream(name, handler);
  cleanup.push(() => u.close());
  return u;
}

async function proxy(routes: unknown[], clusters: unknown[], eps: unknown[]): Promise<Harness> {
  const h = await startProxy(gatewaySnapshot([vhost(routes)], clusters, eps, FILTERS));
  cleanup.push(() => h.close());
  return h;
}

function fault(config: Record<string, unknown>): Record<string, unknown> {
  return { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, ...config } } };
}

describe('fault injection', () => {
  it('aborts 100% with the configured status, Envoy body and an FI access-log line', async () => {
    const v1 = await app('v1');
    const h = await proxy(
      [
        {
          name: 'catalog',
          match: { prefix: '/' },
          route: { cluster: V1 },
          ...fault({
            abort: { httpStatus: 503, percentage: { numerator: 1000000, denominator: 'MILLION' } },
          }),
        },
      ],
      [edsCluster(V1)],
      [endpoints(V1, [v1.port])],
    );
    const r = await request(h.port);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'fault filter abort');
    assert.equal(v1.seen.length, 0, 'the upstream is never called');
    await waitFor(() => h.lines.length === 1);
    const f = parseTextLine(h.lines[0] ?? '');
    assert.equal(f[F.code], '503');
    assert.equal(f[F.flags], 'FI');
    assert.equal(f[F.details], 'fault_filter_abort');
    assert.equal(h.proxy.stats.counters.get('http.outbound_0.0.0.0_8080.fault.aborts_injected')?.value, 1);
  });

  it('delays then aborts (DI,FI), and a 0% abort lets requests through', async () => {
    const v1 = await app('v1');
    const h = await proxy(
      [
        {
          name: 'delayed',
          match: { prefix: '/delayed' },
          route: { cluster: V1 },
          ...fault({
            delay: { fixedDelay: '0.020s', percentage: { numerator: 100 } },
            abort: { httpStatus: 418, percentage: { numerator: 100 } },
          }),
        },
        {
          name: 'never',
          match: { prefix: '/' },
          route: { cluster: V1 },
          ...fault({ abort: { httpStatus: 500, percentage: { numerator: 0 } } }),
        },
      ],
      [edsCluster(V1)],
      [endpoints(V1, [v1.port])],
    );
    const delayed = await request(h.port, { path: '/delayed' });
    assert.equal(delayed.status, 418);
    const ok = await request(h.port, { path: '/items' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'v1');
    await waitFor(() => h.lines.length === 2);
    const flags = h.lines.map((l) => parseTextLine(l)[F.flags]);
    assert.deepEqual(flags, ['DI,FI', '-']);
  });

  it('ignores route fault configs when the fault filter is not in the chain', async () => {
    const v1 = await app('v1');
    const h = await startProxy(
      gatewaySnapshot(
        [
          vhost([
            {
              name: 'catalog',
              match: { prefix: '/' },
              route: { cluster: V1 },
              ...fault({ abort: { httpStatus: 503, percentage: { numerator: 100 } } }),
            },
          ]),
        ],
        [edsCluster(V1)],
        [endpoints(V1, [v1.port])],
      ),
    );
    cleanup.push(() => h.close());
    assert.equal((await request(h.port)).status, 200);
  });
});

describe('CORS', () => {
  const cors = {
    allowOriginStringMatch: [{ exact: 'https://shop.example' }],
    allowMethods: 'GET,POST',
    allowHeaders: 'content-type',
    exposeHeaders: 'x-trace',
    maxAge: '600',
    allowCredentials: true,
    filterEnabled: { defaultValue: { numerator: 100 } },
  };

  it('answers preflights from allowed origins and decorates actual responses', async () => {
    const v1 = await app('v1');
    const h = await proxy(
      [{ name: 'catalog', match: { prefix: '/' }, route: { cluster: V1, cors } }],
      [edsCluster(V1)],
      [endpoints(V1, [v1.port])],
    );
    const pre = await request(h.port, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
    assert.equal(pre.headers['access-control-max-age'], '600');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.equal(v1.seen.length, 0, 'preflight answered by the proxy');

    const actual = await request(h.port, { headers: { origin: 'https://shop.example' } });
    assert.equal(actual.status, 200);
    assert.equal(actual.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(actual.headers['access-control-expose-headers'], 'x-trace');

    const other = await request(h.port, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(v1.seen.length, 2, 'a preflight from another origin goes upstream');
  });
});

describe('request mirroring', () => {
  it('sends a fire-and-forget copy with a -shadow host to the mirror cluster', async () => {
    const v1 = await app('v1');
    const shadow = await app('shadow', (_req, res) => {
      res.statusCode = 500;
      res.end('shadow failed');
    });
    const h = await proxy(
      [
        {
          name: 'catalog',
          match: { prefix: '/' },
          route: {
            cluster: V1,
            requestMirrorPolicies: [
              { cluster: MIRROR, runtimeFraction: { defaultValue: { numerator: 100 } } },
            ],
          },
        },
      ],
      [edsCluster(V1), edsCluster(MIRROR)],
      [endpoints(V1, [v1.port]), endpoints(MIRROR, [shadow.port])],
    );
    const r = await request(h.port, { method: 'POST', body: 'order=1' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'v1', "the shadow's failure does not matter");
    await waitFor(() => shadow.seen.length === 1);
    assert.equal(shadow.seen[0]?.host, 'catalog.istioinaction.io-shadow:30000');
    assert.equal(v1.seen[0]?.host, 'catalog.istioinaction.io:30000');
  });
});

describe('consistent hashing, weights and outlier detection', () => {
  async function three(): Promise<Upstream[]> {
    return Promise.all(['a', 'b', 'c'].map((n) => app(n)));
  }

  for (const lbPolicy of ['RING_HASH', 'MAGLEV']) {
    it(`${lbPolicy} keeps a header's requests on one host and spreads different values`, async () => {
      const ups = await three();
      const h = await proxy(
        [
          {
            name: 'catalog',
            match: { prefix: '/' },
            route: { cluster: V1, hashPolicy: [{ header: { headerName: 'x-user' } }] },
          },
        ],
        [edsCluster(V1, { lbPolicy })],
        [
          endpoints(
            V1,
            ups.map((u) => u.port),
          ),
        ],
      );
      const first = await request(h.port, { headers: { 'x-user': 'alice' } });
      for (let i = 0; i < 6; i++) {
        const again = await request(h.port, { headers: { 'x-user': 'alice' } });
        assert.equal(again.body, first.body);
      }
      const seen = new Set<string>();
      for (let i = 0; i < 24; i++)
        seen.add((await request(h.port, { headers: { 'x-user': `user-${i}` } })).body);
      assert.ok(seen.size >= 2, `spread over ${[...seen].join(',')}`);
    });
  }

  it('sets a cookie for cookie hashing with a TTL and sticks to it', async () => {
    const ups = await three();
    const h = await proxy(
      [
        {
          name: 'catalog',
          match: { prefix: '/' },
          route: { cluster: V1, hashPolicy: [{ cookie: { name: 'user', ttl: '10s', path: '/' } }] },
        },
      ],
      [edsCluster(V1, { lbPolicy: 'RING_HASH' })],
      [
        endpoints(
          V1,
          ups.map((u) => u.port),
        ),
      ],
    );
    const first = await request(h.port);
    const cookie = String(first.headers['set-cookie']?.[0] ?? '');
    assert.match(cookie, /^user="[0-9a-f]{16}"; Max-Age=10; Path=\/; HttpOnly$/);
    const value = cookie.split(';')[0] ?? '';
    for (let i = 0; i < 4; i++) {
      const again = await request(h.port, { headers: { cookie: value } });
      assert.equal(again.body, first.body);
      assert.equal(again.headers['set-cookie'], undefined, 'no new cookie once the client has one');
    }
  });

  it('splits round robin by endpoint weight', async () => {
    const [a, b] = await Promise.all([app('a'), app('b')]);
    const eps = endpoints(V1, [a?.port ?? 0, b?.port ?? 0]) as {
      endpoints: { lbEndpoints: Record<string, unknown>[] }[];
    };
    const lbs = eps.endpoints[0]?.lbEndpoints ?? [];
    if (lbs[0]) lbs[0]['loadBalancingWeight'] = 3;
    if (lbs[1]) lbs[1]['loadBalancingWeight'] = 1;
    const h = await proxy(
      [{ name: 'catalog', match: { prefix: '/' }, route: { cluster: V1 } }],
      [edsCluster(V1, { lbPolicy: 'ROUND_ROBIN' })],
      [eps],
    );
    const bodies: string[] = [];
    for (let i = 0; i < 8; i++) bodies.push((await request(h.port)).body);
    assert.equal(bodies.filter((x) => x === 'a').length, 6);
    assert.equal(bodies.filter((x) => x === 'b').length, 2);
  });

  it('ejects a host after consecutive 5xx and shows it in /clusters', async () => {
    const good = await app('good');
    const bad = await app('bad', (_req, res) => {
      res.statusCode = 503;
      res.end('bad');
    });
    const h = await proxy(
      [{ name: 'catalog', match: { prefix: '/' }, route: { cluster: V1 } }],
      [
        edsCluster(V1, {
          lbPolicy: 'ROUND_ROBIN',
          outlierDetection: {
            consecutive5xx: 2,
            baseEjectionTime: '30s',
            maxEjectionPercent: 10,
            interval: '1s',
          },
        }),
      ],
      [endpoints(V1, [good.port, bad.port])],
    );
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await request(h.port)).status);
    assert.equal(bad.seen.length, 2, 'ejected after its second 5xx');
    assert.deepEqual(statuses.slice(4), [200, 200, 200, 200, 200, 200]);
    const enforced = h.proxy.stats.counters.get(
      `cluster.${V1}.outlier_detection.ejections_enforced_consecutive_5xx`,
    );
    assert.equal(enforced?.value, 1);
    const admin = await startAdmin(h.proxy, { port: 0 });
    cleanup.push(() => admin.close());
    const text = (await call(admin.address()?.port ?? 0, 'GET', '/clusters')).body;
    assert.match(text, new RegExp(`::127\\.0\\.0\\.1:${bad.port}::health_flags::/failed_outlier_check\\n`));
    assert.match(text, new RegExp(`::127\\.0\\.0\\.1:${good.port}::health_flags::healthy\\n`));
    const json = (await call(admin.address()?.port ?? 0, 'GET', '/clusters?format=json')).body;
    assert.match(json, /"failed_outlier_check": true/);
  });
});
