/**
 * A sidecar's outbound RDS route configurations as Istio 1.17 builds them (pilot/pkg/networking/core/
 * v1alpha3/httproute.go buildSidecarOutboundHTTPRouteConfig, BuildSidecarOutboundVirtualHosts,
 * generateVirtualHostDomains; route/route.go BuildSidecarVirtualHostWrapper):
 *
 * - route `<port>`: a virtual host `<host>:<port>` per imported service with an HTTP (or sniffed) port of
 *   that number, whose routes come from the VirtualServices (bound to `mesh`) naming the host, or else the
 *   `default` route to `outbound|<port>||<host>`; VirtualService hosts that are no service get their own
 *   virtual host on port 80 only; then the catch-all `allow_any` (PassthroughCluster) or `block_all` (502);
 * - route `<host>:<port>` (the listener of a protocol-sniffed service with a VIP): only that service's
 *   virtual host, with domains `*`, and no catch-all;
 * - domains: the FQDN plus the short forms the proxy's DNS domain allows (`name`, `name.ns`, `name.ns.svc`
 *   in its own namespace; `name.ns`, `name.ns.svc` elsewhere) and the service VIP, without ports because
 *   1.17 sets `ignorePortInHostMatching`; each domain is used once across the configuration.
 */
import { isIP } from 'node:net';
import type { Protocol, Service } from '../../registry/index.js';
import { isHTTPProtocol, PROTOCOL, UNSPECIFIED_IP } from '../../registry/index.js';
import { KIND, typedSpec } from '../../api/index.js';
import type { Json } from './clusters.js';
import { outboundClusterName, PASSTHROUGH_CLUSTER } from './clusters.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { hashPolicyForDestination, hashPolicyForService } from './route-hash.js';
import type { RouteContext } from './route-translate.js';
import {
  buildDefaultOutboundRoute,
  buildHttpRoutesForVirtualService,
  destinationClusterName,
  isProxylessGrpc,
  istioVersionAtLeast,
  meshRetryPolicy,
} from './route-translate.js';
import type { VirtualServiceConfig } from './route-virtual-services.js';
import { MESH_GATEWAY, virtualServiceIndex } from './route-virtual-services.js';
import { compareStrings, isRecord, recordField } from './route-values.js';
import { sidecarScopeFor } from './sidecar-scope.js';

/** Envoy's default direct-response body limit is 4 KiB; Istio validates 1 MiB and raises it to match. */
const MAX_DIRECT_RESPONSE_BODY_BYTES = 1024 * 1024;
const ALLOW_ANY = 'allow_any';
const BLOCK_ALL = 'block_all';

type SidecarRouteProxy = Proxy;

/** Ports without a known protocol are sniffed: HTTP on them is routed like on HTTP ports. */
function isSniffedPort(protocol: Protocol): boolean {
  return protocol === PROTOCOL.Unsupported;
}

function carriesHttp(protocol: Protocol): boolean {
  return isHTTPProtocol(protocol) || isSniffedPort(protocol);
}

/**
 * The route names a sidecar's outbound listeners ask for (listener.go buildSidecarOutboundListeners):
 * `<port>` for HTTP service ports, which share the wildcard listener; for protocol-sniffed ports
 * `<host>:<port>` when the listener binds to the service's VIP, or to each endpoint IP of a headless
 * Service, and `<port>` for a headless ServiceEntry without endpoints (it falls back to the wildcard).
 * Sorted by port, then name.
 */
export function sidecarRouteNames(push: PushContext, proxy: SidecarRouteProxy): string[] {
  const names = new Set<string>();
  for (const service of sidecarScopeFor(push, proxy).services) {
    for (const port of service.ports) {
      if (isHTTPProtocol(port.protocol)) {
        names.add(String(port.port));
      } else if (isSniffedPort(port.protocol)) {
        const own = `${service.hostname}:${port.port}`;
        if (service.defaultAddress !== UNSPECIFIED_IP || service.resolution !== 'Passthrough') {
          names.add(service.defaultAddress !== UNSPECIFIED_IP ? own : String(port.port));
          continue;
        }
        const endpointIps = push.registry
          .endpoints(service, port.port)
          .filter((e) => isIP(e.address) !== 0 && e.address !== proxy.ipAddresses[0]);
        if (endpointIps.length > 0) names.add(own);
        else if (service.registry !== 'Kubernetes' && service.selector === undefined)
          names.add(String(port.port));
      }
    }
  }
  const portOf = (n: string): number => Number(n.slice(n.lastIndexOf(':') + 1)) || 0;
  return [...names].sort((a, b) => portOf(a) - portOf(b) || compareStrings(a, b));
}

