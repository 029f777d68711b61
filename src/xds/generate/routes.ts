/**
 * The RDS route configurations of a gateway (router) proxy as Istio 1.17 builds them (pilot/pkg/model/
 * gateway.go MergeGateways and gatewayRDSRouteName, pilot/pkg/networking/core/v1alpha3/gateway.go
 * buildGatewayHTTPRouteConfig), in proto3 JSON as `istioctl proxy-config routes -o json` prints them:
 *
 * - one configuration per HTTP route name: `http.<port>[.<bind>]` for plain HTTP servers (the port being the
 *   gateway Service's targetPort, 80 → 8080 in the lab) and `https.<port>.<portName>.<gw>.<ns>[.<bind>]` for
 *   HTTPS servers that terminate TLS;
 * - per server, the VirtualServices bound to its Gateway and visible to the proxy's namespace, whose hosts
 *   intersect the server's hosts, translated by route-translate.ts (one set of routes per Gateway and
 *   VirtualService, reused for every server of that Gateway);
 * - one virtual host `<host>:<serverPort>` per intersecting host, routes appended when several
 *   VirtualServices share a host, catch-all routes moved last, hosts with identical routes collapsed into one
 *   virtual host (named after the first host in most-specific order), `requireTls: ALL` for servers with
 *   `httpsRedirect`, and a `blackhole:<port>` virtual host when nothing matched.
 */
import { KIND, typedSpec } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { Service, ServiceRegistry } from '../../registry/index.js';
import {
  isHTTPProtocol,
  isServiceVisibleTo,
  labelsMatch,
  parseProtocol,
  PROTOCOL,
} from '../../registry/index.js';
import type { Json } from './clusters.js';
import type { GatewayProxyInfo } from './listeners.js';
import { targetPortFor } from './listeners.js';
import { sanitizeHosts } from './listener-gateway-merge.js';
import type { PushContext } from './push-context.js';
import { gatewayApiGateways } from './route-gateway-api.js';
import { hashPolicyForDestination, serviceForHost, servicesByHostname } from './route-hash.js';
import type { RouteContext, RouteProxy } from './route-translate.js';
import {
  buildHttpRoutesForVirtualService,
  isProxylessGrpc,
  istioVersionAtLeast,
  meshRetryPolicy,
  sortVirtualHostRoutes,
} from './route-translate.js';
import type { VirtualServiceConfig } from './route-virtual-services.js';
import { virtualServiceIndex } from './route-virtual-services.js';
import {
  compareStrings,
  isRecord,
  records,
  sortByCreation,
  recordField,
  stringField,
  stringMap,
  strings,
} from './route-values.js';

/** A gateway proxy as the route builder needs it; `Proxy` fits. */
export interface GatewayRouteProxy extends GatewayProxyInfo {
  istioVersion?: string;
  metadata?: Record<string, unknown>;
}

/** One Gateway server that serves an RDS route name. */
export interface GatewayRouteServer {
  /** `ns/name` of its Gateway. */
  gatewayName: string;
  /** Hosts after sanitizing: `./h` → `<gwNs>/h`, `*\/h` → `h`, `*\/*` → only `*`. */
  hosts: string[];
  /** The server's own port number (what virtual host names carry). */
  port: number;
  httpsRedirect: boolean;
}

/** Every route configuration of a gateway proxy (or the named ones), in route-name order. */
export function buildGatewayRoutes(
  push: PushContext,
  proxy: GatewayRouteProxy,
  routeNames?: string[],
): Json[] {
  const servers = gatewayRouteServers(push, proxy);
  const names = routeNames ?? sortRouteNames([...servers.keys()]);
  const out: Json[] = [];
  for (const name of names) {
    const list = servers.get(name);
    // Istio answers a route name without servers with an empty configuration.
    out.push(
      list && list.length > 0
        ? buildGatewayRouteConfig(push, proxy, name, list)
        : { name, validateClusters: false },
    );
  }
  return out;
}

/** The same, for callers holding a registry and snapshot instead of a push context. */
export function buildGatewayRouteConfigs(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: GatewayRouteProxy,
): Json[] {
  return buildGatewayRoutes({ snapshot, registry, version: '', memo: new Map() }, proxy);
}

function sortRouteNames(names: string[]): string[] {
  const port = (n: string): number => Number(n.split('.')[1] ?? 0) || 0;
  return names.sort((a, b) => port(a) - port(b) || compareStrings(a, b));
}

// ---- MergeGateways (the parts that decide route names) ----

function isPassthrough(tls: Record<string, unknown> | undefined): boolean {
  const mode = tls?.['mode'];
  return mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
}

