/**
 * Every CDS cluster of a proxy in Istio 1.17's order (cluster.go buildClusters): for sidecars the
 * outbound clusters of the services its SidecarScope imports, BlackHoleCluster, PassthroughCluster, the
 * inbound clusters and the inbound passthrough clusters; for gateways the outbound clusters,
 * BlackHoleCluster and, when a server does AUTO_PASSTHROUGH, the SNI-DNAT clusters.
 */
import type { Json } from './clusters.js';
import { buildOutboundClusters, buildSniDnatClusters } from './clusters.js';
import { buildInboundClusters, buildInboundPassthroughClusters } from './cluster-inbound.js';
import { mergeGateways } from './listener-gateway-merge.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { sidecarScopeFor } from './sidecar-scope.js';

export function buildProxyClusters(push: PushContext, proxy: Proxy): Json[] {
  const { registry, snapshot } = push;
  const services = sidecarScopeFor(push, proxy).services;
  const clusters = buildOutboundClusters(registry, snapshot, proxy, services);
  if (proxy.type === 'router') {
    if (mergeGateways(snapshot, proxy, registry).autoPassthrough) {
      clusters.push(...buildSniDnatClusters(registry, snapshot, proxy, services));
    }
    return dedupeByName(clusters);
  }
  clusters.push(...buildInboundClusters(push, proxy));
  clusters.push(...buildInboundPassthroughClusters(push, proxy));
  return dedupeByName(clusters);
}

/** normalizeClusters: one cluster per name, the first one winning. */
function dedupeByName(clusters: Json[]): Json[] {
  const seen = new Set<string>();
  return clusters.filter((c) => {
    const name = String(c['name']);
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}
