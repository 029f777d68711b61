import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRegistry, MAX_SYNTHETIC_REPLICAS } from '../src/registry/index.js';
import { CATALOG, CATALOG_PODS, docs, NAMESPACE, snapshotOf } from './registry-fixtures.js';

test('Pods become workloads with IP, labels, identity, readiness, tlsMode, locality and owner', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG, CATALOG_PODS)));
  const workloads = registry.workloads();
  // Deployments that have Pods get no stand-ins.
  assert.deepEqual(
    workloads.map((w) => `${w.kind} ${w.name} ${w.address ?? '-'} ready=${w.ready}`),
    [
      'Pod catalog-6cf4b97d-abcde 10.244.0.11 ready=true',
      'Pod catalog-v2-7f8c9d-fghij 10.244.0.12 ready=true',
      'Pod catalog-v2-7f8c9d-klmno 10.244.0.13 ready=false',
    ],
  );
  const v1 = workloads[0];
  assert.ok(v1);
  assert.equal(v1.namespace, 'istioinaction');
  assert.equal(v1.labels['version'], 'v1');
  assert.equal(v1.serviceAccount, 'catalog');
  assert.equal(v1.identity, 'spiffe://cluster.local/ns/istioinaction/sa/catalog');
  assert.equal(v1.tlsMode, 'istio');
  assert.equal(v1.locality, 'eu-west1/eu-west1-b/');
  assert.equal(v1.workloadName, 'catalog');
  assert.deepEqual(v1.portMap, { http: 3000 });
  assert.equal(v1.synthetic, false);
  assert.equal(workloads[1]?.workloadName, 'catalog-v2');
  assert.equal(workloads[1]?.locality, '');
});

test('Pod tlsMode: the label, else an istio-proxy container, else disabled; finished Pods are not workloads', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: v1
kind: Pod
metadata:
  name: plain
  namespace: default
spec:
  containers: [{ name: app, image: app }]
status: { podIP: 10.0.0.1 }
---
apiVersion: v1
kind: Pod
metadata:
  name: sidecar
  namespace: default
  labels: { istio-locality: us.east.a }
spec:
  serviceAccount: legacy
  containers: [{ name: app, image: app }, { name: istio-proxy, image: proxyv2 }]
status: { podIP: 10.0.0.2, conditions: [{ type: Ready, status: 'True' }] }
---
apiVersion: v1
kind: Pod
metadata:
  name: optout
  namespace: default
  labels: { security.istio.io/tlsMode: disabled }
spec:
  containers: [{ name: istio-proxy, image: proxyv2 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: done
  namespace: default
spec:
  containers: [{ name: app, image: app }]
status: { phase: Succeeded, podIP: 10.0.0.9 }
`),
  );
  const byName = new Map(registry.workloads().map((w) => [w.name, w]));
  assert.deepEqual([...byName.keys()], ['optout', 'plain', 'sidecar']);
  assert.equal(byName.get('plain')?.tlsMode, 'disabled');
  assert.equal(byName.get('plain')?.ready, false);
  assert.equal(byName.get('plain')?.serviceAccount, 'default');
  assert.equal(byName.get('sidecar')?.tlsMode, 'istio');
  assert.equal(byName.get('sidecar')?.serviceAccount, 'legacy');
  assert.equal(byName.get('sidecar')?.locality, 'us/east/a');
  assert.equal(byName.get('optout')?.tlsMode, 'disabled');
  assert.equal(byName.get('optout')?.address, undefined);
});

test('Deployments without Pods get address-less stand-ins, one per replica', () => {
  const registry = buildRegistry(snapshotOf(docs(NAMESPACE, CATALOG)));
  const workloads = registry.workloads();
  assert.deepEqual(
    workloads.map((w) => w.name),
    ['catalog-offline-0', 'catalog-v2-offline-0', 'catalog-v2-offline-1'],
  );
  for (const w of workloads) {
    assert.equal(w.kind, 'Deployment');
    assert.equal(w.synthetic, true);
    assert.equal(w.address, undefined);
    assert.equal(w.ready, true);
    // The namespace has istio-injection=enabled, so the pods will get a sidecar.
    assert.equal(w.tlsMode, 'istio');
    assert.equal(w.identity, 'spiffe://cluster.local/ns/istioinaction/sa/catalog');
  }
  assert.equal(workloads[1]?.workloadName, 'catalog-v2');
  assert.equal(workloads[1]?.labels['version'], 'v2');

  // Without the injection label no sidecar is predicted; a Pod of v1 removes only v1's stand-in.
  const onlyV1Pod = CATALOG_PODS.split('---\n')[0] ?? '';
  const noInjection = buildRegistry(snapshotOf(docs(CATALOG, onlyV1Pod)));
  assert.deepEqual(
    noInjection.workloads().map((w) => `${w.name} ${w.tlsMode}`),
    ['catalog-6cf4b97d-abcde istio', 'catalog-v2-offline-0 disabled', 'catalog-v2-offline-1 disabled'],
  );
});

test('stand-ins: replicas 0 gives none, absent gives one, huge values are capped, bad selectors give none', () => {
  const deployment = (
    name: string,
    replicas: string,
    selector = '{ matchLabels: { app: x } }',
  ) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: default
spec:
  ${replicas}
  selector: ${selector}
  template:
    metadata: { labels: { app: x } }
    spec: { containers: [{ name: x, image: x }] }
`;
  const registry = buildRegistry(
    snapshotOf(
      docs(
        deployment('zero', 'replicas: 0'),
        deployment('absent', ''),
        deployment('huge', 'replicas: 100000000'),
        deployment('bad', 'replicas: 3', '{ matchExpressions: [{ key: app, operator: Near }] }'),
      ),
    ),
  );
  const counts = new Map<string, number>();
  for (const w of registry.workloads()) counts.set(w.workloadName, (counts.get(w.workloadName) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { absent: 1, huge: MAX_SYNTHETIC_REPLICAS });
});

test('WorkloadEntries become workloads', () => {
  const registry = buildRegistry(
    snapshotOf(`apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: vm-1
  namespace: istioinaction
spec:
  address: 192.168.1.20
  labels: { app: catalog, version: vm }
  serviceAccount: catalog-vm
  locality: us-east1/us-east1-c
  network: vpc-1
  weight: 3
  ports: { http: 8080 }
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: vm-2
  namespace: istioinaction
spec:
  address: vm2.internal
  labels: { app: catalog }
status:
  conditions: [{ type: Healthy, status: 'False' }]
`),
  );
  const [vm1, vm2] = registry.workloads();
  assert.ok(vm1 && vm2);
  assert.equal(vm1.kind, 'WorkloadEntry');
  assert.equal(vm1.address, '192.168.1.20');
  assert.deepEqual(vm1.labels, { app: 'catalog', version: 'vm' });
  assert.equal(vm1.identity, 'spiffe://cluster.local/ns/istioinaction/sa/catalog-vm');
  // A service account implies a sidecar on the VM.
  assert.equal(vm1.tlsMode, 'istio');
  assert.equal(vm1.locality, 'us-east1/us-east1-c');
  assert.equal(vm1.network, 'vpc-1');
  assert.equal(vm1.weight, 3);
  assert.deepEqual(vm1.portMap, { http: 8080 });
  assert.equal(vm1.ready, true);
  assert.equal(vm2.tlsMode, 'disabled');
  assert.equal(vm2.identity, '');
  assert.equal(vm2.ready, false);
});
