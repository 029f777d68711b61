import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRegistry } from '../src/registry/index.js';
import { CATALOG, CATALOG_PODS, docs, NAMESPACE, snapshotOf } from './registry-fixtures.js';

const OTHER = `apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels: { team: old }
---
apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: legacy
spec:
  selector: { app: catalog }
  ports: [{ name: http, port: 80 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: old
  namespace: legacy
  labels: { app: catalog }
spec:
  containers: [{ name: app, image: app }]
status: { podIP: 10.9.9.9, conditions: [{ type: Ready, status: 'True' }] }
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: old-api
  namespace: legacy
spec:
  hosts: [old.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: nowhere
  namespace: unlisted
spec:
  hosts: [unlisted.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
`;

const ALL = docs(NAMESPACE, CATALOG, CATALOG_PODS, OTHER);

test('without discoverySelectors every namespace is visible; services are sorted by hostname', () => {
  const registry = buildRegistry(snapshotOf(ALL));
  assert.deepEqual(
    registry.services().map((s) => s.hostname),
    [
      'catalog.istioinaction.svc.cluster.local',
      'catalog.legacy.svc.cluster.local',
      'old.example.com',
      'unlisted.example.com',
    ],
  );
  assert.ok(registry.workloads().some((w) => w.namespace === 'legacy'));
  assert.ok(registry.isNamespaceVisible('anything'));
});

test('discoverySelectors hide namespaces that no selector picks, and namespaces without a Namespace object', () => {
  const registry = buildRegistry(
    snapshotOf(ALL, { discoverySelectors: [{ matchLabels: { 'istio-injection': 'enabled' } }] }),
  );
  assert.deepEqual(
    registry.services().map((s) => s.hostname),
    ['catalog.istioinaction.svc.cluster.local'],
  );
  assert.ok(registry.workloads().every((w) => w.namespace === 'istioinaction'));
  assert.equal(registry.serviceByHost('old.example.com'), undefined);
  assert.ok(!registry.isNamespaceVisible('legacy'));
  assert.ok(!registry.isNamespaceVisible('unlisted'));
  assert.ok(registry.isNamespaceVisible('istioinaction'));
});

test('discoverySelectors are ORed; matchExpressions work; a malformed selector leaves everything visible', () => {
  const ored = buildRegistry(
    snapshotOf(ALL, {
      discoverySelectors: [
        { matchLabels: { 'istio-injection': 'enabled' } },
        { matchExpressions: [{ key: 'team', operator: 'In', values: ['old', 'new'] }] },
      ],
    }),
  );
  assert.deepEqual(
    ored.services().map((s) => s.hostname),
    ['catalog.istioinaction.svc.cluster.local', 'catalog.legacy.svc.cluster.local', 'old.example.com'],
  );
  const notIn = buildRegistry(
    snapshotOf(ALL, {
      discoverySelectors: [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }],
    }),
  );
  assert.ok(notIn.isNamespaceVisible('istioinaction'));
  assert.ok(!notIn.isNamespaceVisible('legacy'));

  const malformed = buildRegistry(
    snapshotOf(ALL, { discoverySelectors: [{ matchExpressions: [{ key: 'team', operator: 'Sometimes' }] }] }),
  );
  assert.equal(malformed.services().length, 4);
  // An empty selector selects every namespace that has a Namespace object.
  const empty = buildRegistry(snapshotOf(ALL, { discoverySelectors: [{}] }));
  assert.equal(empty.services().length, 3);
});

test('serviceByHost: exportTo decides visibility from a namespace, the own namespace is preferred', () => {
  const entry = (ns: string, exportTo: string) => `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: shared
  namespace: ${ns}
spec:
  hosts: [shared.example.com]
  exportTo: ${exportTo}
  ports: [{ number: 80, name: http, protocol: HTTP }]
`;
  const registry = buildRegistry(
    snapshotOf(docs(entry('a', "['*']"), entry('b', "['.']"), entry('c', "['~']"))),
  );
  assert.equal(registry.serviceByHost('shared.example.com')?.namespace, 'a');
  assert.equal(registry.serviceByHost('shared.example.com', 'b')?.namespace, 'b');
  assert.equal(registry.serviceByHost('shared.example.com', 'c')?.namespace, 'a');
  assert.equal(registry.serviceByHost('shared.example.com', 'z')?.namespace, 'a');
  assert.equal(registry.serviceByHost('missing.example.com'), undefined);

  // The mesh's defaultServiceExportTo applies to services without exportTo.
  const privateByDefault = buildRegistry(
    snapshotOf(docs(NAMESPACE, CATALOG), { defaultServiceExportTo: ['.'] }),
  );
  assert.ok(privateByDefault.serviceByHost('catalog.istioinaction.svc.cluster.local', 'istioinaction'));
  assert.equal(
    privateByDefault.serviceByHost('catalog.istioinaction.svc.cluster.local', 'default'),
    undefined,
  );
});
