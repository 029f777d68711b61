/**
 * Everything one proxy must run, per xDS type: the single entry point the control plane, the offline
 * `proxy-config` simulation and the benchmarks call.
 *
 * A sidecar's outbound side (outbound clusters, their ClusterLoadAssignments, the per-port outbound
 * listeners, `virtualOutbound` and the route configurations they name) depends only on its SidecarScope and
 * on a few proxy attributes (namespace, IP family, DNS domain, Istio version, some metadata), not on which
 * pod it is; its inbound side (inbound clusters, `virtualInbound`) only on its service instances, labels
 * and a few attributes (inbound-share.ts), not on its IP or name either. Each half is built once per push
 * for each distinct set of its inputs and the same objects are handed to every sidecar that shares them,
 * so a push costs per distinct configuration, not per proxy (and the control plane encodes each shared
 * object once).
 */
import { KIND } from '../../api/index.js';
import { buildInboundClusters, buildInboundPassthroughClusters } from './cluster-inbound.js';
import { buildClusterLoadAssignments } from './endpoints.js';
import type { Json } from './clusters.js';
import { buildOutboundClusters } from './clusters.js';
import { buildProxyClusters } from './cluster-proxy.js';
import { generateGrpcResources, isGrpcProxy } from './grpc-generate.js';
import { sidecarInboundKey } from './inbound-share.js';
import { buildVirtualInboundListener, ipFamilies } from './listener-sidecar-inbound.js';
import {
  buildSidecarOutboundListeners,
  buildVirtualOutboundListener,
  proxyListenPort,
} from './listener-sidecar-outbound.js';
import { buildRouterListeners } from './listeners.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { memoized } from './push-context.js';
import { buildSidecarRouteConfigs } from './route-sidecar.js';
import { buildGatewayRoutes } from './routes.js';
import { buildSecrets } from './secrets.js';
import type { SidecarScope } from './sidecar-scope.js';
import { sidecarScopeFor } from './sidecar-scope.js';

export interface ProxyResources {
  clusters: Json[];
  /** ClusterLoadAssignments of the EDS clusters in `clusters`. */
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
  /** SDS secrets the listeners and clusters name. */
  secrets: Json[];
  /**
   * For sidecars: the outbound half shared with every sidecar of the same outbound key, per type. Each
   * array's elements are, the same objects in the same order, the first elements of the type's list above,
   * so the control plane can encode and compare them once per push for all those sidecars. The rest of
   * each list (the inbound half) is shared too, by sidecars of the same inbound key, as the same objects.
   * Not enumerable: JSON output and deep comparisons see only the five lists.
   */
  readonly shared?: SharedOutboundParts;
}

/** The shared leading part of each type's list (see `ProxyResources.shared`). */
export interface SharedOutboundParts {
  readonly clusters: readonly Json[];
  readonly endpoints: readonly Json[];
  readonly listeners: readonly Json[];
  /** Absent when the proxy's routes are not the shared ones (an inbound listener fetches one over RDS). */
  readonly routes?: readonly Json[];
}

export function generateProxyResources(push: PushContext, proxy: Proxy): ProxyResources {
  // Proxyless gRPC clients get Istio's gRPC generator shapes (apiListener per host:port).
  if (isGrpcProxy(proxy)) return generateGrpcResources(push, proxy);
  if (proxy.type === 'sidecar') return generateSidecarResources(push, proxy);
  const { registry, snapshot } = push;
  const clusters = buildProxyClusters(push, proxy);
  const endpoints = buildClusterLoadAssignments(
    registry,
    snapshot,
    edsServiceNames(clusters),
    proxy.namespace,
  );
  const listeners = buildRouterListeners(push, proxy);
  // Route configurations are exactly the ones the listeners fetch over RDS, so the two always agree.
  const routes = buildGatewayRoutes(push, proxy, rdsRouteNames(listeners));
  return { clusters, endpoints, listeners, routes, secrets: buildSecrets(push, proxy) };
}

/** `list`, frozen; typed as the mutable lists `ProxyResources` declares, which consumers only read. */
function frozen(list: Json[]): Json[] {
  return Object.freeze(list) as Json[];
}

