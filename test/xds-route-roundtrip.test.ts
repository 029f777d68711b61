import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json } from '../src/xds/index.js';
import {
  TYPE,
  TYPE_HTTP_FAULT,
  buildGatewayRoutes,
  buildPushContext,
  buildSidecarRouteConfigs,
  lookupMessageType,
  proxyFromNode,
  roundTrip,
} from '../src/xds/index.js';

/** One VirtualService using every HTTPRoute feature, bound to a gateway and to the mesh. */
const EVERYTHING = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.0.0.5
  ports: [{ name: http, port: 9080 }]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]
    - port: { number: 443, name: https, protocol: HTTPS }
      hosts: ["*"]
      tls: { mode: SIMPLE, credentialName: cert }
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: c, path: /, ttl: 10s } } } }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: everything, namespace: default }
spec:
  hosts: [reviews, www.example.com]
  gateways: [istio-system/gw, mesh]
  http:
    - name: matched
      match:
        - name: m
          uri: { regex: "/r/[a-z]+" }
          ignoreUriCase: true
          headers: { x-a: { exact: a }, x-b: { prefix: b }, x-c: { regex: "c+" }, x-d: {} }
          withoutHeaders: { x-e: {} }
          queryParams: { q: { exact: "1" } }
          method: { exact: GET }
          authority: { exact: www.example.com }
          scheme: { exact: http }
          statPrefix: stats
      route:
        - destination: { host: reviews, subset: v1, port: { number: 9080 } }
          weight: 60
          headers: { request: { set: { x-w: "1" } }, response: { remove: [x-r] } }
        - destination: { host: reviews, subset: v2 }
          weight: 40
      headers:
        request: { set: { x-s: s }, add: { x-add: a }, remove: [x-rm] }
        response: { set: { x-resp: r }, add: { x-resp-add: r }, remove: [x-resp-rm] }
      rewrite: { uri: /rewritten, authority: rewritten.example.com }
      timeout: 2.5s
      retries: { attempts: 4, perTryTimeout: 1s, retryOn: "5xx,429", retryRemoteLocalities: true }
      fault:
        delay: { fixedDelay: 1s, percentage: { value: 1.5 } }
        abort: { httpStatus: 418, percentage: { value: 2 } }
      mirror: { host: reviews, subset: v3 }
      mirrorPercentage: { value: 10 }
      corsPolicy:
        allowOrigins: [{ exact: "https://a" }, { regex: "https://.*" }]
        allowMethods: [GET]
        allowHeaders: [x-h]
        exposeHeaders: [x-e]
        maxAge: 60s
        allowCredentials: true
    - match: [{ uri: { prefix: /redirect } }]
      redirect: { uri: /to, authority: to.example.com, redirectCode: 307, scheme: https, port: 8443 }
    - match: [{ uri: { prefix: /teapot } }]
      directResponse: { status: 418, body: { string: "short and stout" } }
    - route: [{ destination: { host: reviews } }]`;

/** Paths whose Any type src/xds/protos.ts does not load yet: they decode to the type URL alone. */
function lostInUnloadedTypes(lost: string[]): { unloaded: string[]; other: string[] } {
  const unloaded = lost.filter(
    (p) =>
      (/typedPerFilterConfig\.envoy\.filters\.http\.fault\./.test(p) &&
        !lookupMessageType(TYPE_HTTP_FAULT)) ||
      (/retryPriority\.typedConfig\./.test(p) &&
        !lookupMessageType(
          'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
        )),
  );
  return { unloaded, other: lost.filter((p) => !unloaded.includes(p)) };
}

/** Keys shared by the generated and the decoded JSON come in the same order (proto field order). */
function assertSameKeyOrder(generated: unknown, decoded: unknown, at: string): void {
  if (Array.isArray(generated) && Array.isArray(decoded)) {
    generated.forEach((g, i) => assertSameKeyOrder(g, decoded[i], `${at}[${i}]`));
    return;
  }
  if (
    typeof generated !== 'object' ||
    generated === null ||
    typeof decoded !== 'object' ||
    decoded === null
  ) {
    return;
  }
  const g = generated as Json;
  const d = decoded as Json;
  const gk = Object.keys(g).filter((k) => k in d);
  const dk = Object.keys(d).filter((k) => k in g);
  // Struct members (filterMetadata) and maps (typedPerFilterConfig) have no field order.
  if (!/filterMetadata|typedPerFilterConfig$/.test(at))
    assert.deepEqual(gk, dk, `key order at ${at || '(root)'}`);
  for (const k of gk) assertSameKeyOrder(g[k], d[k], at ? `${at}.${k}` : k);
}

function everyConfig(): Json[] {
  const push = buildPushContext(new ConfigSnapshot(parseManifests(EVERYTHING, 'all.yaml').resources));
  const gateway = buildGatewayRoutes(push, {
    namespace: 'istio-system',
    labels: { istio: 'ingressgateway' },
  });
  const sidecar = buildSidecarRouteConfigs(
    push,
    proxyFromNode('sidecar~10.1.0.1~client-1.default~default.svc.cluster.local', { ISTIO_VERSION: '1.17.8' }),
    // Port 80 has no service: its configuration carries the VirtualService's hosts (Istio's port-80 case).
    ['80', '9080'],
  );
  return [...gateway, ...sidecar];
}

test('every generated RouteConfiguration round-trips through the Envoy proto without losing fields', () => {
  const all = everyConfig();
  assert.deepEqual(
    all.map((c) => c['name']),
    ['http.80', 'https.443.https.gw.istio-system', '80', '9080'],
  );
  let routeCount = 0;
  for (const config of all) {
    const result = roundTrip(TYPE.RouteConfiguration, config);
    const { unloaded, other } = lostInUnloadedTypes(result.lost);
    assert.deepEqual(other, [], `${String(config['name'])} lost fields`);
    // Fields inside the fault and retry-priority Any values are only excused while their protos are not loaded.
    for (const p of unloaded) assert.match(p, /typedPerFilterConfig|retryPriority/);
    assertSameKeyOrder(config, result.json, '');
    for (const v of config['virtualHosts'] as Json[])
      routeCount += ((v['routes'] as Json[] | undefined) ?? []).length;
  }
  // The feature-rich route really was generated everywhere (gateway: 2 servers, sidecar: ports 80 and 9080).
  assert.ok(routeCount >= 12, `routes generated: ${routeCount}`);
  const gatewayRoute = ((all[0]?.['virtualHosts'] as Json[])[0]?.['routes'] as Json[])[0] as Json;
  assert.equal(gatewayRoute['name'], 'matched.m');
  for (const field of [
    'typedPerFilterConfig',
    'requestHeadersToAdd',
    'responseHeadersToRemove',
    'statPrefix',
  ]) {
    assert.ok(field in gatewayRoute, `${field} generated`);
  }
  const action = gatewayRoute['route'] as Json;
  for (const field of [
    'weightedClusters',
    'prefixRewrite',
    'hostRewriteLiteral',
    'requestMirrorPolicies',
    'hashPolicy',
    'cors',
  ]) {
    assert.ok(field in action, `${field} generated`);
  }
});
