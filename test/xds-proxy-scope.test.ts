import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Proxy } from '../src/xds/index.js';
import {
  ProxyNodeError,
  buildPushContext,
  generateProxyResources,
  hostMatchesPattern,
  proxyForWorkload,
  proxyFromNode,
  sidecarScopeFor,
} from '../src/xds/index.js';

test('proxyFromNode parses an Istio sidecar node id and its metadata', () => {
  const p = proxyFromNode(
    'sidecar~10.10.0.7~catalog-6cf4b97d-7d6gb.istioinaction~istioinaction.svc.cluster.local',
    {
      LABELS: { app: 'catalog', version: 'v1', bad: 3 },
      ISTIO_VERSION: '1.17.8',
      CLUSTER_ID: 'Kubernetes',
      INSTANCE_IPS: '10.10.0.7,fd00::7',
      WORKLOAD_NAME: 'catalog',
    },
  );
  assert.equal(p.type, 'sidecar');
  assert.equal(p.name, 'catalog-6cf4b97d-7d6gb.istioinaction');
  assert.equal(p.namespace, 'istioinaction');
  assert.equal(p.dnsDomain, 'istioinaction.svc.cluster.local');
  assert.deepEqual(p.ipAddresses, ['10.10.0.7', 'fd00::7']);
  assert.deepEqual(p.labels, { app: 'catalog', version: 'v1' });
  assert.equal(p.istioVersion, '1.17.8');
  assert.equal(p.workloadName, 'catalog');
});

test('proxyFromNode names what is wrong with a bad node id', () => {
  assert.throws(
    () => proxyFromNode('sidecar~10.0.0.1~pod'),
    (e: unknown) => {
      assert.ok(e instanceof ProxyNodeError);
      assert.match(e.message, /must have 4 parts/);
      return true;
    },
  );
  assert.throws(
    () => proxyFromNode('waypoint~10.0.0.1~a.b~b.svc.cluster.local'),
    /unknown proxy type "waypoint"/,
  );
  assert.throws(() => proxyFromNode('router~~a.b~b.svc.cluster.local'), /empty IP/);
  assert.throws(() => proxyFromNode('router~10.0.0.1~nodots~x'), /<pod>.<namespace>/);
  // NAMESPACE metadata supplies the namespace when the id has none.
  assert.equal(
    proxyFromNode('router~10.0.0.1~gw~x', { NAMESPACE: 'istio-system' }).namespace,
    'istio-system',
  );
});

test('hostMatchesPattern follows Istio wildcard rules', () => {
  assert.ok(hostMatchesPattern('a.b.svc.cluster.local', '*'));
  assert.ok(hostMatchesPattern('a.b.svc.cluster.local', '*.svc.cluster.local'));
  assert.ok(!hostMatchesPattern('a.b.svc.cluster.local', '*.example.com'));
  assert.ok(hostMatchesPattern('*.example.com', '*.com'));
  assert.ok(hostMatchesPattern('*.example.com', 'www.example.com'));
  assert.ok(!hostMatchesPattern('a.example.com', 'b.example.com'));
});

const MESH = `
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec: {selector: {app: catalog}, ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: billing, namespace: money}
spec: {selector: {app: billing}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: private, namespace: money, annotations: {networking.istio.io/exportTo: "."}}
spec: {selector: {app: private}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: sleep-1, namespace: shop, labels: {app: sleep}}
spec: {containers: [{name: sleep, image: sleep}]}
status: {podIP: 10.10.0.9, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: billing, namespace: money}
spec: {hosts: [billing.money.svc.cluster.local], http: [{route: [{destination: {host: billing.money.svc.cluster.local}}]}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: edge-only, namespace: money}
spec: {hosts: [billing.example.com], gateways: [edge], http: [{route: [{destination: {host: billing}}]}]}
`;

function sleepProxy(yaml: string): { proxy: Proxy; push: ReturnType<typeof buildPushContext> } {
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'mesh.yaml').resources));
  const workload = push.registry.workloads().find((w) => w.name === 'sleep-1');
  assert.ok(workload);
  return { proxy: proxyForWorkload(workload), push };
}

test('without a Sidecar a proxy imports every exported service and mesh VirtualService', () => {
  const { proxy, push } = sleepProxy(MESH);
  assert.equal(proxy.id, 'sidecar~10.10.0.9~sleep-1.shop~shop.svc.cluster.local');
  const scope = sidecarScopeFor(push, proxy);
  assert.equal(scope.sidecar, undefined);
  assert.deepEqual(
    scope.services.map((s) => s.hostname),
    ['billing.money.svc.cluster.local', 'catalog.shop.svc.cluster.local'],
  );
  assert.deepEqual(
    scope.virtualServices.map((v) => v.metadata.name),
    ['billing'],
  );
  assert.equal(scope.outboundTrafficPolicy, 'ALLOW_ANY');
});

test('a namespace Sidecar limits imports to its egress hosts and sets the outbound policy', () => {
  const { proxy, push } = sleepProxy(
    MESH +
      `---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress: [{hosts: ["./*", "istio-system/*"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`,
  );
  const scope = sidecarScopeFor(push, proxy);
  assert.equal(scope.sidecar?.metadata.name, 'default');
  assert.deepEqual(
    scope.services.map((s) => s.hostname),
    ['catalog.shop.svc.cluster.local'],
  );
  assert.deepEqual(scope.virtualServices, []);
  assert.equal(scope.outboundTrafficPolicy, 'REGISTRY_ONLY');
  const resources = generateProxyResources(push, proxy);
  const names = resources.clusters.map((c) => String(c['name']));
  assert.ok(!names.some((n) => n.includes('billing')), names.join(','));
});

test('a workload-selecting Sidecar wins over the namespace default, and the root namespace is the fallback', () => {
  const base =
    MESH +
    `---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: mesh-default, namespace: istio-system}
spec: {egress: [{hosts: ["money/*"]}]}
`;
  let { proxy, push } = sleepProxy(base);
  assert.equal(sidecarScopeFor(push, proxy).sidecar?.metadata.name, 'mesh-default');
  assert.deepEqual(
    sidecarScopeFor(push, proxy).services.map((s) => s.name),
    ['billing'],
  );
  ({ proxy, push } = sleepProxy(
    base +
      `---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: for-sleep, namespace: shop}
spec: {workloadSelector: {labels: {app: sleep}}, egress: [{hosts: ["~/*"]}]}
---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: ns-default, namespace: shop}
spec: {egress: [{hosts: ["*/*"]}]}
`,
  ));
  const scope = sidecarScopeFor(push, proxy);
  assert.equal(scope.sidecar?.metadata.name, 'for-sleep');
  assert.deepEqual(scope.services, []);
});
