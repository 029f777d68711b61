/**
 * The LDS listeners of a gateway (router) proxy as Istio 1.17 builds them (pilot/pkg/networking/core/
 * v1alpha3 gateway.go buildGatewayListeners, listener.go buildListener), in proto3 JSON: one
 * `<bind>_<port>` listener per merged server port, where the port is the gateway Service's targetPort for
 * that server port (80 → 8080 in the lab):
 *
 * - plain HTTP servers share one HTTP connection manager fetching RDS `http.<port>`;
 * - HTTPS servers that terminate TLS get one filter chain each, matched by SNI (`serverNames` from the
 *   hosts) with their certificate over SDS and RDS `https.<port>.<portName>.<gateway>.<namespace>`;
 * - TLS PASSTHROUGH servers get an SNI-matched tcp_proxy chain per VirtualService `tls` match;
 *   AUTO_PASSTHROUGH ones a chain per service port (and subset) matching its SNI-DNAT cluster name;
 * - TCP servers (optionally terminating TLS) proxy to the first VirtualService `tcp` route that matches.
 *
 * 1.17+ proxies get `istio_authn` ahead of each chain's terminal filter. A port whose servers produce no
 * chain (a TCP server without routes) gets no listener. The 15021 (health) and 15090 (Prometheus)
 * listeners come from the bootstrap, not LDS. HTTP/3 (QUIC) listeners are not built.
 */
import type { ConfigSnapshot } from '../../model/index.js';
import type { ServiceRegistry } from '../../registry/index.js';
import { buildRegistry, parseProtocol, isHTTPProtocol, PROTOCOL } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { authzHttpFilters, authzTcpFilters } from './authz-builder.js';
import { namedSubsets, destinationRuleFor } from './destination-rule.js';
import {
  ALL_ISTIO_MTLS_ALPNS,
  ENVOY_SERVER_NAME,
  HCM_FILTER,
  TLS_TRANSPORT_SOCKET,
  httpConnectionManager,
  istioAuthnFilter,
  istioVersionAtLeast,
  isRecord,
  listenerName,
  meshListenerAccessLog,
  metaString,
  proxyConfigOf,
  socketAddress,
  tcpMetadataExchangeFilter,
  tlsInspector,
} from './listener-filters.js';
import type { GatewayProxyInfo, GatewayServer, MergedServers } from './listener-gateway-merge.js';
import {
  isHttpsServerWithTlsTermination,
  isPassthroughServer,
  mergeGateways,
} from './listener-gateway-merge.js';
import { gatewayTlsContext } from './listener-gateway-tls.js';
import { wildcardAddress } from './listener-sidecar-inbound.js';
import type { TcpRouteContext } from './listener-tcp-routes.js';
import {
  l4MatchApplies,
  outboundNetworkFilters,
  singleDestinationFilters,
  tcpRules,
  tlsRules,
} from './listener-tcp-routes.js';
import type { PushContext } from './push-context.js';
import type { VirtualServiceConfig } from './route-virtual-services.js';
import { resolveGatewayName, virtualServiceIndex } from './route-virtual-services.js';
import { hostMatchesPattern, sidecarScopeFor } from './sidecar-scope.js';
import type { Proxy } from './proxy.js';

export type { GatewayProxyInfo } from './listener-gateway-merge.js';
export { gatewayRdsRouteName, mergeGateways, targetPortFor } from './listener-gateway-merge.js';

/** A filter chain before assembly (listener.go filterChainOpts). */
interface GatewayChain {
  sniHosts?: string[];
  match?: Json;
  tlsContext?: Json;
  /** HTTP chains: the HCM; TCP chains: their network filters. */
  hcm?: Json;
  networkFilters?: Json[];
}

interface GatewayContext {
  push: PushContext;
  proxy: GatewayProxyInfo;
  route: TcpRouteContext;
  authn: boolean;
}

/** The proxy as the shared builders see it (gateways are `router` proxies). */
function routerProxy(info: GatewayProxyInfo): Proxy {
  return {
    id: '',
    type: 'router',
    ipAddresses: info.ipAddresses ?? [],
    name: '',
    podName: '',
    namespace: info.namespace,
    dnsDomain: '',
    labels: info.labels,
    clusterId: '',
    istioVersion: info.istioVersion ?? '',
    workloadName: '',
    metadata: info.metadata ?? {},
  };
}