/**
 * The sidecar's route configurations: the named ones (as its listeners request them), or every one of
 * sidecarRouteNames. A name that yields nothing gets an empty configuration, as Istio answers.
 */
export function buildSidecarRouteConfigs(
  push: PushContext,
  proxy: SidecarRouteProxy,
  routeNames?: readonly string[],
): Json[] {
  const names = routeNames ?? sidecarRouteNames(push, proxy);
  const vhostsByPort = new Map<number, Json[]>();
  return names.map(
    (name) => buildSidecarRouteConfig(push, proxy, name, vhostsByPort) ?? { name, validateClusters: false },
  );
}

function sidecarIgnoresPort(proxy: SidecarRouteProxy): boolean {
  return istioVersionAtLeast(proxy.istioVersion, 15) && !isProxylessGrpc(proxy);
}

function buildSidecarRouteConfig(
  push: PushContext,
  proxy: SidecarRouteProxy,
  routeName: string,
  vhostsByPort: Map<number, Json[]>,
): Json | undefined {
  const colon = routeName.indexOf(':');
  const sniffed = colon >= 0 && !routeName.startsWith('unix://');
  const portText = routeName.slice(colon + 1);
  // `http_proxy` and unix-socket routes (Sidecar egress listeners) are not built.
  if (!/^\d+$/.test(portText)) return undefined;
  const listenPort = Number(portText);
  let vhosts = vhostsByPort.get(listenPort);
  if (!vhosts) {
    vhosts = sidecarVirtualHosts(push, proxy, listenPort);
    vhostsByPort.set(listenPort, vhosts);
  }
  let virtualHosts = sniffed ? vhostsForSniffedRoute(vhosts, routeName) : [...vhosts];
  virtualHosts = [...virtualHosts].sort((a, b) => compareStrings(String(a['name']), String(b['name'])));
  if (!sniffed) virtualHosts.push(catchAllVirtualHost(push, proxy));
  const config: Json = {
    name: routeName,
    virtualHosts,
    validateClusters: false,
    maxDirectResponseBodySizeBytes: MAX_DIRECT_RESPONSE_BODY_BYTES,
  };
  if (sidecarIgnoresPort(proxy)) config['ignorePortInHostMatching'] = true;
  return config;
}

/** getVirtualHostsForSniffedServicePort: the service's own virtual host, answering any domain. */
function vhostsForSniffedRoute(vhosts: Json[], routeName: string): Json[] {
  const host = routeName.slice(0, routeName.lastIndexOf(':'));
  const found = vhosts.filter((v) => {
    const domains = Array.isArray(v['domains']) ? v['domains'] : [];
    return domains.includes(routeName) || domains.includes(host);
  });
  if (found.length === 1 && found[0]) return [{ ...found[0], domains: ['*'] }];
  return found;
}

/** buildCatchAllVirtualHost: pass unknown hosts through (ALLOW_ANY) or answer 502 (REGISTRY_ONLY). */
function catchAllVirtualHost(push: PushContext, proxy: SidecarRouteProxy): Json {
  const scope = sidecarScopeFor(push, proxy);
  if (scope.outboundTrafficPolicy === 'ALLOW_ANY') {
    let cluster = PASSTHROUGH_CLUSTER;
    const spec: unknown = scope.sidecar ? typedSpec(scope.sidecar, KIND.Sidecar) : undefined;
    const egressProxy = recordField(
      recordField(isRecord(spec) ? spec : undefined, 'outboundTrafficPolicy'),
      'egressProxy',
    );
    // Unknown traffic goes to the Sidecar's egress proxy when it names one.
    if (egressProxy) cluster = destinationClusterName(egressProxy, undefined, 0);
    return {
      name: ALLOW_ANY,
      domains: ['*'],
      routes: [
        {
          name: ALLOW_ANY,
          match: { prefix: '/' },
          route: { cluster, timeout: '0s', maxGrpcTimeout: '0s' },
        },
      ],
      includeRequestAttemptCount: true,
    };
  }
  return {
    name: BLOCK_ALL,
    domains: ['*'],
    routes: [{ name: BLOCK_ALL, match: { prefix: '/' }, directResponse: { status: 502 } }],
    includeRequestAttemptCount: true,
  };
}

// ---- virtual hosts of one listener port (BuildSidecarOutboundVirtualHosts) ----

interface VirtualHostWrapper {
  port: number;
  services: Service[];
  /** VirtualService hosts that are not services. */
  virtualServiceHosts: string[];
  routes: Json[];
}

