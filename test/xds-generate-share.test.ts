import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import {
  buildPushContext,
  generateProxyResources,
  proxyFromNode,
  sidecarInboundKey,
} from '../src/xds/index.js';
import type { Json, ProxyResources } from '../src/xds/index.js';

const CONFIG = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, creationTimestamp: '2024-01-01T00:00:00Z'}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop, creationTimestamp: '2024-01-02T00:00:00Z'}
spec:
  selector: {app: db}
  ports: [{name: tcp, port: 5432, targetPort: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-pod-1, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: web, image: web, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-pod-2, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: web, image: web, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 10.1.0.2}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: strict-one, namespace: shop}
spec:
  selector: {matchLabels: {mtls: strict}}
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-one, namespace: shop}
spec:
  selector: {matchLabels: {authz: deny}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.shop.svc.cluster.local]
  http: [{timeout: 5s, route: [{destination: {host: web.shop.svc.cluster.local}}]}]
`;

function snapshot(): ConfigSnapshot {
  const parsed = parseManifests(CONFIG, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  return new ConfigSnapshot(parsed.resources);
}

interface Variant {
  ip?: string;
  pod?: string;
  labels?: Record<string, string>;
  httpPort?: number;
  sa?: string;
  version?: string;
}

/** A sidecar of namespace shop with no Pod in the config unless `pod` names one. */
function sidecar(v: Variant = {}) {
  const ip = v.ip ?? '10.2.0.1';
  const pod = v.pod ?? `web-${ip.replace(/[.:]/g, '-')}`;
  return proxyFromNode(`sidecar~${ip}~${pod}.shop~shop.svc.cluster.local`, {
    NAMESPACE: 'shop',
    ISTIO_VERSION: v.version ?? '1.17.8',
    LABELS: v.labels ?? { app: 'web' },
    INTERCEPTION_MODE: 'REDIRECT',
    MESH_ID: 'cluster.local',
    SERVICE_ACCOUNT: v.sa ?? 'web',
    POD_PORTS: JSON.stringify([{ name: 'http', containerPort: v.httpPort ?? 8080, protocol: 'TCP' }]),
  });
}

/** The proxy's config as plain JSON. */
const plain = (r: ProxyResources): unknown => JSON.parse(JSON.stringify(r)) as unknown;

/** A generation with a push of its own: nothing memoized from other proxies. */
const fresh = (v: Variant): unknown =>
  plain(generateProxyResources(buildPushContext(snapshot()), sidecar(v)));

/** The inbound half: `virtualInbound` and the inbound clusters. */
function inbound(r: ProxyResources): unknown {
  return plain({
    listeners: r.listeners.filter((l: Json) => l['name'] === 'virtualInbound'),
    clusters: r.clusters.filter(
      (c: Json) => String(c['name']).startsWith('Inbound') || String(c['name']).startsWith('inbound|'),
    ),
  } as unknown as ProxyResources);
}

const BASE: Variant = { ip: '10.2.0.1' };
/** Each differs from BASE in one input the inbound generators read. */
const DIFFERENT: Record<string, Variant> = {
  port: { ip: '10.2.0.3', httpPort: 9090 },
  labels: { ip: '10.2.0.4', labels: { app: 'db' } },
  canonicalName: { ip: '10.2.0.5', labels: { app: 'web', 'service.istio.io/canonical-name': 'webby' } },
  peerAuthentication: { ip: '10.2.0.6', labels: { app: 'web', mtls: 'strict' } },
  authorizationPolicy: { ip: '10.2.0.7', labels: { app: 'web', authz: 'deny' } },
  ipv6: { ip: 'fd00::7' },
  istioVersion: { ip: '10.2.0.8', version: '1.16.0' },
};
/** Differ from BASE only in what the generators do not read for a sidecar. */
const SAME: Record<string, Variant> = {
  ip: { ip: '10.2.0.2' },
  serviceAccount: { ip: '10.2.0.9', sa: 'other' },
};
const PODS: Record<string, Variant> = {
  pod1: { ip: '10.1.0.1', pod: 'web-pod-1', labels: { app: 'web' }, httpPort: 1 },
  pod2: { ip: '10.1.0.2', pod: 'web-pod-2', labels: { app: 'web' }, httpPort: 2 },
};

describe('sidecar config shared between proxies', () => {
  const all: Record<string, Variant> = { base: BASE, ...SAME, ...DIFFERENT, ...PODS };

  it('equals a fresh generation for every proxy, whatever the order of generation', () => {
    const expected = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, fresh(v)]));
    for (const order of [Object.keys(all), Object.keys(all).reverse()]) {
      const push = buildPushContext(snapshot());
      for (const k of order) {
        assert.deepEqual(plain(generateProxyResources(push, sidecar(all[k] ?? {}))), expected[k], k);
      }
    }
  });

  it('hands proxies equal on every input the very same objects', () => {
    const push = buildPushContext(snapshot());
    const a = generateProxyResources(push, sidecar(BASE));
    const b = generateProxyResources(push, sidecar(SAME.ip ?? {}));
    assert.ok(a.shared && b.shared);
    assert.equal(a.shared.listeners, b.shared.listeners);
    assert.equal(a.shared.clusters, b.shared.clusters);
    // The outbound half is the shared leading part; the inbound half follows, the same objects too.
    assert.ok(a.shared.clusters.length < a.clusters.length);
    a.clusters.forEach((c, i) => assert.equal(c, b.clusters[i]));
    a.listeners.forEach((l, i) => assert.equal(l, b.listeners[i]));
    assert.equal(a.listeners.at(-1)?.['name'], 'virtualInbound');
    // The joined lists are shared as well (read-only), and secrets stay each proxy's own.
    assert.equal(a.clusters, b.clusters);
    assert.equal(a.routes, b.routes);
    assert.ok(Object.isFrozen(a.clusters), 'shared lists cannot be changed by one proxy for all');
    assert.notEqual(a.secrets, b.secrets);
    // Two Pods of the same labels and ports, found by name, share too; their inbound cluster is there.
    const p1 = generateProxyResources(push, sidecar(PODS.pod1 ?? {}));
    const p2 = generateProxyResources(push, sidecar(PODS.pod2 ?? {}));
    assert.equal(p1.listeners.at(-1), p2.listeners.at(-1));
    assert.ok(p1.clusters.some((c) => c['name'] === 'inbound|8080||'));
    // A proxy of another inbound key shares the outbound half only.
    const c = generateProxyResources(push, sidecar(DIFFERENT.authorizationPolicy ?? {}));
    assert.equal(c.shared?.clusters, a.shared.clusters);
    assert.notEqual(c.listeners.at(-1), a.listeners.at(-1));
    assert.notEqual(c.listeners, a.listeners);
  });

  it('keys on the inputs the inbound side reads and nothing per pod', () => {
    const push = buildPushContext(snapshot());
    const key = (v: Variant): string => sidecarInboundKey(push, sidecar(v));
    assert.equal(key(SAME.ip ?? {}), key(BASE));
    assert.equal(key(SAME.serviceAccount ?? {}), key(BASE));
    assert.equal(key(PODS.pod1 ?? {}), key(PODS.pod2 ?? {}));
    for (const [name, v] of Object.entries(DIFFERENT)) assert.notEqual(key(v), key(BASE), name);
  });

  it('gives different inbound config for a change of any keyed input', () => {
    const push = buildPushContext(snapshot());
    const base = inbound(generateProxyResources(push, sidecar(BASE)));
    assert.deepEqual(inbound(generateProxyResources(push, sidecar(SAME.serviceAccount ?? {}))), base);
    for (const [name, v] of Object.entries(DIFFERENT)) {
      assert.notDeepEqual(inbound(generateProxyResources(push, sidecar(v))), base, name);
    }
  });

  it('follows the config: a PeerAuthentication or AuthorizationPolicy that appears changes the output', () => {
    const before = plain(generateProxyResources(buildPushContext(snapshot()), sidecar(BASE)));
    const withPolicy = (extra: string): unknown => {
      const parsed = parseManifests(`${CONFIG}\n---\n${extra}`, 'test.yaml');
      const push = buildPushContext(new ConfigSnapshot(parsed.resources));
      // Memoized once for the BASE key, then read for a second pod of the same key.
      generateProxyResources(push, sidecar(BASE));
      return plain(generateProxyResources(push, sidecar(SAME.ip ?? {})));
    };
    const pa = withPolicy(`apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: all-strict, namespace: shop}
spec: {mtls: {mode: STRICT}}`);
    const authz = withPolicy(`apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{to: [{operation: {methods: [GET]}}]}]`);
    assert.notDeepEqual(pa, before);
    assert.notDeepEqual(authz, before);
    assert.ok(JSON.stringify(authz).includes('"name":"envoy.filters.http.rbac"'));
    assert.ok(!JSON.stringify(before).includes('"name":"envoy.filters.http.rbac"'));
  });
});
