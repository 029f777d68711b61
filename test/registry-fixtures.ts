/** Shared manifests for the registry tests: the lab's catalog service with v1/v2 Deployments and their Pods. */
import assert from 'node:assert/strict';
import { parseManifests } from '../src/api/index.js';
import type { MeshConfig } from '../src/model/index.js';
import { ConfigSnapshot, defaultMeshConfig } from '../src/model/index.js';

export function snapshotOf(yamlText: string, mesh?: Partial<MeshConfig>): ConfigSnapshot {
  const { resources, errors } = parseManifests(yamlText, 'test.yaml');
  assert.deepEqual(errors, []);
  return new ConfigSnapshot(resources, { ...defaultMeshConfig(), ...mesh });
}

export const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: istioinaction
  labels:
    istio-injection: enabled
`;

/** The catalog Service and Deployments of examples/lab/base/catalog.yaml, plus a cluster IP. */
export const CATALOG = `apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: istioinaction
  labels:
    app: catalog
spec:
  clusterIP: 10.96.0.20
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: 3000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog
  namespace: istioinaction
spec:
  replicas: 1
  selector:
    matchLabels:
      app: catalog
      version: v1
  template:
    metadata:
      labels:
        app: catalog
        version: v1
    spec:
      serviceAccountName: catalog
      containers:
        - name: catalog
          image: skiff/catalog:latest
          ports:
            - containerPort: 3000
              name: http
              protocol: TCP
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog-v2
  namespace: istioinaction
spec:
  replicas: 2
  selector:
    matchLabels:
      app: catalog
      version: v2
  template:
    metadata:
      labels:
        app: catalog
        version: v2
    spec:
      serviceAccountName: catalog
      containers:
        - name: catalog
          image: skiff/catalog:latest
          ports:
            - containerPort: 3000
              name: http
              protocol: TCP
`;

function pod(
  name: string,
  version: string,
  rs: string,
  hash: string,
  ip: string,
  ready: boolean,
  extra = '',
): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: istioinaction
  labels:
    app: catalog
    version: ${version}
    pod-template-hash: ${hash}
    security.istio.io/tlsMode: istio
${extra}  ownerReferences:
    - apiVersion: apps/v1
      kind: ReplicaSet
      name: ${rs}
      controller: true
spec:
  serviceAccountName: catalog
  containers:
    - name: catalog
      image: skiff/catalog:latest
      ports:
        - containerPort: 3000
          name: http
          protocol: TCP
    - name: istio-proxy
      image: docker.io/istio/proxyv2:1.17.8
status:
  phase: Running
  podIP: ${ip}
  conditions:
    - type: Ready
      status: '${ready ? 'True' : 'False'}'
`;
}

/** One ready v1 pod; two v2 pods of which the second is not ready. */
export const CATALOG_PODS = [
  pod(
    'catalog-6cf4b97d-abcde',
    'v1',
    'catalog-6cf4b97d',
    '6cf4b97d',
    '10.244.0.11',
    true,
    '    topology.kubernetes.io/region: eu-west1\n    topology.kubernetes.io/zone: eu-west1-b\n',
  ),
  pod('catalog-v2-7f8c9d-fghij', 'v2', 'catalog-v2-7f8c9d', '7f8c9d', '10.244.0.12', true),
  pod('catalog-v2-7f8c9d-klmno', 'v2', 'catalog-v2-7f8c9d', '7f8c9d', '10.244.0.13', false),
].join('---\n');

export function docs(...parts: string[]): string {
  return parts.join('---\n');
}