/** gateway.IsHTTPServer: HTTP-family protocols, or HTTPS that terminates TLS. */
function isHttpServer(protocol: string, tls: Record<string, unknown> | undefined): boolean {
  const p = parseProtocol(protocol);
  return isHTTPProtocol(p) || (p === PROTOCOL.HTTPS && tls !== undefined && !isPassthrough(tls));
}

/** gatewayRDSRouteName: '' for servers without routes (TCP, TLS, passthrough). */
function rdsRouteName(
  protocol: string,
  tls: Record<string, unknown> | undefined,
  resolvedPort: number,
  serverPort: number,
  portName: string,
  bind: string,
  gateway: GatewayConfig,
): string {
  const suffix = bind !== '' ? `.${bind}` : '';
  const p = parseProtocol(protocol);
  if (isHTTPProtocol(p)) return `http.${resolvedPort}${suffix}`;
  if (p === PROTOCOL.HTTPS && tls !== undefined && !isPassthrough(tls)) {
    return `https.${serverPort}.${portName}.${gateway.name}.${gateway.namespace}${suffix}`;
  }
  return '';
}

/** An Istio Gateway, written or generated from a Gateway API listener, that applies to the proxy. */
interface GatewayConfig {
  name: string;
  namespace: string;
  creationTimestamp: string;
  servers: Record<string, unknown>[];
  /** The port the proxy listens on for a server port; undefined when the proxy does not serve it. */
  resolvePort(serverPort: number): number | undefined;
}

/**
 * The Gateways of the proxy, oldest first (PushContext.mergeGateways over gatewayIndex.all): Istio Gateways
 * whose selector matches its labels (ports translated through its Service when it has one), and generated
 * Gateway API ones whose Service selects it (ports translated through that Service only).
 */
function gatewaysFor(push: PushContext, proxy: GatewayProxyInfo): GatewayConfig[] {
  const out: GatewayConfig[] = [];
  for (const gw of push.snapshot.list(KIND.Gateway)) {
    const spec: unknown = typedSpec(gw, KIND.Gateway);
    // An absent or empty selector selects every workload.
    if (!isRecord(spec) || !labelsMatch(stringMap(spec['selector']), proxy.labels)) continue;
    out.push({
      name: gw.metadata.name,
      namespace: gw.metadata.namespace ?? 'default',
      creationTimestamp:
        typeof gw.metadata.creationTimestamp === 'string' ? gw.metadata.creationTimestamp : '',
      servers: records(spec['servers']),
      resolvePort: (port) => targetPortFor(push.registry, proxy, port),
    });
  }
  for (const gw of gatewayApiGateways(push)) {
    if (gw.namespace !== proxy.namespace) continue;
    const services = push.registry
      .services()
      .filter(
        (s) =>
          gw.services.includes(s.hostname) &&
          s.namespace === gw.namespace &&
          s.selector !== undefined &&
          Object.keys(s.selector).length > 0 &&
          labelsMatch(s.selector, proxy.labels),
      );
    if (services.length === 0) continue;
    out.push({
      name: gw.name,
      namespace: gw.namespace,
      creationTimestamp: gw.creationTimestamp,
      servers: [gw.server],
      resolvePort: (port) => {
        for (const s of services) {
          const sp = s.ports.find((p) => p.port === port);
          if (!sp) continue;
          if (typeof sp.targetPort === 'number' && sp.targetPort > 0) return sp.targetPort;
          if (typeof sp.targetPort === 'string' && sp.targetPort !== '') {
            const named = push.registry
              .workloads()
              .find((w) => w.namespace === proxy.namespace && labelsMatch(s.selector ?? {}, w.labels))
              ?.portMap[sp.targetPort];
            if (named !== undefined) return named;
          }
          return port;
        }
        // A Gateway API gateway listens only on ports of its Service.
        return undefined;
      },
    });
  }
  return sortByCreation(out);
}