/** buildGatewayConnectionManager: the edge HCM (remote address trusted, XFCC sanitized by default). */
function gatewayHcm(ctx: GatewayContext, statPrefix: string, rds: string, protocol: string): Json {
  const mesh = ctx.push.snapshot.mesh;
  const topology = proxyConfigOf(mesh, ctx.proxy)['gatewayTopology'];
  const base: Json = {};
  if (isRecord(topology)) {
    const hops = topology['numTrustedProxies'];
    if (typeof hops === 'number' && Number.isInteger(hops) && hops > 0) base['xffNumTrustedHops'] = hops;
  }
  const xfcc = isRecord(topology) ? topology['forwardClientCertDetails'] : undefined;
  base['forwardClientCertDetails'] =
    typeof xfcc === 'string' && xfcc !== '' && xfcc !== 'UNDEFINED' ? xfcc : 'SANITIZE_SET';
  base['setCurrentClientCertDetails'] = { subject: true, cert: true, uri: true, dns: true };
  base['serverName'] = ENVOY_SERVER_NAME;
  base['httpProtocolOptions'] = metaString(ctx.proxy, 'HTTP10') === '1' ? { acceptHttp10: true } : {};
  return httpConnectionManager(mesh, ctx.proxy, {
    class: 'gateway',
    statPrefix,
    rds,
    useRemoteAddress: true,
    protocol: parseProtocol(protocol),
    base,
    authz: authzHttpFilters(ctx.push, ctx.proxy, 'gateway'),
  });
}

function virtualServicesFor(ctx: GatewayContext, gatewayName: string): VirtualServiceConfig[] {
  return virtualServiceIndex(ctx.push).forGateway(ctx.proxy.namespace, gatewayName);
}

/** pickMatchingGatewayHosts: whether any VirtualService host is one of the server's (namespace-checked). */
function hostsOverlap(server: GatewayServer, vs: VirtualServiceConfig): boolean {
  for (const vsHost of vs.hosts) {
    for (const gwHost of server.hosts) {
      let h = gwHost;
      const slash = gwHost.indexOf('/');
      if (slash >= 0) {
        if (gwHost.slice(0, slash) !== vs.namespace) continue;
        h = gwHost.slice(slash + 1);
      }
      if (hostMatchesPattern(vsHost, h)) return true;
    }
  }
  return false;
}

/** A tcp/tls match with its gateway names resolved in the VirtualService's namespace. */
function resolvedMatch(match: Record<string, unknown>, vs: VirtualServiceConfig): Record<string, unknown> {
  const gateways = Array.isArray(match['gateways'])
    ? match['gateways']
        .filter((g): g is string => typeof g === 'string')
        .map((g) => resolveGatewayName(g, vs.namespace))
    : [];
  // Source labels and namespaces are sidecar predicates; Istio's gateway match reads port and gateways only.
  return { port: match['port'], gateways };
}

/** buildGatewayNetworkFiltersFromTCPRoutes: the first tcp rule of a bound VirtualService that matches. */
function tcpRouteFilters(ctx: GatewayContext, server: GatewayServer): Json[] | undefined {
  const gateways = new Set([server.gatewayName]);
  const domainSuffix = ctx.push.registry.domainSuffix;
  for (const vs of virtualServicesFor(ctx, server.gatewayName)) {
    if (!hostsOverlap(server, vs)) continue;
    for (const rule of tcpRules(vs, domainSuffix)) {
      const applies =
        rule.match.length === 0 ||
        rule.match.some((m) => l4MatchApplies(resolvedMatch(m, vs), ctx.proxy, gateways, server.number));
      if (!applies) continue;
      const filters = outboundNetworkFilters(ctx.route, rule.route, server.number, vs);
      if (!filters) return undefined;
      const mx = server.tlsMode === 'ISTIO_MUTUAL' ? [tcpMetadataExchangeFilter()] : [];
      return [...mx, ...filters];
    }
  }
  return undefined;
}