/** The outbound half of a sidecar's config, shared by every sidecar with the same outbound inputs. */
interface SidecarOutbound {
  /** Outbound clusters, BlackHoleCluster and PassthroughCluster, one per name. */
  clusters: Json[];
  clusterNames: ReadonlySet<string>;
  /** The ClusterLoadAssignments of the EDS clusters among `clusters`. */
  endpoints: Json[];
  /** The per-port outbound listeners and `virtualOutbound` (none when `proxyListenPort` is 0). */
  listeners: Json[];
  /** The RDS names the listeners fetch, sorted. */
  routeNames: readonly string[];
  routes: Json[];
}

/**
 * Istio 1.17's sidecar order: clusters are the outbound ones, then inbound and inbound passthrough (one per
 * name, the first winning); listeners the outbound ones, `virtualOutbound`, then `virtualInbound`; routes
 * exactly the RDS names of those listeners.
 */
function generateSidecarResources(push: PushContext, proxy: Proxy): ProxyResources {
  const outboundKey = sidecarOutboundKey(push, proxy);
  const outbound = memoized(push, `generate-sidecar-outbound|${outboundKey}`, () =>
    buildSidecarOutbound(push, proxy),
  );
  // The inbound half drops clusters the outbound half already has, so it is keyed on both.
  const bothKey = `${outboundKey}|${sidecarInboundKey(push, proxy)}`;
  const inbound = memoized(push, `generate-sidecar-inbound|${bothKey}`, () =>
    buildSidecarInbound(push, proxy, outbound),
  );
  // The joined lists are the same arrays for every sidecar with both keys: a thousand sidecars would
  // otherwise each allocate (and keep for the push) their own copies of the same thousands of references.
  // Frozen, so that no consumer can change one proxy's list for all of them.
  const lists = memoized(push, `generate-sidecar-lists|${bothKey}`, () => ({
    clusters: frozen([...outbound.clusters, ...inbound.clusters]),
    endpoints: frozen([...outbound.endpoints, ...inbound.endpoints]),
    listeners: frozen(
      inbound.virtualInbound ? [...outbound.listeners, inbound.virtualInbound] : [...outbound.listeners],
    ),
    routes: frozen([...(inbound.routes ?? outbound.routes)]),
  }));
  const resources: ProxyResources = { ...lists, secrets: buildSecrets(push, proxy) };
  // The outbound half stays the shared part: its encoded body is then one for every inbound variant.
  const shared: SharedOutboundParts = {
    clusters: outbound.clusters,
    endpoints: outbound.endpoints,
    listeners: outbound.listeners,
    ...(inbound.routes === undefined ? { routes: outbound.routes } : {}),
  };
  Object.defineProperty(resources, 'shared', { value: shared, enumerable: false });
  return resources;
}

/** The inbound half of a sidecar's config, shared by every sidecar with the same inbound (and outbound) key. */
interface SidecarInbound {
  /** Inbound and inbound passthrough clusters the outbound half does not already have. */
  clusters: readonly Json[];
  /** The ClusterLoadAssignments of the EDS clusters among `clusters`. */
  endpoints: readonly Json[];
  virtualInbound?: Json;
  /** Set only when `virtualInbound` fetches a route the outbound half lacks: the whole route list. */
  routes?: readonly Json[];
}

function buildSidecarInbound(push: PushContext, proxy: Proxy, outbound: SidecarOutbound): SidecarInbound {
  const { registry, snapshot } = push;
  const clusters: Json[] = [];
  const seen = new Set(outbound.clusterNames);
  for (const c of [...buildInboundClusters(push, proxy), ...buildInboundPassthroughClusters(push, proxy)]) {
    const name = String(c['name']);
    if (seen.has(name)) continue;
    seen.add(name);
    clusters.push(c);
  }
  const eds = edsServiceNames(clusters);
  const endpoints =
    eds.length > 0 ? buildClusterLoadAssignments(registry, snapshot, eds, proxy.namespace) : [];
  const inbound: SidecarInbound = { clusters, endpoints };
  if (proxyListenPort(push) > 0) {
    const virtualInbound = buildVirtualInboundListener(push, proxy);
    if (virtualInbound) {
      inbound.virtualInbound = virtualInbound;
      // Inbound listeners carry their routes inline; should one fetch a name over RDS, build the union.
      const known = new Set(outbound.routeNames);
      const extra = rdsRouteNames([virtualInbound]).filter((n) => !known.has(n));
      if (extra.length > 0) {
        const names = rdsRouteNames([...outbound.listeners, virtualInbound]);
        inbound.routes = buildSidecarRouteConfigs(push, proxy, names);
      }
    }
  }
  return inbound;
}

