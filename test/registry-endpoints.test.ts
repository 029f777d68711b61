import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../src/registry/index.js';
import { buildRegistry } from '../src/registry/index.js';
import { CATALOG, CATALOG_PODS, docs, NAMESPACE, snapshotOf } from './registry-fixtures.js';

function summary(e: Endpoint): string {
  return `${e.address}:${e.port} ${e.health} ${e.tlsMode}`;
}

const CATALOG_HOST = 'catalog.istioinaction.svc.cluster.local';

test('catalog endpoints: ready pods on the target port; not-ready ones only on request', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG, CATALOG_PODS)));
  const svc = registry.serviceByHost(CATALOG_HOST);
  assert.ok(svc);
  const endpoints = registry.endpoints(svc, 80);
  assert.deepEqual(endpoints.map(summary), [
    '10.244.0.11:3000 HEALTHY istio',
    '10.244.0.12:3000 HEALTHY istio',
  ]);
  const v1 = endpoints[0];
  assert.ok(v1);
  assert.equal(v1.servicePortName, 'http');
  assert.equal(v1.serviceAccount, 'spiffe://cluster.local/ns/istioinaction/sa/catalog');
  assert.equal(v1.locality, 'eu-west1/eu-west1-b/');
  assert.equal(v1.workloadName, 'catalog');
  assert.equal(v1.namespace, 'istioinaction');
  assert.equal(v1.labels['version'], 'v1');
  assert.equal(v1.labels['topology.kubernetes.io/zone'], 'eu-west1-b');
  assert.equal(v1.labels['topology.istio.io/cluster'], 'Kubernetes');
  assert.equal(v1.workload?.name, 'catalog-6cf4b97d-abcde');

  assert.deepEqual(registry.endpoints(svc, 80, { includeUnhealthy: true }).map(summary), [
    '10.244.0.11:3000 HEALTHY istio',
    '10.244.0.12:3000 HEALTHY istio',
    '10.244.0.13:3000 UNHEALTHY istio',
  ]);
  // 3000 is the target port, not a service port.
  assert.deepEqual(registry.endpoints(svc, 3000), []);
});

test('catalog without Pods: stand-in endpoints only on request, without addresses', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG)));
  const svc = registry.serviceByHost(CATALOG_HOST);
  assert.ok(svc);
  assert.deepEqual(registry.endpoints(svc, 80), []);
  const synthetic = registry.endpoints(svc, 80, { includeSynthetic: true });
  assert.deepEqual(
    synthetic.map((e) => `${e.workload?.name} '${e.address}':${e.port} ${e.tlsMode}`),
    [
      "catalog-offline-0 '':3000 istio",
      "catalog-v2-offline-0 '':3000 istio",
      "catalog-v2-offline-1 '':3000 istio",
    ],
  );
  assert.ok(synthetic.every((e) => e.synthetic));
});

test('named targetPorts resolve against container port names; pods without the name are left out', () => {
  const registry = buildRegistry(
    snapshotOf(
      docs(
        CATALOG_PODS,
        `apiVersion: v1
kind: Service
metadata:
  name: named
  namespace: istioinaction
spec:
  selector: { app: catalog }
  ports:
    - name: http
      port: 8080
      targetPort: http
    - name: tcp-admin
      port: 9000
      targetPort: admin
    - name: udp-dns
      port: 53
      protocol: UDP
      targetPort: http
    - name: http-default
      port: 7070
`,
      ),
    ),
  );
  const svc = registry.serviceByHost('named.istioinaction.svc.cluster.local');
  assert.ok(svc);
  assert.deepEqual(
    registry.endpoints(svc, 8080).map((e) => `${e.address}:${e.port}`),
    ['10.244.0.11:3000', '10.244.0.12:3000'],
  );
  assert.deepEqual(registry.endpoints(svc, 9000), []);
  // The container port named http is TCP, so a UDP service port does not match it.
  assert.deepEqual(registry.endpoints(svc, 53), []);
  // No targetPort: the service port itself.
  assert.deepEqual(
    registry.endpoints(svc, 7070).map((e) => e.port),
    [7070, 7070],
  );
});

const WORKLOAD_ENTRY = `apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: catalog-vm
  namespace: istioinaction
spec:
  address: 192.168.1.20
  labels: { app: catalog, version: vm }
  serviceAccount: catalog-vm
  ports: { http: 8080 }
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: catalog-dns
  namespace: istioinaction
spec:
  address: catalog-vm.internal
  labels: { app: catalog }
`;