/** buildGatewayNetworkFiltersFromTLSRoutes for PASSTHROUGH servers: one SNI chain per matching tls match. */
function tlsPassthroughChains(
  ctx: GatewayContext,
  server: GatewayServer,
  listenerPort: number,
  sniSeen: Map<number, Map<string, string>>,
): GatewayChain[] {
  const out: GatewayChain[] = [];
  const gateways = new Set([server.gatewayName]);
  const domainSuffix = ctx.push.registry.domainSuffix;
  for (const vs of virtualServicesFor(ctx, server.gatewayName)) {
    if (!hostsOverlap(server, vs)) continue;
    for (const rule of tlsRules(vs, domainSuffix)) {
      for (const match of rule.match) {
        if (!l4MatchApplies(resolvedMatch(match, vs), ctx.proxy, gateways, server.number)) continue;
        const sni = Array.isArray(match['sniHosts'])
          ? match['sniHosts'].filter((s): s is string => typeof s === 'string')
          : [];
        // Envoy rejects two chains with the same SNI match on a listener.
        const known = sniSeen.get(listenerPort) ?? new Map<string, string>();
        sniSeen.set(listenerPort, known);
        if (sni.some((h) => known.get(h) === server.bind)) continue;
        for (const h of sni) known.set(h, server.bind);
        const filters = outboundNetworkFilters(ctx.route, rule.route, server.number, vs);
        if (filters) out.push({ sniHosts: sni, networkFilters: filters });
      }
    }
  }
  return out;
}

/** builtAutoPassthroughFilterChains: SNI `outbound_.<port>_.<subset>_.<host>` for every mesh service port. */
function autoPassthroughChains(ctx: GatewayContext, server: GatewayServer): GatewayChain[] {
  const out: GatewayChain[] = [];
  const scope = sidecarScopeFor(ctx.push, routerProxy(ctx.proxy));
  for (const service of scope.services) {
    if (service.meshExternal) continue;
    if (!server.sniHosts.some((h) => hostMatchesPattern(service.hostname, h))) continue;
    const rule = destinationRuleFor(
      ctx.push.snapshot,
      service.hostname,
      service.namespace,
      ctx.proxy.namespace,
      ctx.push.registry.domainSuffix,
    );
    const subsets = ['', ...(rule ? namedSubsets(rule.spec).map((s) => s.name) : [])];
    for (const port of service.ports) {
      if (port.protocol === PROTOCOL.UDP) continue;
      for (const subset of subsets) {
        const name = `outbound_.${port.port}_.${subset}_.${service.hostname}`;
        out.push({
          sniHosts: [name],
          match: { applicationProtocols: [...ALL_ISTIO_MTLS_ALPNS] },
          networkFilters: singleDestinationFilters(ctx.route, name, name, service, subset),
        });
      }
    }
  }
  return out;
}

/** createGatewayTCPFilterChainOpts. */
function tcpServerChains(
  ctx: GatewayContext,
  server: GatewayServer,
  listenerPort: number,
  sniSeen: Map<number, Map<string, string>>,
): GatewayChain[] {
  if (!server.tls) {
    const filters = tcpRouteFilters(ctx, server);
    return filters ? [{ networkFilters: filters }] : [];
  }
  if (!isPassthroughServer(server)) {
    const filters = tcpRouteFilters(ctx, server);
    const tlsContext = gatewayTlsContext(server);
    return filters && tlsContext ? [{ sniHosts: server.sniHosts, tlsContext, networkFilters: filters }] : [];
  }
  if (server.tlsMode === 'AUTO_PASSTHROUGH') return autoPassthroughChains(ctx, server);
  return tlsPassthroughChains(ctx, server, listenerPort, sniSeen);
}

/** buildGatewayTCPBasedFilterChains: the chains of one merged server port. */
function chainsForPort(
  ctx: GatewayContext,
  merged: MergedServers,
  lname: string,
  sniSeen: Map<number, Map<string, string>>,
): GatewayChain[] {
  if (isHTTPProtocol(parseProtocol(merged.protocol))) {
    return [{ hcm: gatewayHcm(ctx, `outbound_${lname}`, merged.routeName, merged.protocol) }];
  }
  const out: GatewayChain[] = [];
  for (const server of merged.servers) {
    if (isHttpsServerWithTlsTermination(server)) {
      const tlsContext = gatewayTlsContext(server);
      if (!tlsContext) continue;
      const statPrefix = server.name !== '' ? server.name : `outbound_${lname}`;
      out.push({
        sniHosts: server.sniHosts,
        tlsContext,
        hcm: gatewayHcm(ctx, statPrefix, server.routeName, server.protocol),
      });
    } else {
      out.push(...tcpServerChains(ctx, server, merged.port, sniSeen));
    }
  }
  return out;
}

