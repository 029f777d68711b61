import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRegistry, isServiceVisibleTo, PROTOCOL, UNSPECIFIED_IP } from '../src/registry/index.js';
import { CATALOG, docs, NAMESPACE, snapshotOf } from './registry-fixtures.js';

test('a Kubernetes Service becomes a service named name.ns.svc.cluster.local', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG)));
  const [svc, ...rest] = registry.services();
  assert.equal(rest.length, 0);
  assert.ok(svc);
  assert.equal(svc.hostname, 'catalog.istioinaction.svc.cluster.local');
  assert.equal(svc.name, 'catalog');
  assert.equal(svc.namespace, 'istioinaction');
  assert.equal(svc.registry, 'Kubernetes');
  assert.equal(svc.defaultAddress, '10.96.0.20');
  assert.deepEqual(svc.addresses, ['10.96.0.20']);
  assert.deepEqual(svc.ports, [{ name: 'http', port: 80, protocol: PROTOCOL.HTTP, targetPort: 3000 }]);
  assert.deepEqual(svc.labels, { app: 'catalog' });
  assert.deepEqual(svc.selector, { app: 'catalog' });
  assert.deepEqual(svc.exportTo, []);
  assert.equal(svc.meshExternal, false);
  assert.equal(svc.resolution, 'ClientSideLB');
  assert.equal(svc.kubeType, 'ClusterIP');
});