function buildSidecarOutbound(push: PushContext, proxy: Proxy): SidecarOutbound {
  const { registry, snapshot } = push;
  const scope = sidecarScopeFor(push, proxy);
  const clusters: Json[] = [];
  const clusterNames = new Set<string>();
  for (const c of buildOutboundClusters(registry, snapshot, proxy, scope.services)) {
    const name = String(c['name']);
    if (clusterNames.has(name)) continue;
    clusterNames.add(name);
    clusters.push(c);
  }
  const endpoints = buildClusterLoadAssignments(
    registry,
    snapshot,
    edsServiceNames(clusters),
    proxy.namespace,
  );
  const listeners: Json[] = [];
  if (proxyListenPort(push) > 0) {
    listeners.push(...buildSidecarOutboundListeners(push, proxy));
    const virtualOutbound = buildVirtualOutboundListener(push, proxy);
    if (virtualOutbound) listeners.push(virtualOutbound);
  }
  const routeNames = rdsRouteNames(listeners);
  const routes = buildSidecarRouteConfigs(push, proxy, routeNames);
  return { clusters, clusterNames, endpoints, listeners, routeNames, routes };
}

/**
 * Node metadata the outbound generators read (listener-filters, listener-sidecar-*, route-translate). A
 * generator that starts reading another key on the outbound side must add it here, or sidecars that
 * differ in it would share one configuration.
 */
export const OUTBOUND_METADATA_KEYS: readonly string[] = [
  'GENERATOR',
  'HTTP10',
  'IDLE_TIMEOUT',
  'INTERCEPTION_MODE',
  'MESH_ID',
  'PROXY_CONFIG',
];

/** Labels the outbound side reads whatever the config (tracing tags). */
const OUTBOUND_LABELS = ['service.istio.io/canonical-name', 'service.istio.io/canonical-revision'];

/**
 * Everything a sidecar's outbound config depends on besides the push: the SidecarScope (namespace and the
 * Sidecar resource that applies), IP families, DNS domain, Istio version and the metadata above; its own IP
 * only when the scope has headless services (their per-endpoint listeners and routes skip it); its labels
 * only when some VirtualService matches on `sourceLabels`.
 */
export function sidecarOutboundKey(push: PushContext, proxy: Proxy): string {
  const scope = sidecarScopeFor(push, proxy);
  const sidecar = scope.sidecar
    ? `${scope.sidecar.metadata.namespace ?? ''}/${scope.sidecar.metadata.name}`
    : '';
  const { ipv4, ipv6 } = ipFamilies(proxy);
  const ownIp = hasHeadlessServices(scope) ? (proxy.ipAddresses[0] ?? '') : '';
  const labels = usesSourceLabels(push)
    ? Object.keys(proxy.labels)
        .sort()
        .map((k) => [k, proxy.labels[k]])
    : OUTBOUND_LABELS.map((k) => proxy.labels[k] ?? null);
  const metadata = OUTBOUND_METADATA_KEYS.map((k) => proxy.metadata[k] ?? null);
  return JSON.stringify([
    proxy.namespace,
    sidecar,
    ipv4,
    ipv6,
    ownIp,
    proxy.dnsDomain,
    proxy.istioVersion,
    labels,
    metadata,
  ]);
}

const headlessByScope = new WeakMap<SidecarScope, boolean>();

function hasHeadlessServices(scope: SidecarScope): boolean {
  let v = headlessByScope.get(scope);
  if (v === undefined) {
    v = scope.services.some((s) => s.resolution === 'Passthrough');
    headlessByScope.set(scope, v);
  }
  return v;
}

/** Whether any VirtualService (or delegate) matches on the client's labels, once per push. */
function usesSourceLabels(push: PushContext): boolean {
  return memoized(push, 'generate-uses-source-labels', () =>
    push.snapshot.list(KIND.VirtualService).some((vs) => JSON.stringify(vs.object).includes('sourceLabels')),
  );
}

/** The EDS service names of the EDS clusters, in cluster order. */
function edsServiceNames(clusters: readonly Json[]): string[] {
  const names: string[] = [];
  for (const c of clusters) {
    if (c['type'] !== 'EDS') continue;
    const name = edsServiceName(c);
    if (name !== undefined) names.push(name);
  }
  return names;
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