/** host.Name.Matches: equal, or either side a wildcard covering the other. */
function hostMatches(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** selectVirtualServices: VirtualServices with a host that is (or matches) one of the port's services. */
function selectVirtualServices(
  vses: VirtualServiceConfig[],
  services: Map<string, Service>,
): VirtualServiceConfig[] {
  const hosts = [...services.keys()];
  // Only wildcards need a scan: a concrete host is looked up, then tried against wildcard services.
  const wildcardHosts = hosts.filter((h) => h.startsWith('*'));
  return vses.filter((vs) =>
    vs.hosts.some(
      (h) => services.has(h) || (h.startsWith('*') ? hosts : wildcardHosts).some((s) => hostMatches(h, s)),
    ),
  );
}

/** separateVSHostsAndServices: a VirtualService's hosts split into services and plain names. */
function separateHostsAndServices(
  vs: VirtualServiceConfig,
  services: Map<string, Service>,
): { hosts: string[]; services: Service[] } {
  const hosts: string[] = [];
  const found: Service[] = [];
  const wildcards: string[] = [];
  for (const h of vs.hosts) {
    if (h.startsWith('*')) wildcards.push(h);
    else {
      const s = services.get(h);
      if (s) found.push(s);
      else hosts.push(h);
    }
  }
  for (const h of wildcards) {
    if (vs.gatewaySemantics) {
      hosts.push(h);
      continue;
    }
    // Istio walks a map here; hostname order keeps the output stable.
    const matched = [...services.values()].filter((s) => hostMatches(s.hostname, h));
    if (matched.length === 0) hosts.push(h);
    found.push(...matched);
  }
  return { hosts, services: found };
}

/** The VirtualServices a sidecar imports, in Istio's order (private, exported-to, public). */
function importedVirtualServices(push: PushContext, proxy: SidecarRouteProxy): VirtualServiceConfig[] {
  const index = virtualServiceIndex(push);
  const scope = sidecarScopeFor(push, proxy);
  const imported = new Set<VirtualServiceConfig>();
  for (const r of scope.virtualServices) {
    const vs = index.forResource(r);
    if (vs) imported.add(vs);
  }
  return index.forGateway(proxy.namespace, MESH_GATEWAY).filter((vs) => imported.has(vs));
}

function sidecarVirtualHosts(push: PushContext, proxy: SidecarRouteProxy, listenPort: number): Json[] {
  const scope = sidecarScopeFor(push, proxy);
  const mesh = push.snapshot.mesh as Record<string, unknown>;
  // Each service reduced to its port of this number.
  const servicesByName = new Map<string, Service>();
  for (const svc of scope.services) {
    const port = svc.ports.find((p) => p.port === listenPort);
    if (port) servicesByName.set(svc.hostname, { ...svc, ports: [port] });
  }

  let vses = importedVirtualServices(push, proxy);
  // Port 80 keeps VirtualServices whose hosts are no service (a long-standing Istio special case).
  if (listenPort !== 80) vses = selectVirtualServices(vses, servicesByName);

  const wrappers: VirtualHostWrapper[] = [];
  const ctx: RouteContext = {
    proxy,
    listenPort,
    gatewayNames: new Set([MESH_GATEWAY]),
    serviceFor: (host) => servicesByName.get(host),
    hashPolicyFor: (d) => hashPolicyForDestination(push, proxy.namespace, d),
    meshRetryPolicy: meshRetryPolicy(mesh),
  };
  for (const vs of vses) {
    const routes = buildHttpRoutesForVirtualService(ctx, vs);
    if (routes.length === 0) continue;
    const split = separateHostsAndServices(vs, servicesByName);
    const httpServices = split.services.filter((s) => s.ports.some((p) => carriesHttp(p.protocol)));
    if (httpServices.length > 0) {
      wrappers.push({ port: listenPort, services: httpServices, virtualServiceHosts: split.hosts, routes });
    } else if (listenPort === 80) {
      wrappers.push({ port: 80, services: [], virtualServiceHosts: split.hosts, routes });
    }
  }
  for (const w of wrappers) for (const s of w.services) servicesByName.delete(s.hostname);
  for (const svc of [...servicesByName.values()].sort((a, b) => compareStrings(a.hostname, b.hostname))) {
    const port = svc.ports[0];
    if (!port || !carriesHttp(port.protocol)) continue;
    const cluster = outboundClusterName(port.port, '', svc.hostname);
    const route = buildDefaultOutboundRoute(
      cluster,
      `${svc.hostname}:${port.port}/*`,
      meshRetryPolicy(mesh),
      hashPolicyForService(push, proxy.namespace, svc, port.port),
    );
    wrappers.push({ port: port.port, services: [svc], virtualServiceHosts: [], routes: [route] });
  }

  const knownFqdn = new Set<string>();
  for (const w of wrappers) {
    for (const s of w.services) {
      knownFqdn.add(`${s.hostname}:${w.port}`);
      knownFqdn.add(s.hostname);
    }
  }
  const names = new Set<string>();
  const usedDomains = new Set<string>();
  const ignorePort = sidecarIgnoresPort(proxy);
  const out: Json[] = [];
  const build = (hostname: string, w: VirtualHostWrapper, svc: Service | undefined): void => {
    const name = joinHostPort(hostname, w.port);
    if (names.has(name)) return;
    names.add(name);
    let domains: string[];
    let altHosts: string[] = [];
    if (!svc) domains = ignorePort ? [ipv6Compliant(hostname)] : [ipv6Compliant(hostname), name];
    else
      ({ domains, altHosts } = virtualHostDomains(svc, ignorePort && listenPort !== 0 ? 0 : w.port, proxy));
    const kept = domains.filter((d) => {
      if (usedDomains.has(d)) return false;
      // An expanded short form that is itself some service's FQDN belongs to that service.
      if (altHosts.includes(d) && knownFqdn.has(d)) return false;
      usedDomains.add(d);
      return true;
    });
    if (kept.length > 0)
      out.push({ name, domains: kept, routes: w.routes, includeRequestAttemptCount: true });
  };
  for (const w of wrappers) {
    if (w.routes.length === 0 || w.port !== listenPort) continue;
    for (const h of w.virtualServiceHosts) build(h, w, undefined);
    for (const s of w.services) build(s.hostname, w, s);
  }
  return out;
}

function ipv6Compliant(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** net.JoinHostPort. */
function joinHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** appendDomainPort: the domain, plus `domain:port` unless ports are ignored (port 0). */
function withPort(domain: string, port: number): string[] {
  return port === 0 ? [ipv6Compliant(domain)] : [ipv6Compliant(domain), joinHostPort(domain, port)];
}

/** generateVirtualHostDomains: the FQDN, its short forms, `*.` copies for headless Services, the VIP. */
function virtualHostDomains(
  svc: Service,
  /** 0 when ports are ignored in host matching. */
  port: number,
  proxy: SidecarRouteProxy,
): { domains: string[]; altHosts: string[] } {
  const altHosts = alternateHosts(svc.hostname, port, proxy.dnsDomain);
  const domains = [...withPort(svc.hostname, port), ...altHosts];
  if (svc.resolution === 'Passthrough' && svc.registry === 'Kubernetes') {
    for (const d of [...domains]) domains.push(`*.${d}`);
  }
  const address = svc.defaultAddress;
  if (address !== '' && address !== UNSPECIFIED_IP) domains.push(...withPort(address, port));
  return { domains, altHosts };
}

/** GenerateAltVirtualHosts: the names a client in the proxy's DNS domain may use for a host. */
export function alternateHosts(hostname: string, port: number, proxyDomain: string): string[] {
  const svcAt = proxyDomain.indexOf('.svc.');
  if (svcAt >= 0) {
    const suffix = svcAt > 0 ? proxyDomain.slice(svcAt) : proxyDomain;
    if (!hostname.endsWith(suffix)) return [];
    return kubernetesAlternateHosts(hostname, port, proxyDomain);
  }
  const hostParts = hostname.split('.');
  const domainParts = proxyDomain.split('.');
  let shared = 0;
  while (
    shared < Math.min(hostParts.length, domainParts.length) &&
    hostParts[hostParts.length - 1 - shared] === domainParts[domainParts.length - 1 - shared]
  ) {
    shared++;
  }
  if (shared === 0) return [];
  const unique = hostParts.slice(0, hostParts.length - shared);
  const uniqueHost = unique.join('.');
  const out = withPort(uniqueHost, port);
  if (unique.length === 2)
    out.push(...withPort(`${uniqueHost}.${hostParts[hostParts.length - shared]}`, port));
  return out;
}

/** generateAltVirtualHostsForKubernetesService. */
function kubernetesAlternateHosts(hostname: string, port: number, proxyDomain: string): string[] {
  const id = proxyDomain.indexOf('.svc.');
  const ih = hostname.indexOf('.svc.');
  if (ih <= 0) return [];
  const ns = hostname.indexOf('.');
  if (ns + 1 >= hostname.length || ns + 1 > ih) return [];
  const name = hostname.slice(0, ns);
  const nameNs = hostname.slice(0, ih);
  if (hostname.slice(ns + 1, ih) === proxyDomain.slice(0, id)) {
    return [...withPort(name, port), ...withPort(`${nameNs}.svc`, port), ...withPort(nameNs, port)];
  }
  return [...withPort(nameNs, port), ...withPort(`${nameNs}.svc`, port)];
}
