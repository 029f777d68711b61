import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { buildRegistry } from '../src/registry/index.js';
import type { Json } from '../src/xds/index.js';
import { buildClusterLoadAssignments, roundTrip, TYPE } from '../src/xds/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOST = 'catalog.istioinaction.svc.cluster.local';
const V1 = `outbound|80|version-v1|${HOST}`;
const V2 = `outbound|80|version-v2|${HOST}`;
const ALL = `outbound|80||${HOST}`;

/** A running, ready, injected catalog pod owned by the Deployment's ReplicaSet. */
function pod(
  name: string,
  deployment: string,
  hash: string,
  version: string,
  ip: string,
  ready = true,
): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: istioinaction
  labels: { app: catalog, version: ${version}, pod-template-hash: ${hash} }
  ownerReferences:
    - { apiVersion: apps/v1, kind: ReplicaSet, name: ${deployment}-${hash}, controller: true }
spec:
  serviceAccountName: catalog
  containers:
    - name: catalog
      ports: [{ containerPort: 3000, name: http, protocol: TCP }]
    - name: istio-proxy
status:
  phase: Running
  podIP: ${ip}
  conditions: [{ type: Ready, status: '${ready ? 'True' : 'False'}' }]
`;
}

const PODS = [
  pod('catalog-6cf4b97d-abcde', 'catalog', '6cf4b97d', 'v1', '10.10.0.12'),
  pod('catalog-v2-5d8d9f7c-fghij', 'catalog-v2', '5d8d9f7c', 'v2', '10.10.0.13'),
  pod('catalog-v2-5d8d9f7c-klmno', 'catalog-v2', '5d8d9f7c', 'v2', '10.10.0.14'),
].join('---\n');

async function labResources(dirs: string[]): Promise<Resource[]> {
  const loaded = await loadPaths(dirs.map((d) => path.join(ROOT, 'examples', 'lab', d)));
  assert.deepEqual(loaded.errors, []);
  return loaded.resources;
}

async function assignments(names: string[], extra = PODS, dirs = ['base', 'routing']): Promise<Json[]> {
  const resources = [...(await labResources(dirs)), ...parseManifests(extra, 'pods.yaml').resources];
  const snapshot = new ConfigSnapshot(resources);
  return buildClusterLoadAssignments(buildRegistry(snapshot), snapshot, names, 'istio-system');
}

function addresses(cla: Json): string[] {
  const out: string[] = [];
  for (const locality of (cla['endpoints'] ?? []) as Json[]) {
    for (const lb of locality['lbEndpoints'] as Json[]) {
      const socket = ((lb['endpoint'] as Json)['address'] as Json)['socketAddress'] as Json;
      out.push(`${String(socket['address'])}:${String(socket['portValue'])}`);
    }
  }
  return out;
}

test('subset version-v2 has exactly the two v2 pods, on the targetPort', async () => {
  const [v2] = await assignments([V2]);
  assert.ok(v2);
  assert.equal(v2['clusterName'], V2);
  assert.deepEqual(addresses(v2), ['10.10.0.13:3000', '10.10.0.14:3000']);
});

test('subset version-v1 has the one v1 pod, as the seed shows (10.10.0.12:3000)', async () => {
  const [v1] = await assignments([V1]);
  assert.ok(v1);
  assert.deepEqual(addresses(v1), ['10.10.0.12:3000']);
});

test('the unsubsetted cluster has all three pods in one locality weighted 3', async () => {
  const [all] = await assignments([ALL]);
  assert.ok(all);
  assert.deepEqual(addresses(all), ['10.10.0.12:3000', '10.10.0.13:3000', '10.10.0.14:3000']);
  const localities = all['endpoints'] as Json[];
  assert.equal(localities.length, 1);
  assert.deepEqual(localities[0]?.['locality'], {});
  assert.equal(localities[0]?.['loadBalancingWeight'], 3);
});

test('an lbEndpoint carries health, weight, tlsMode and the istio workload metadata', async () => {
  const [v1] = await assignments([V1]);
  const lb = ((v1?.['endpoints'] as Json[])[0]?.['lbEndpoints'] as Json[])[0];
  assert.deepEqual(lb, {
    endpoint: { address: { socketAddress: { address: '10.10.0.12', portValue: 3000 } } },
    healthStatus: 'HEALTHY',
    metadata: {
      filterMetadata: {
        'envoy.transport_socket_match': { tlsMode: 'istio' },
        istio: { workload: 'catalog;istioinaction;catalog;v1;Kubernetes' },
      },
    },
    loadBalancingWeight: 1,
  });
});

test('unready pods are left out, as Istio 1.17 does by default', async () => {
  const pods = [
    pod('catalog-v2-5d8d9f7c-fghij', 'catalog-v2', '5d8d9f7c', 'v2', '10.10.0.13'),
    pod('catalog-v2-5d8d9f7c-klmno', 'catalog-v2', '5d8d9f7c', 'v2', '10.10.0.14', false),
  ].join('---\n');
  const [v2] = await assignments([V2], pods);
  assert.ok(v2);
  assert.deepEqual(addresses(v2), ['10.10.0.13:3000']);
});

test('unknown services, ports, subsets and malformed names get an assignment without endpoints', async () => {
  const names = [
    `outbound|80|version-v3|${HOST}`,
    `outbound|81||${HOST}`,
    'outbound|80||nowhere.example.svc.cluster.local',
    'BlackHoleCluster',
    `inbound|80||${HOST}`,
  ];
  const result = await assignments(names);
  assert.deepEqual(
    result,
    names.map((clusterName) => ({ clusterName })),
  );
});

test('a subset needs the DestinationRule that defines it', async () => {
  const [v2] = await assignments([V2], PODS, ['base']);
  assert.deepEqual(v2, { clusterName: V2 });
});

test('every assignment round-trips through the Envoy ClusterLoadAssignment proto with no lost field', async () => {
  for (const cla of await assignments([ALL, V1, V2, `outbound|80|version-v3|${HOST}`])) {
    const { lost, json } = roundTrip(TYPE.ClusterLoadAssignment, cla);
    assert.deepEqual(lost, [], `${String(cla['clusterName'])}: lost ${lost.join(', ')}`);
    assert.equal(json['clusterName'], cla['clusterName']);
  }
});