test('Kubernetes Service variants: exportTo annotation, headless, ExternalName, no selector, dual stack', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: shop
  annotations:
    networking.istio.io/exportTo: ".,payments"
spec:
  clusterIP: 10.96.0.30
  clusterIPs: [10.96.0.30, "fd00::30"]
  ports:
    - port: 8080
      targetPort: http-api
    - name: grpc-x
      port: 9090
      appProtocol: http
---
apiVersion: v1
kind: Service
metadata:
  name: headless
  namespace: shop
spec:
  clusterIP: None
  selector: { app: db }
  ports:
    - name: tcp
      port: 5432
---
apiVersion: v1
kind: Service
metadata:
  name: ext
  namespace: shop
spec:
  type: ExternalName
  externalName: api.example.com
  ports:
    - name: https
      port: 443
`),
  );
  const byName = new Map(registry.services().map((s) => [s.name, s]));
  const priv = byName.get('private');
  assert.ok(priv);
  assert.deepEqual(priv.exportTo, ['.', 'payments']);
  assert.deepEqual(priv.addresses, ['10.96.0.30', 'fd00::30']);
  assert.equal(priv.selector, undefined);
  assert.deepEqual(priv.ports, [
    { name: '', port: 8080, protocol: PROTOCOL.Unsupported, targetPort: 'http-api' },
    { name: 'grpc-x', port: 9090, protocol: PROTOCOL.HTTP },
  ]);
  assert.ok(isServiceVisibleTo(priv, 'shop'));
  assert.ok(isServiceVisibleTo(priv, 'payments'));
  assert.ok(!isServiceVisibleTo(priv, 'other'));

  const headless = byName.get('headless');
  assert.equal(headless?.resolution, 'Passthrough');
  assert.equal(headless?.defaultAddress, UNSPECIFIED_IP);
  assert.deepEqual(headless?.addresses, []);

  const ext = byName.get('ext');
  assert.equal(ext?.resolution, 'DNSLB');
  assert.equal(ext?.meshExternal, true);
  assert.equal(ext?.externalName, 'api.example.com');
  assert.equal(ext?.kubeType, 'ExternalName');
});

const SERVICE_ENTRY = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: payments
  namespace: istioinaction
  labels:
    team: pay
spec:
  hosts:
    - payments.example.com
    - pay.example.com
  addresses:
    - 240.0.0.10/32
    - 240.0.1.0/24
    - not-an-ip
  ports:
    - number: 443
      name: https
      protocol: HTTPS
    - number: 8080
      name: http-api
      protocol: http
      targetPort: 9080
    - number: 9000
      name: whatever
  location: MESH_INTERNAL
  resolution: STATIC
  exportTo: ['.']
  subjectAltNames: ['spiffe://cluster.local/ns/istioinaction/sa/payments']
  workloadSelector:
    labels:
      app: payments
`;

test('a ServiceEntry becomes one service per host', () => {
  const registry = buildRegistry(snapshotOf(SERVICE_ENTRY));
  const services = registry.services();
  assert.deepEqual(
    services.map((s) => s.hostname),
    ['pay.example.com', 'payments.example.com'],
  );
  const svc = services[1];
  assert.ok(svc);
  assert.equal(svc.registry, 'External');
  assert.equal(svc.name, 'payments.example.com');
  assert.equal(svc.namespace, 'istioinaction');
  // /32 becomes a plain IP; other CIDRs stay; what is neither is dropped.
  assert.deepEqual(svc.addresses, ['240.0.0.10', '240.0.1.0/24']);
  assert.equal(svc.defaultAddress, '240.0.0.10');
  assert.deepEqual(svc.ports, [
    { name: 'https', port: 443, protocol: PROTOCOL.HTTPS },
    { name: 'http-api', port: 8080, protocol: PROTOCOL.HTTP, targetPort: 9080 },
    // ServiceEntry ports take their protocol from `protocol` only, never from the name.
    { name: 'whatever', port: 9000, protocol: PROTOCOL.Unsupported },
  ]);
  assert.equal(svc.meshExternal, false);
  assert.equal(svc.resolution, 'ClientSideLB');
  assert.deepEqual(svc.exportTo, ['.']);
  assert.deepEqual(svc.selector, { app: 'payments' });
  assert.deepEqual(svc.labels, { team: 'pay' });
  assert.deepEqual(svc.serviceAccounts, ['spiffe://cluster.local/ns/istioinaction/sa/payments']);
  assert.ok(isServiceVisibleTo(svc, 'istioinaction'));
  assert.ok(!isServiceVisibleTo(svc, 'default'));
});

test('ServiceEntry defaults: MESH_EXTERNAL, NONE resolution, no address; all-invalid addresses yield nothing', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: ext
  namespace: default
spec:
  hosts: [api.example.com]
  ports:
    - number: 443
      name: tls
      protocol: TLS
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: broken
  namespace: default
spec:
  hosts: [broken.example.com]
  addresses: [nope]
`),
  );
  assert.deepEqual(
    registry.services().map((s) => s.hostname),
    ['api.example.com'],
  );
  const svc = registry.services()[0];
  assert.equal(svc?.meshExternal, true);
  assert.equal(svc?.resolution, 'Passthrough');
  assert.equal(svc?.defaultAddress, UNSPECIFIED_IP);
  assert.equal(svc?.selector, undefined);
});

test('malformed Services and ServiceEntries do not crash the registry', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: v1
kind: Service
metadata:
  name: odd
  namespace: default
spec:
  clusterIP: 7
  selector: [a, b]
  ports: [null, {port: "x"}, {port: 81, name: 5, targetPort: ""}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: odd
  namespace: default
spec:
  hosts: [odd.example.com, 5]
  ports: "nope"
  workloadSelector: 3
---
apiVersion: v1
kind: Service
metadata:
  name: nospec
  namespace: default
`),
  );
  const odd = registry.serviceByHost('odd.default.svc.cluster.local');
  assert.ok(odd);
  assert.deepEqual(odd.ports, [{ name: '', port: 81, protocol: PROTOCOL.Unsupported }]);
  assert.equal(odd.selector, undefined);
  assert.equal(odd.defaultAddress, UNSPECIFIED_IP);
  const se = registry.serviceByHost('odd.example.com');
  assert.deepEqual(se?.ports, []);
  assert.equal(se?.selector, undefined);
  assert.ok(registry.serviceByHost('nospec.default.svc.cluster.local'));
  assert.equal(registry.endpoints(odd, 81).length, 0);
});
