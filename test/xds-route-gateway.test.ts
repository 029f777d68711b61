import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { GatewayRouteProxy, Json } from '../src/xds/index.js';
import { buildGatewayRoutes, buildPushContext, roundTrip, TYPE } from '../src/xds/index.js';

const PROXY: GatewayRouteProxy = { namespace: 'istio-system', labels: { istio: 'ingressgateway' } };

function gateway(servers: string, name = 'gw'): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: ${name}, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
${servers}`;
}

const HTTP80 = gateway(`    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]`);

function vs(name: string, ns: string, hosts: string[], http: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [istio-system/gw]
${extra}  http:
${http}`;
}

function build(docs: string[], proxy: GatewayRouteProxy = PROXY, names?: string[]): Json[] {
  const push = buildPushContext(
    new ConfigSnapshot(parseManifests(docs.join('\n---\n'), 'in.yaml').resources),
  );
  const out = buildGatewayRoutes(push, proxy, names);
  for (const c of out) assert.deepEqual(roundTrip(TYPE.RouteConfiguration, c).lost, [], String(c['name']));
  return out;
}

function hosts(config: Json | undefined): [unknown, unknown][] {
  return ((config?.['virtualHosts'] as Json[]) ?? []).map((v) => [v['name'], v['domains']]);
}

test('hosts with the very same routes collapse into one virtual host named after the most specific host', () => {
  const [c] = build([
    HTTP80,
    vs(
      'shop',
      'default',
      ['a.example.com', 'bbb.example.com', '*.example.com'],
      '    - route: [{ destination: { host: web } }]',
    ),
  ]);
  assert.deepEqual(hosts(c), [['bbb.example.com:80', ['bbb.example.com', 'a.example.com', '*.example.com']]]);
});

test('VirtualServices sharing a host append routes in creation order, catch-alls last', () => {
  const older = vs(
    'older',
    'default',
    ['shop.example.com'],
    '    - route: [{ destination: { host: web } }]',
  ).replace('namespace: default }', 'namespace: default, creationTimestamp: "2024-01-01T00:00:00Z" }');
  const newer = vs(
    'newer',
    'default',
    ['shop.example.com'],
    '    - match: [{ uri: { prefix: /api } }]\n      route: [{ destination: { host: api } }]',
  ).replace('namespace: default }', 'namespace: default, creationTimestamp: "2024-02-01T00:00:00Z" }');
  const [c] = build([HTTP80, newer, older]);
  const routes = ((c?.['virtualHosts'] as Json[])[0] as Json)['routes'] as Json[];
  assert.deepEqual(
    routes.map((r) => (r['decorator'] as Json)['operation']),
    ['api.default.svc.cluster.local:80/api*', 'web.default.svc.cluster.local:80/*'],
  );
});

test('httpsRedirect servers require TLS, even for hosts without a VirtualService', () => {
  const gw = gateway(`    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["shop.example.com", "bare.example.com"]
      tls: { httpsRedirect: true }`);
  const [c] = build([
    gw,
    vs('shop', 'default', ['shop.example.com'], '    - route: [{ destination: { host: web } }]'),
  ]);
  const vhosts = c?.['virtualHosts'] as Json[];
  assert.deepEqual(
    vhosts.map((v) => [v['name'], v['requireTls'], Array.isArray(v['routes'])]),
    [
      ['bare.example.com:80', 'ALL', false],
      ['shop.example.com:80', 'ALL', true],
    ],
  );
  assert.equal(c?.['name'], 'http.80');
});

test('a server without VirtualServices gets the blackhole virtual host', () => {
  assert.deepEqual(build([HTTP80]), [
    {
      name: 'http.80',
      virtualHosts: [{ name: 'blackhole:80', domains: ['*'] }],
      validateClusters: false,
      ignorePortInHostMatching: true,
    },
  ]);
});