function assembleChain(ctx: GatewayContext, chain: GatewayChain): Json {
  let match: Json | undefined = chain.match ? { ...chain.match } : undefined;
  const sni = chain.sniHosts ?? [];
  // A `*` host matches any SNI: no serverNames at all.
  if (sni.length > 0 && !sni.includes('*')) {
    match ??= {};
    match['serverNames'] = [...sni].sort();
  }
  const out: Json = {};
  if (match) out['filterChainMatch'] = match;
  const authn = ctx.authn ? [istioAuthnFilter()] : [];
  if (chain.hcm) {
    out['filters'] = [...authn, { name: HCM_FILTER, typedConfig: chain.hcm }];
  } else {
    // Istio's own network filters go right before the terminal filter.
    const filters = chain.networkFilters ?? [];
    out['filters'] = [
      ...filters.slice(0, -1),
      ...authn,
      ...authzTcpFilters(ctx.push, ctx.proxy),
      ...filters.slice(-1),
    ];
  }
  if (chain.tlsContext)
    out['transportSocket'] = { name: TLS_TRANSPORT_SOCKET, typedConfig: chain.tlsContext };
  return out;
}

/** The listeners of a gateway proxy, sorted by port then bind address. */
export function buildRouterListeners(push: PushContext, proxy: GatewayProxyInfo): Json[] {
  const merged = mergeGateways(push.snapshot, proxy, push.registry);
  const ctx: GatewayContext = {
    push,
    proxy,
    route: { push, proxy, cls: 'gateway' },
    authn: istioVersionAtLeast(proxy.istioVersion, 17),
  };
  const byName = new Map<string, { port: number; bind: string; chains: GatewayChain[] }>();
  const sniSeen = new Map<number, Map<string, string>>();
  for (const m of merged.ports) {
    const bind = m.bind !== '' ? m.bind : wildcardAddress(proxy);
    const lname = listenerName(bind, m.port);
    const entry = byName.get(lname) ?? { port: m.port, bind, chains: [] };
    entry.chains.push(...chainsForPort(ctx, m, lname, sniSeen));
    byName.set(lname, entry);
  }
  const listeners: { port: number; bind: string; json: Json }[] = [];
  for (const [name, entry] of byName) {
    // Istio drops a listener it cannot give a single filter chain.
    if (entry.chains.length === 0) continue;
    const needsTlsInspector = entry.chains.some(
      (c) => (c.sniHosts ?? []).length > 0 || (c.tlsContext !== undefined && hasAlpn(c.tlsContext)),
    );
    const json: Json = { name, address: socketAddress(entry.bind, entry.port) };
    if (needsTlsInspector) json['listenerFilters'] = [tlsInspector()];
    json['filterChains'] = entry.chains.map((c) => assembleChain(ctx, c));
    json['trafficDirection'] = 'OUTBOUND';
    const log = meshListenerAccessLog(push.snapshot.mesh);
    if (log) json['accessLog'] = [log];
    listeners.push({ port: entry.port, bind: entry.bind, json });
  }
  listeners.sort((a, b) => a.port - b.port || (a.bind < b.bind ? -1 : a.bind > b.bind ? 1 : 0));
  return listeners.map((l) => l.json);
}

function hasAlpn(tlsContext: Json): boolean {
  const common = tlsContext['commonTlsContext'];
  return isRecord(common) && Array.isArray(common['alpnProtocols']) && common['alpnProtocols'].length > 0;
}

/** The same, for callers holding a snapshot and registry instead of a push context. */
export function buildGatewayListeners(
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
  registry: ServiceRegistry = buildRegistry(snapshot),
): Json[] {
  return buildRouterListeners({ snapshot, registry, version: '', memo: new Map() }, proxy);
}
