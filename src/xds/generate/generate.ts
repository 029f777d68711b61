/**
 * Everything one proxy must run, per xDS type: the single entry point the control plane, the offline
 * `proxy-config` simulation and the benchmarks call.
 */
import { buildClusterLoadAssignments } from './endpoints.js';
import type { Json } from './clusters.js';
import { buildProxyClusters } from './cluster-proxy.js';
import { generateGrpcResources, isGrpcProxy } from './grpc-generate.js';
import { buildSidecarListeners } from './listener-sidecar.js';
import { buildRouterListeners } from './listeners.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { buildSidecarRouteConfigs } from './route-sidecar.js';
import { buildGatewayRoutes } from './routes.js';
import { buildSecrets } from './secrets.js';

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
  // Proxyless gRPC clients get Istio's gRPC generator shapes (apiListener per host:port).
  if (isGrpcProxy(proxy)) return generateGrpcResources(push, proxy);
  const { registry, snapshot } = push;
  const clusters = buildProxyClusters(push, proxy);
  const edsNames = clusters
    .filter((c) => c['type'] === 'EDS')
    .map((c) => edsServiceName(c))
    .filter((n): n is string => n !== undefined);
  const endpoints = buildClusterLoadAssignments(registry, snapshot, edsNames, proxy.namespace);
  const listeners =
    proxy.type === 'router' ? buildRouterListeners(push, proxy) : buildSidecarListeners(push, proxy);
  // Route configurations are exactly the ones the listeners fetch over RDS, so the two always agree.
  const routeNames = rdsRouteNames(listeners);
  const routes =
    proxy.type === 'router'
      ? buildGatewayRoutes(push, proxy, routeNames)
      : buildSidecarRouteConfigs(push, proxy, routeNames);
  return { clusters, endpoints, listeners, routes, secrets: buildSecrets(push, proxy) };
}

function edsServiceName(cluster: Json): string | undefined {
  const eds = cluster['edsClusterConfig'];
  if (typeof eds === 'object' && eds !== null) {
    const name = (eds as Record<string, unknown>)['serviceName'];
    if (typeof name === 'string' && name !== '') return name;
  }
  return typeof cluster['name'] === 'string' ? cluster['name'] : undefined;
}

/** Every `rds.routeConfigName` anywhere in the listeners, sorted and de-duplicated. */
export function rdsRouteNames(listeners: readonly Json[]): string[] {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const record = v as Record<string, unknown>;
    const rds = record['rds'];
    if (typeof rds === 'object' && rds !== null) {
      const name = (rds as Record<string, unknown>)['routeConfigName'];
      if (typeof name === 'string') names.add(name);
    }
    for (const child of Object.values(record)) visit(child);
  };
  visit(listeners);
  return [...names].sort();
}