test('route names: bind suffix for HTTP, https.<port>.<name>.<gw>.<ns> for terminated HTTPS, none for passthrough', () => {
  const gw = gateway(`    - port: { number: 8081, name: http-bind, protocol: HTTP }
      bind: 10.0.0.1
      hosts: ["*"]
    - port: { number: 443, name: https-main, protocol: HTTPS }
      hosts: ["secure.example.com"]
      tls: { mode: SIMPLE, credentialName: cert }
    - port: { number: 8443, name: tls-pass, protocol: TLS }
      hosts: ["pass.example.com"]
      tls: { mode: PASSTHROUGH }`);
  const all = build([
    gw,
    vs('secure', 'default', ['secure.example.com'], '    - route: [{ destination: { host: web } }]'),
  ]);
  assert.deepEqual(
    all.map((c) => c['name']),
    ['https.443.https-main.gw.istio-system', 'http.8081.10.0.0.1'],
  );
  assert.deepEqual(hosts(all[0]), [['secure.example.com:443', ['secure.example.com']]]);
  assert.deepEqual(hosts(all[1]), [['secure.example.com:8081', ['secure.example.com']]]);
});

test('exportTo and server host namespaces decide which VirtualServices a gateway sees', () => {
  const gw = gateway(`    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["front/*", "./local.example.com"]`);
  const route = '    - route: [{ destination: { host: web } }]';
  const all = build([
    gw,
    vs('visible', 'front', ['a.example.com'], route),
    vs('private', 'front', ['b.example.com'], route, '  exportTo: ["."]\n'),
    vs('exported', 'front', ['c.example.com'], route, '  exportTo: ["istio-system"]\n'),
    vs('elsewhere', 'back', ['d.example.com'], route),
    vs('local', 'istio-system', ['local.example.com'], route),
  ]);
  assert.deepEqual(
    hosts(all[0]).map(([n]) => n),
    ['a.example.com:80', 'c.example.com:80', 'local.example.com:80'],
  );
});

test('wildcards intersect both ways: the more specific host names the virtual host', () => {
  const gw = gateway(`    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.example.com", "exact.example.org"]`);
  const route = '    - route: [{ destination: { host: web } }]';
  const [c] = build([
    gw,
    vs('one', 'default', ['a.example.com'], route),
    vs('two', 'default', ['*.example.org'], route.replace('web', 'api')),
    vs('three', 'default', ['other.net'], route),
  ]);
  assert.deepEqual(hosts(c), [
    ['a.example.com:80', ['a.example.com']],
    ['exact.example.org:80', ['exact.example.org']],
  ]);
});

test('per-match gateways keep only the routes for this gateway', () => {
  const both = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: both, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw, mesh]
  http:
    - match: [{ gateways: [mesh], uri: { prefix: /internal } }]
      route: [{ destination: { host: internal } }]
    - match: [{ gateways: [istio-system/gw], uri: { prefix: /public } }]
      route: [{ destination: { host: public } }]`;
  const [c] = build([HTTP80, both]);
  const routes = ((c?.['virtualHosts'] as Json[])[0] as Json)['routes'] as Json[];
  assert.deepEqual(
    routes.map((r) => (r['match'] as Json)['prefix']),
    ['/public'],
  );
});

test('older proxies match host:* domains and do not ignore ports; unknown route names are empty', () => {
  const route = '    - route: [{ destination: { host: web } }]';
  const docs = [
    HTTP80,
    vs('a', 'default', ['a.example.com'], route),
    vs('w', 'default', ['*.wild.com'], route),
  ];
  const [c] = build(docs, { ...PROXY, istioVersion: '1.14.1' });
  assert.equal(c?.['ignorePortInHostMatching'], undefined);
  assert.deepEqual(hosts(c), [
    ['*.wild.com:80', ['*.wild.com', '*.wild.com:80']],
    ['a.example.com:80', ['a.example.com', 'a.example.com:*']],
  ]);
  assert.deepEqual(build(docs, PROXY, ['http.9999']), [{ name: 'http.9999', validateClusters: false }]);
});

test('broken Gateways and VirtualServices never throw', () => {
  const junk = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: junk, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [5, { port: "80" }, { port: { number: -1 } }, { port: { number: 81, protocol: HTTP }, hosts: 7 }]`;
  const badVs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: bad, namespace: default }
spec:
  hosts: ["*"]
  gateways: [istio-system/junk]
  http: [7, { match: "x", route: { destination: 1 } }, { route: [{ destination: { host: "" } }] }]`;
  const out = build([junk, badVs]);
  assert.deepEqual(
    out.map((c) => c['name']),
    ['http.81'],
  );
  assert.deepEqual(hosts(out[0]), [['blackhole:81', ['*']]]);
});
