/**
 * The generator for proxyless gRPC clients (`@grpc/grpc-js-xds` and other gRPC xDS clients), as Istio
 * 1.17's pilot/pkg/networking/grpcgen answers them. It differs from the Envoy generators:
 * - LDS: one `api_listener` per requested `host:port` (grpc-listeners.ts), no real listeners;
 * - RDS `outbound|<port>||<fqdn>`: the sidecar's virtual hosts for that port (BuildSidecarOutboundVirtualHosts)
 *   with `host:port` domains (gRPC matches the authority with its port), no catch-all virtual host and none
 *   of the sidecar route configuration's other fields; timeouts as `max_stream_duration`;
 * - CDS: plain EDS clusters (grpc-clusters.ts); EDS as for Envoy.
 *
 * A client is proxyless when its node metadata says `GENERATOR: grpc` (what Istio's agent writes into the
 * gRPC bootstrap, and how istiod picks this generator).
 *
 * gRPC names every resource it wants. `generateGrpcResources` answers given names exactly as grpcgen
 * would; without names it returns every resource the proxy could ask for (each listener under each name a
 * client in its namespace may use), which the ADS server then narrows to each watch's requested names.
 */
import type { Service } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { buildClusterLoadAssignments, parseClusterName } from './endpoints.js';
import type { ProxyResources } from './generate.js';
import { buildGrpcClusters } from './grpc-clusters.js';
import { buildGrpcListeners } from './grpc-listeners.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { buildSidecarRouteConfigs } from './route-sidecar.js';
import { sidecarScopeFor } from './sidecar-scope.js';

/** Resource names a gRPC client subscribed to, per type; an absent list means "everything". */
export interface GrpcRequestedNames {
  listeners?: readonly string[];
  routes?: readonly string[];
  clusters?: readonly string[];
  endpoints?: readonly string[];
}

/** Whether a proxy is a proxyless gRPC client (node metadata `GENERATOR: grpc`, as istiod checks). */
export function isGrpcProxy(proxy: Pick<Proxy, 'metadata'>): boolean {
  const metadata: unknown = proxy.metadata;
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    (metadata as Record<string, unknown>)['GENERATOR'] === 'grpc'
  );
}

const CATCH_ALL_VHOSTS = new Set(['allow_any', 'block_all']);

/** buildHTTPRoute: `outbound|<port>||<host>` → RouteConfiguration{name, virtualHosts} or undefined. */
function grpcRouteConfig(
  push: PushContext,
  proxy: Proxy,
  routeName: string,
  vhostsByPort: Map<number, Json[]>,
): Json | undefined {
  const parsed = parseClusterName(routeName);
  if (!parsed) return undefined;
  let vhosts = vhostsByPort.get(parsed.port);
  if (!vhosts) {
    const [config] = buildSidecarRouteConfigs(push, proxy, [String(parsed.port)]);
    const all = Array.isArray(config?.['virtualHosts']) ? (config['virtualHosts'] as Json[]) : [];
    vhosts = all.filter((v) => !CATCH_ALL_VHOSTS.has(String(v['name'])));
    vhostsByPort.set(parsed.port, vhosts);
  }
  return { name: routeName, virtualHosts: vhosts };
}

function stringNames(list: Json[], key: string): string[] {
  return list.map((r) => r[key]).filter((n): n is string => typeof n === 'string');
}

/** The RDS names the listeners point at, in first-seen order. */
function listenerRouteNames(listeners: Json[]): string[] {
  const names = new Set<string>();
  for (const l of listeners) {
    const api = l['apiListener'];
    const hcm = typeof api === 'object' && api !== null ? (api as Json)['apiListener'] : undefined;
    const rds = typeof hcm === 'object' && hcm !== null ? (hcm as Json)['rds'] : undefined;
    const name = typeof rds === 'object' && rds !== null ? (rds as Json)['routeConfigName'] : undefined;
    if (typeof name === 'string') names.add(name);
  }
  return [...names];
}

/** Everything a proxyless gRPC client is served, per xDS type (see the module comment for `requested`). */
export function generateGrpcResources(
  push: PushContext,
  proxy: Proxy,
  requested: GrpcRequestedNames = {},
): ProxyResources {
  // The fault and router filter types must be in the shared Root for their Anys to encode.
  const { registry, snapshot } = push;
  const scope = sidecarScopeFor(push, proxy);
  const byHost = new Map<string, Service>(scope.services.map((s) => [s.hostname, s]));
  const listeners = buildGrpcListeners(scope.services, proxy, requested.listeners);
  const clusters = buildGrpcClusters(
    {
      registry,
      snapshot,
      proxyNamespace: proxy.namespace,
      serviceFor: (host) => byHost.get(host) ?? registry.serviceByHost(host, proxy.namespace),
    },
    scope.services,
    requested.clusters,
  );
  const vhostsByPort = new Map<number, Json[]>();
  const routeNames = requested.routes ?? listenerRouteNames(listeners);
  const routes = routeNames
    .map((name) => grpcRouteConfig(push, proxy, name, vhostsByPort))
    .filter((r): r is Json => r !== undefined);
  const endpointNames = requested.endpoints ?? stringNames(clusters, 'name');
  const endpoints = buildClusterLoadAssignments(registry, snapshot, endpointNames, proxy.namespace);
  return { clusters, endpoints, listeners, routes, secrets: [] };
}

/**
 * A generator for the ADS server that serves proxyless gRPC clients with this generator and everyone else
 * with `fallback` (pass `generateProxyResources`).
 */
export function withGrpcGenerator(
  fallback: (push: PushContext, proxy: Proxy) => ProxyResources,
): (push: PushContext, proxy: Proxy) => ProxyResources {
  return (push, proxy) => (isGrpcProxy(proxy) ? generateGrpcResources(push, proxy) : fallback(push, proxy));
}