test('Kubernetes Services also select WorkloadEntries with IP addresses (named port from the entry)', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG, CATALOG_PODS, WORKLOAD_ENTRY)));
  const svc = registry.serviceByHost(CATALOG_HOST);
  assert.ok(svc);
  const endpoints = registry.endpoints(svc, 80);
  assert.deepEqual(endpoints.map(summary), [
    '10.244.0.11:3000 HEALTHY istio',
    '10.244.0.12:3000 HEALTHY istio',
    '192.168.1.20:8080 HEALTHY istio',
  ]);
  assert.equal(endpoints[2]?.serviceAccount, 'spiffe://cluster.local/ns/istioinaction/sa/catalog-vm');
  assert.equal(endpoints[2]?.workloadName, 'catalog-vm');

  // A headless Service gets the Pods but not the WorkloadEntries.
  const headless = buildRegistry(
    snapshotOf(
      docs(CATALOG.replace('clusterIP: 10.96.0.20', 'clusterIP: None'), CATALOG_PODS, WORKLOAD_ENTRY),
    ),
  );
  const headlessSvc = headless.serviceByHost(CATALOG_HOST);
  assert.ok(headlessSvc);
  assert.deepEqual(
    headless.endpoints(headlessSvc, 80).map((e) => e.address),
    ['10.244.0.11', '10.244.0.12'],
  );
});

test('ServiceEntry endpoints: inline, by workloadSelector, and DNS self-resolution', () => {
  const registry = buildRegistry(
    snapshotOf(
      docs(
        CATALOG_PODS,
        WORKLOAD_ENTRY,
        `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: inline
  namespace: istioinaction
spec:
  hosts: [inline.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP, targetPort: 8000 }
  endpoints:
    - address: 10.1.0.1
      ports: { http: 9999 }
      labels: { security.istio.io/tlsMode: istio }
    - address: 10.1.0.2
      serviceAccount: legacy
      locality: eu/west
    - address: unix:///var/run/app.sock
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: selected
  namespace: istioinaction
spec:
  hosts: [catalog.mesh]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP }
  workloadSelector:
    labels: { app: catalog }
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: dns
  namespace: istioinaction
spec:
  hosts: [api.example.com]
  resolution: DNS
  ports:
    - { number: 443, name: tls, protocol: TLS }
`,
      ),
    ),
  );
  const inline = registry.serviceByHost('inline.example.com');
  assert.ok(inline);
  const inlineEndpoints = registry.endpoints(inline, 80);
  assert.deepEqual(inlineEndpoints.map(summary), [
    '/var/run/app.sock:0 HEALTHY disabled',
    '10.1.0.1:9999 HEALTHY istio',
    '10.1.0.2:8000 HEALTHY istio',
  ]);
  assert.equal(inlineEndpoints[2]?.serviceAccount, 'spiffe://cluster.local/ns/istioinaction/sa/legacy');
  assert.equal(inlineEndpoints[2]?.locality, 'eu/west');
  assert.equal(inlineEndpoints[2]?.labels['topology.kubernetes.io/region'], 'eu');

  const selected = registry.serviceByHost('catalog.mesh');
  assert.ok(selected);
  // Pods use their container port named like the service port; the entry its ports map; else the port.
  assert.deepEqual(
    registry.endpoints(selected, 80).map((e) => `${e.address}:${e.port}`),
    ['10.244.0.11:3000', '10.244.0.12:3000', '192.168.1.20:8080', 'catalog-vm.internal:80'],
  );

  const dns = registry.serviceByHost('api.example.com');
  assert.ok(dns);
  assert.deepEqual(registry.endpoints(dns, 443).map(summary), ['api.example.com:443 HEALTHY disabled']);
  assert.deepEqual(registry.endpoints(dns, 80), []);
});

test('ExternalName services resolve to the aliased name', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: v1
kind: Service
metadata:
  name: ext
  namespace: default
  labels: { app: ext }
spec:
  type: ExternalName
  externalName: api.example.com
  ports: [{ name: https, port: 443 }]
`),
  );
  const svc = registry.services()[0];
  assert.ok(svc);
  const [e, ...rest] = registry.endpoints(svc, 443);
  assert.equal(rest.length, 0);
  assert.equal(e?.address, 'api.example.com');
  assert.equal(e?.port, 443);
  assert.deepEqual(e?.labels, { app: 'ext' });
});