/** The HTTP servers per RDS route name, merged as MergeGateways merges them. */
export function gatewayRouteServers(
  push: PushContext,
  proxy: GatewayProxyInfo,
): Map<string, GatewayRouteServer[]> {
  const byRoute = new Map<string, GatewayRouteServer[]>();
  const portsSeen = new Set<number>();
  const plainText = new Map<number, string>();
  const tlsHostsByPort = new Map<number, Map<string, string>>();
  for (const gw of gatewaysFor(push, proxy)) {
    const gatewayName = `${gw.namespace}/${gw.name}`;
    for (const server of gw.servers) {
      const port = recordField(server, 'port');
      const number = port?.['number'];
      if (!port || typeof number !== 'number' || !Number.isInteger(number) || number <= 0) continue;
      const protocol = stringField(port, 'protocol');
      const tls = recordField(server, 'tls');
      const bind = stringField(server, 'bind');
      const hosts = sanitizeHosts(strings(server['hosts']), gw.namespace);
      const resolvedPort = gw.resolvePort(number);
      if (resolvedPort === undefined) continue;
      const routeName = rdsRouteName(
        protocol,
        tls,
        resolvedPort,
        number,
        stringField(port, 'name'),
        bind,
        gw,
      );
      if (tls) {
        // Servers with TLS settings must not repeat a host on the same port and bind (CheckDuplicates).
        const known = tlsHostsByPort.get(resolvedPort) ?? new Map<string, string>();
        tlsHostsByPort.set(resolvedPort, known);
        if (hosts.some((h) => known.get(h) === bind)) continue;
        for (const h of hosts) known.set(h, bind);
      }
      const entry: GatewayRouteServer = {
        gatewayName,
        hosts,
        port: number,
        httpsRedirect: tls?.['httpsRedirect'] === true,
      };
      const httpServer = isHttpServer(protocol, tls);
      if (portsSeen.has(resolvedPort)) {
        const current = plainText.get(resolvedPort);
        if (current !== undefined) {
          const p = parseProtocol(protocol);
          const c = parseProtocol(current);
          // canMergeProtocols: plain-text servers share a port only when both speak HTTP.
          if (!((isHTTPProtocol(p) || p === c) && isHTTPProtocol(c)) || routeName === '') continue;
          byRoute.set(routeName, [...(byRoute.get(routeName) ?? []), entry]);
        } else if (httpServer) {
          if (routeName === '' || byRoute.has(routeName)) continue;
          byRoute.set(routeName, [entry]);
        }
      } else {
        portsSeen.add(resolvedPort);
        if (!(tls && !isHTTPProtocol(parseProtocol(protocol)))) plainText.set(resolvedPort, protocol);
        if (httpServer) byRoute.set(routeName, [entry]);
      }
    }
  }
  return byRoute;
}

// ---- buildGatewayHTTPRouteConfig ----

/** Istio host matching (host.Name.SubsetOf): `a` is covered by `b`. */
function hostSubsetOf(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild) return bWild && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Names.Intersection: the more specific of every matching pair, first seen first. */
function hostIntersection(serverHosts: string[], vsHosts: string[]): string[] {
  const out: string[] = [];
  for (const s of serverHosts) {
    for (const v of vsHosts) {
      const pick = hostSubsetOf(s, v) ? s : hostSubsetOf(v, s) ? v : undefined;
      if (pick !== undefined && !out.includes(pick)) out.push(pick);
    }
  }
  return out;
}

/** host.NamesForNamespace: hosts for a namespace, `ns/` prefixes stripped, other namespaces dropped. */
function hostsForNamespace(hosts: string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash < 0) out.push(h);
    else if (h.slice(0, slash) === namespace || h.slice(0, slash) === '*') out.push(h.slice(slash + 1));
  }
  return out;
}

/** host.MoreSpecific: non-wildcards first, longer first, then alphabetical. */
function moreSpecificOrder(a: string, b: string): number {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw !== bw) return aw ? 1 : -1;
  if (a.length !== b.length) return b.length - a.length;
  return compareStrings(a, b);
}

/**
 * buildNameToServiceMapForHTTPRoutes: a destination host's service in the VirtualService's namespace when
 * the proxy can see it, else the one the proxy's namespace sees.
 */
function gatewayServiceLookup(push: PushContext, proxyNamespace: string, vsNamespace: string) {
  const defaultExportTo = strings(push.snapshot.mesh['defaultServiceExportTo']);
  const exportDefault = defaultExportTo.length > 0 ? defaultExportTo : undefined;
  return (host: string): Service | undefined => {
    const local = servicesByHostname(push)
      .get(host)
      ?.find((s) => s.namespace === vsNamespace);
    if (local && isServiceVisibleTo(local, proxyNamespace, exportDefault)) return local;
    return serviceForHost(push, host, proxyNamespace);
  };
}

function gatewayIgnoresPort(proxy: RouteProxy): boolean {
  return istioVersionAtLeast(proxy.istioVersion, 15) && !isProxylessGrpc(proxy);
}

/** buildGatewayVirtualHostDomains. */
function gatewayDomains(proxy: RouteProxy, hostname: string, port: number): string[] {
  if (hostname === '*' || gatewayIgnoresPort(proxy)) return [hostname];
  if (hostname.startsWith('*')) return [hostname, `${hostname}:${port}`];
  return [hostname, `${hostname.includes(':') ? `[${hostname}]` : hostname}:*`];
}

interface VirtualHostDraft {
  name: string;
  domains: string[];
  routes: Json[];
  requireTls: boolean;
}

