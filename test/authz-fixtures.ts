/** Shared setup for the authz tests: a small mesh, a proxy for one of its pods, its generated RBAC filters. */
import assert from 'node:assert/strict';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import type { Json, Proxy, ProxyResources, PushContext } from '../src/xds/index.js';
import {
  buildPushContext,
  envoyRoot,
  generateProxyResources,
  lookupMessageType,
  proxyForWorkload,
} from '../src/xds/index.js';

export const WORKLOADS = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: 9080 }, { name: tcp-db, port: 5432, targetPort: 5432 }]
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-0, namespace: shop, labels: { app: reviews, version: v1 } }
spec:
  containers: [{ name: reviews, ports: [{ containerPort: 9080 }] }, { name: istio-proxy }]
status: { phase: Running, podIP: 10.1.0.5 }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec:
  selector: { app: ratings }
  ports: [{ name: http, port: 9080, targetPort: 9080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: ratings-0, namespace: shop, labels: { app: ratings } }
spec:
  containers: [{ name: ratings, ports: [{ containerPort: 9080 }] }, { name: istio-proxy }]
status: { phase: Running, podIP: 10.1.0.6 }
`;

export function pushFor(policies: string, meshYaml?: string): PushContext {
  const resources = parseManifests(`${WORKLOADS}\n---\n${policies}`, 'test.yaml').resources;
  const snapshot =
    meshYaml === undefined
      ? new ConfigSnapshot(resources)
      : new ConfigSnapshot(resources, parseMeshConfig(meshYaml));
  return buildPushContext(snapshot, { version: 'v1' });
}

export function proxyOf(push: PushContext, pod: string, istioVersion?: string): Proxy {
  const workload = push.registry.workloads().find((w) => w.name === pod);
  assert.ok(workload, `workload ${pod}`);
  const proxy = proxyForWorkload(workload, { type: 'sidecar' });
  return istioVersion === undefined ? proxy : { ...proxy, istioVersion };
}

export function resourcesOf(push: PushContext, pod: string, istioVersion?: string): ProxyResources {
  return generateProxyResources(push, proxyOf(push, pod, istioVersion));
}

export function virtualInbound(res: ProxyResources): Json {
  const l = res.listeners.find((x) => x['name'] === 'virtualInbound');
  assert.ok(l, 'virtualInbound listener');
  return l;
}

/** The filter chains of virtualInbound for a destination port. */
export function chainsForPort(res: ProxyResources, port: number): Json[] {
  return (virtualInbound(res)['filterChains'] as Json[]).filter(
    (c) => (c['filterChainMatch'] as Json | undefined)?.['destinationPort'] === port,
  );
}

export function hcmOf(chain: Json): Json {
  const f = (chain['filters'] as Json[]).find(
    (x) => x['name'] === 'envoy.filters.network.http_connection_manager',
  );
  assert.ok(f, 'HCM filter');
  return f['typedConfig'] as Json;
}

/** The HTTP RBAC filter configs of the first HTTP chain on the port, in filter order. */
export function httpRbac(res: ProxyResources, port = 9080): Json[] {
  const chain = chainsForPort(res, port)[0];
  assert.ok(chain);
  return (hcmOf(chain)['httpFilters'] as Json[])
    .filter((f) => f['name'] === 'envoy.filters.http.rbac')
    .map((f) => f['typedConfig'] as Json);
}

export function tcpRbac(res: ProxyResources, port = 5432): Json[] {
  const chain = chainsForPort(res, port)[0];
  assert.ok(chain);
  return (chain['filters'] as Json[])
    .filter((f) => f['name'] === 'envoy.filters.network.rbac')
    .map((f) => f['typedConfig'] as Json);
}

/**
 * protos.ts does not load the RBAC filter protos yet (the lead adds them); until then the tests load them
 * into the shared root so roundTrip can check the generated filters.
 */
export function ensureRbacProtos(): void {
  if (lookupMessageType('type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC')) return;
  const root = envoyRoot();
  for (const f of [
    'envoy/extensions/filters/http/rbac/v3/rbac.proto',
    'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  ]) {
    root.loadSync(f, { keepCase: true });
  }
  root.resolveAll();
}
