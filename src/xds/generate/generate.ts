/**
 * Everything one proxy must run, per xDS type: the single entry point the control plane, the offline
 * `proxy-config` simulation and the benchmarks call.
 */
import type { Json } from './clusters.js';
import { buildOutboundClusters } from './clusters.js';
import { buildClusterLoadAssignments } from './endpoints.js';
import { buildGatewayListeners } from './listeners.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { buildGatewayRouteConfigs } from './routes.js';

export interface ProxyResources {
  clusters: Json[];
  /** ClusterLoadAssignments of the EDS clusters in `clusters`. */
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
  /** SDS secrets the listeners and clusters name. */
  secrets: Json[];
}

export function generateProxyResources(push: PushContext, proxy: Proxy): ProxyResources {
  const { registry, snapshot } = push;
  const clusters = buildOutboundClusters(registry, snapshot, proxy);
  const edsNames = clusters
    .filter((c) => c['type'] === 'EDS')
    .map((c) => c['name'])
    .filter((n): n is string => typeof n === 'string');
  const endpoints = buildClusterLoadAssignments(registry, snapshot, edsNames, proxy.namespace);
  if (proxy.type === 'router') {
    return {
      clusters,
      endpoints,
      listeners: buildGatewayListeners(snapshot, proxy, registry),
      routes: buildGatewayRouteConfigs(registry, snapshot, proxy),
      secrets: [],
    };
  }
  return { clusters, endpoints, listeners: [], routes: [], secrets: [] };
}
