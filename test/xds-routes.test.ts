import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { buildRegistry } from '../src/registry/index.js';
import type { GatewayProxyInfo, Json } from '../src/xds/index.js';
import { buildGatewayRouteConfigs, roundTrip, TYPE } from '../src/xds/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INGRESS: GatewayProxyInfo = {
  namespace: 'istio-system',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway', 'sidecar.istio.io/inject': 'false' },
};

/** `istioctl proxy-config routes deploy/istio-ingressgateway --name http.8080 -o json` from the seed. */
const SEED_HTTP_8080 = {
  name: 'http.8080',
  virtualHosts: [
    {
      name: 'catalog.istioinaction.io:80',
      domains: ['catalog.istioinaction.io'],
      routes: [
        {
          match: { prefix: '/' },
          route: {
            weightedClusters: {
              clusters: [
                { name: 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local', weight: 20 },
                { name: 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local', weight: 80 },
              ],
              totalWeight: 100,
            },
            timeout: '0s',
            retryPolicy: {
              retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
              numRetries: 2,
              retryHostPredicate: [
                {
                  name: 'envoy.retry_host_predicates.previous_hosts',
                  typedConfig: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                  },
                },
              ],
              hostSelectionRetryMaxAttempts: '5',
              retriableStatusCodes: [503],
            },
            maxGrpcTimeout: '0s',
          },
          metadata: {
            filterMetadata: {
              istio: {
                config:
                  '/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/virtual-service/catalog-v1-v2',
              },
            },
          },
          decorator: { operation: 'catalog-v1-v2:80/*' },
        },
      ],
      includeRequestAttemptCount: true,
    },
  ],
  validateClusters: false,
  ignorePortInHostMatching: true,
};

async function labResources(): Promise<Resource[]> {
  const loaded = await loadPaths([
    path.join(ROOT, 'examples', 'lab', 'base'),
    path.join(ROOT, 'examples', 'lab', 'routing'),
  ]);
  assert.deepEqual(loaded.errors, []);
  return loaded.resources;
}

function routeConfigs(resources: Resource[]): Json[] {
  const snapshot = new ConfigSnapshot(resources);
  return buildGatewayRouteConfigs(buildRegistry(snapshot), snapshot, INGRESS);
}

function http8080(resources: Resource[]): Json {
  const config = routeConfigs(resources).find((c) => c['name'] === 'http.8080');
  assert.ok(config, 'http.8080 is built');
  return config;
}

function hostNames(config: Json): string[] {
  return (config['virtualHosts'] as Json[]).map((v) => String(v['name']));
}

function virtualService(name: string, hosts: string[], gateways: string[], extra = ''): Resource[] {
  return parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: ${name}, namespace: istioinaction }
spec:
  hosts: [${hosts.join(', ')}]
  gateways: [${gateways.join(', ')}]
  http:
    - route:
        - destination: { host: catalog }
${extra}`,
    'test.yaml',
  ).resources;
}

test('the ingress gateway http.8080 equals the seed field by field', async () => {
  assert.deepEqual(http8080(await labResources()), SEED_HTTP_8080);
});

test('http.8080 round-trips through the Envoy RouteConfiguration proto', async () => {
  const result = roundTrip(TYPE.RouteConfiguration, http8080(await labResources()));
  assert.deepEqual(result.lost, []);
  // decodeAny prints uint64 fields as numbers, where Go's protojson (istioctl) quotes them.
  const decoded = JSON.parse(
    JSON.stringify(result.json).replace(
      '"hostSelectionRetryMaxAttempts":5',
      '"hostSelectionRetryMaxAttempts":"5"',
    ),
  ) as unknown;
  assert.deepEqual(decoded, SEED_HTTP_8080);
});

test('a VirtualService timeout sets route.timeout and maxGrpcTimeout', async () => {
  const vs = virtualService('timed', ['timed.istioinaction.io'], ['catalog-gateway'], '      timeout: 0.5s');
  const gw = parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: catalog-gateway, namespace: istioinaction }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ['*.istioinaction.io']`,
    'gw.yaml',
  ).resources;
  const base = (await labResources()).filter((r) => r.kind !== 'Gateway');
  const config = http8080([...base, ...gw, ...vs]);
  const host = (config['virtualHosts'] as Json[]).find((v) => v['name'] === 'timed.istioinaction.io:80');
  assert.ok(host);
  const route = ((host['routes'] as Json[])[0]?.['route'] ?? {}) as Json;
  // The VirtualService says 0.5s; Envoy's proto3 JSON prints durations with 3 fractional digits.
  assert.equal(route['timeout'], '0.500s');
  assert.equal(route['maxGrpcTimeout'], '0.500s');
  assert.equal(route['cluster'], 'outbound|80||catalog.istioinaction.svc.cluster.local');
  assert.deepEqual(roundTrip(TYPE.RouteConfiguration, config).lost, []);
});

test('a VirtualService not bound to the gateway is absent', async () => {
  const vs = virtualService('unbound', ['catalog.istioinaction.io'], ['other-gateway']);
  const names = hostNames(http8080([...(await labResources()), ...vs]));
  assert.deepEqual(names, ['catalog.istioinaction.io:80']);
  const routes = ((http8080([...(await labResources()), ...vs])['virtualHosts'] as Json[])[0]?.['routes'] ??
    []) as Json[];
  assert.equal(routes.length, 1);
});

test('a bound VirtualService host outside the gateway servers is absent', async () => {
  const vs = virtualService('elsewhere', ['other.example.com'], ['istioinaction/catalog-gateway']);
  const names = hostNames(http8080([...(await labResources()), ...vs]));
  assert.ok(!names.includes('other.example.com:80'));
  assert.deepEqual(names, ['catalog.istioinaction.io:80']);
});

test('matches translate uri, headers and ignoreUriCase, one Envoy route per match', async () => {
  const vs = parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: catalog-v1-v2, namespace: istioinaction }
spec:
  hosts: [catalog.istioinaction.io]
  gateways: [catalog-gateway]
  http:
    - match:
        - uri: { exact: /items }
          ignoreUriCase: true
        - uri: { prefix: /api }
          headers: { x-dark: { exact: "true" } }
      route:
        - destination: { host: catalog, subset: version-v1 }`,
    'vs.yaml',
  ).resources;
  const base = (await labResources()).filter((r) => r.kind !== 'VirtualService');
  const config = http8080([...base, ...vs]);
  const routes = ((config['virtualHosts'] as Json[])[0]?.['routes'] ?? []) as Json[];
  assert.deepEqual(
    routes.map((r) => r['match']),
    [
      { path: '/items', caseSensitive: false },
      // Istio 1.17 writes caseSensitive on every route that has a match.
      { prefix: '/api', caseSensitive: true, headers: [{ name: 'x-dark', stringMatch: { exact: 'true' } }] },
    ],
  );
  // A single destination cluster names the decorator after its host and port (route.go getRouteOperation).
  assert.deepEqual(
    routes.map((r) => (r['decorator'] as Json)['operation']),
    ['catalog.istioinaction.svc.cluster.local:80/items', 'catalog.istioinaction.svc.cluster.local:80/api*'],
  );
  assert.equal(
    (routes[0]?.['route'] as Json)['cluster'],
    'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
  );
  assert.deepEqual(roundTrip(TYPE.RouteConfiguration, config).lost, []);
});
