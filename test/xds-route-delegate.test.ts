import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, VirtualServiceConfig } from '../src/xds/index.js';
import {
  buildGatewayRoutes,
  buildPushContext,
  roundTrip,
  TYPE,
  virtualServiceIndex,
} from '../src/xds/index.js';

const GATEWAY = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]`;

function index(yaml: string): VirtualServiceConfig[] {
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'vs.yaml').resources));
  return [...virtualServiceIndex(push).all];
}

const ROOT = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: root, namespace: front }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http:
    - name: cart
      match: [{ uri: { prefix: /cart } }]
      timeout: 5s
      delegate: { name: cart, namespace: cart }
    - name: rest
      route: [{ destination: { host: web } }]`;

const CART = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: cart, namespace: cart }
spec:
  http:
    - name: v2
      match: [{ uri: { prefix: /cart/v2 }, headers: { x-beta: { exact: "1" } } }]
      route: [{ destination: { host: cart, subset: v2 } }]
    - name: conflict
      match: [{ uri: { prefix: /other } }]
      route: [{ destination: { host: cart, subset: v3 } }]
    - route: [{ destination: { host: cart } }]
      timeout: 1s`;

test('a delegate is merged into its root: matches narrowed, names joined, unset fields inherited', () => {
  const all = index(`${ROOT}\n---\n${CART}`);
  // The delegate (no hosts) is not a VirtualService of its own.
  assert.deepEqual(
    all.map((v) => `${v.namespace}/${v.name}`),
    ['front/root'],
  );
  const http = all[0]?.http ?? [];
  assert.deepEqual(
    http.map((h) => h['name']),
    ['cart-v2', 'cart', 'rest'],
  );
  assert.deepEqual(http[0]?.['match'], [
    { uri: { prefix: '/cart/v2' }, headers: { 'x-beta': { exact: '1' } } },
  ]);
  // Short names resolve in the delegate's own namespace.
  assert.deepEqual(http[0]?.['route'], [
    { destination: { host: 'cart.cart.svc.cluster.local', subset: 'v2' } },
  ]);
  assert.equal(http[0]?.['timeout'], '5s');
  assert.equal(http[0]?.['delegate'], undefined);
  // No match of its own: the root's match applies; its own timeout wins.
  assert.deepEqual(http[1]?.['match'], [{ uri: { prefix: '/cart' } }]);
  assert.equal(http[1]?.['timeout'], '1s');
});

test('delegate routes reach the gateway with the root metadata and the merged matches', () => {
  const yaml = `${GATEWAY}\n---\n${ROOT}\n---\n${CART}`;
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'all.yaml').resources));
  const [config] = buildGatewayRoutes(push, {
    namespace: 'istio-system',
    labels: { istio: 'ingressgateway' },
  });
  assert.ok(config);
  assert.deepEqual(roundTrip(TYPE.RouteConfiguration, config).lost, []);
  const host = (config['virtualHosts'] as Json[])[0] as Json;
  assert.equal(host['name'], 'shop.example.com:80');
  const routes = host['routes'] as Json[];
  assert.deepEqual(
    routes.map((r) => [r['name'], r['match']]),
    [
      [
        'cart-v2',
        {
          prefix: '/cart/v2',
          caseSensitive: true,
          headers: [{ name: 'x-beta', stringMatch: { exact: '1' } }],
        },
      ],
      ['cart', { prefix: '/cart', caseSensitive: true }],
      ['rest', { prefix: '/' }],
    ],
  );
  assert.deepEqual(routes[0]?.['metadata'], {
    filterMetadata: {
      istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/front/virtual-service/root' },
    },
  });
  assert.equal((routes[0]?.['route'] as Json)['timeout'], '5s');
  assert.equal((routes[1]?.['route'] as Json)['cluster'], 'outbound|80||cart.cart.svc.cluster.local');
});

test('a missing delegate, one not exported to the root, or a self-reference drops only that route', () => {
  const hidden = CART.replace('spec:\n', 'spec:\n  exportTo: ["."]\n');
  for (const yaml of [ROOT, `${ROOT}\n---\n${hidden}`]) {
    const http = index(yaml)[0]?.http ?? [];
    assert.deepEqual(
      http.map((h) => h['name']),
      ['rest'],
    );
  }
  const self = ROOT.replace('delegate: { name: cart, namespace: cart }', 'delegate: { name: root }');
  assert.deepEqual(
    (index(self)[0]?.http ?? []).map((h) => h['name']),
    ['rest'],
  );
});

test('delegation loops and chains stop after one level and never throw', () => {
  const loopA = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: a, namespace: ns }
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
    - delegate: { name: b }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: b, namespace: ns }
spec:
  http:
    - name: back
      delegate: { name: c }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: c, namespace: ns }
spec:
  http:
    - delegate: { name: b }`;
  const all = index(loopA);
  assert.equal(all.length, 1);
  assert.deepEqual(
    (all[0]?.http ?? []).map((h) => h['name']),
    ['back'],
  );
  const push = buildPushContext(
    new ConfigSnapshot(parseManifests(`${GATEWAY}\n---\n${loopA}`, 'loop.yaml').resources),
  );
  const configs = buildGatewayRoutes(push, {
    namespace: 'istio-system',
    labels: { istio: 'ingressgateway' },
  });
  assert.equal(configs.length, 1);
  for (const c of configs) assert.deepEqual(roundTrip(TYPE.RouteConfiguration, c).lost, []);
});

test('conflicting delegate matches drop the delegate route (regex vs prefix, different exact)', () => {
  const root = ROOT.replace('match: [{ uri: { prefix: /cart } }]', 'match: [{ uri: { exact: /cart } }]');
  const names = (index(`${root}\n---\n${CART}`)[0]?.http ?? []).map((h) => h['name']);
  // Prefix /cart/v2 and /other are not inside exact /cart; the match-less route inherits the root match.
  assert.deepEqual(names, ['cart', 'rest']);
  const regexRoot = ROOT.replace(
    'match: [{ uri: { prefix: /cart } }]',
    'match: [{ uri: { regex: "/c.*" } }]',
  );
  assert.deepEqual(
    (index(`${regexRoot}\n---\n${CART}`)[0]?.http ?? []).map((h) => h['name']),
    ['cart', 'rest'],
  );
});