function buildGatewayRouteConfig(
  push: PushContext,
  proxy: GatewayRouteProxy,
  routeName: string,
  servers: GatewayRouteServer[],
): Json {
  const index = virtualServiceIndex(push);
  const routeProxy: RouteProxy = proxy;
  const vsByGateway = new Map<string, VirtualServiceConfig[]>();
  // Routes are built once per Gateway and VirtualService and reused by every server of that Gateway.
  const routesByGatewayVs = new Map<string, Json[]>();
  const vhosts = new Map<string, VirtualHostDraft>();
  const mesh = push.snapshot.mesh as Record<string, unknown>;

  for (const server of servers) {
    let vses = vsByGateway.get(server.gatewayName);
    if (!vses) {
      vses = index.forGateway(proxy.namespace, server.gatewayName);
      vsByGateway.set(server.gatewayName, vses);
    }
    for (const vs of vses) {
      const intersecting = hostIntersection(hostsForNamespace(server.hosts, vs.namespace), vs.hosts);
      if (intersecting.length === 0) continue;
      const key = `${server.gatewayName}|${vs.name}/${vs.namespace}`;
      let routes = routesByGatewayVs.get(key);
      if (!routes) {
        const ctx: RouteContext = {
          proxy: routeProxy,
          listenPort: server.port,
          gatewayNames: new Set([server.gatewayName]),
          serviceFor: gatewayServiceLookup(push, proxy.namespace, vs.namespace),
          hashPolicyFor: (d) => hashPolicyForDestination(push, proxy.namespace, d),
          meshRetryPolicy: meshRetryPolicy(mesh),
        };
        const built = buildHttpRoutesForVirtualService(ctx, vs);
        // A VirtualService without applicable routes is skipped (and retried for the next server).
        if (built.length === 0) continue;
        routes = built;
        routesByGatewayVs.set(key, routes);
      }
      for (const hostname of intersecting) {
        const existing = vhosts.get(hostname);
        if (existing) {
          existing.routes = [...existing.routes, ...routes];
          if (server.httpsRedirect) existing.requireTls = true;
        } else {
          vhosts.set(hostname, {
            name: `${hostname}:${server.port}`,
            domains: gatewayDomains(routeProxy, hostname, server.port),
            routes,
            requireTls: server.httpsRedirect,
          });
        }
      }
    }
    if (server.httpsRedirect) {
      // Hosts without routes still get a virtual host that redirects to HTTPS.
      for (const hostname of server.hosts) {
        const existing = vhosts.get(hostname);
        if (existing) existing.requireTls = true;
        else {
          vhosts.set(hostname, {
            name: `${hostname}:${server.port}`,
            domains: gatewayDomains(routeProxy, hostname, server.port),
            routes: [],
            requireTls: true,
          });
        }
      }
    }
  }

  let virtualHosts: Json[];
  if (vhosts.size === 0) {
    virtualHosts = [{ name: `blackhole:${servers[0]?.port ?? 0}`, domains: ['*'] }];
  } else {
    virtualHosts = collapseDuplicateRoutes(vhosts).map((v) => {
      const out: Json = { name: v.name, domains: v.domains };
      const routes = sortVirtualHostRoutes(v.routes);
      if (routes.length > 0) out['routes'] = routes;
      if (v.requireTls) out['requireTls'] = 'ALL';
      out['includeRequestAttemptCount'] = true;
      return out;
    });
    virtualHosts.sort((a, b) => compareStrings(String(a['name']), String(b['name'])));
  }
  const config: Json = { name: routeName, virtualHosts, validateClusters: false };
  if (gatewayIgnoresPort(routeProxy)) config['ignorePortInHostMatching'] = true;
  return config;
}

/**
 * collapseDuplicateRoutes: hosts whose virtual hosts carry the very same routes (the same route objects, as
 * when one VirtualService lists several hosts) become one virtual host with all their domains. As in
 * Istio, a host is compared with the latest virtual host kept for its route list only.
 */
function collapseDuplicateRoutes(vhosts: Map<string, VirtualHostDraft>): VirtualHostDraft[] {
  const ids = new Map<Json, number>();
  const signature = (routes: readonly Json[]): string =>
    routes
      .map((r) => {
        let id = ids.get(r);
        if (id === undefined) ids.set(r, (id = ids.size));
        return id;
      })
      .join(',');
  const out: VirtualHostDraft[] = [];
  const known = new Map<string, VirtualHostDraft>();
  for (const hostname of [...vhosts.keys()].sort(moreSpecificOrder)) {
    const v = vhosts.get(hostname);
    if (!v) continue;
    const key = signature(v.routes);
    const primary = known.get(key);
    if (primary && primary.requireTls === v.requireTls) {
      primary.domains = [...primary.domains, ...v.domains];
    } else {
      const kept = { ...v, domains: [...v.domains] };
      known.set(key, kept);
      out.push(kept);
    }
  }
  return out;
}
