/**
 * A sidecar's outbound listeners as Istio 1.17 builds them for the default (catch-all) egress listener
 * (listener.go buildSidecarOutboundListeners, buildSidecarOutboundListenerForPortOrUDS, tls.go), with
 * outbound protocol sniffing on (Istio's default):
 *
 * - HTTP service ports share `0.0.0.0_<port>`: an HCM chain matching plaintext HTTP (`raw_buffer`,
 *   `http/1.1`/`h2c`) that fetches RDS `<port>`, the HTTP inspector, and a PassthroughFilterChain default;
 * - TCP (and TLS) ports get `<VIP>_<port>` with a tcp_proxy to `outbound|<port>||<host>` (or the
 *   VirtualService's tcp/tls routes); services without a VIP listen on 0.0.0.0 (TLS ones by SNI), headless
 *   services on each endpoint IP;
 * - ports of unknown protocol get both on `<VIP>_<port>`, the HTTP chain fetching RDS `<host>:<port>`;
 * - plus `virtualOutbound` on 0.0.0.0:15001, where iptables sends everything (PassthroughCluster with
 *   ALLOW_ANY, BlackHoleCluster with REGISTRY_ONLY).
 *
 * All listeners are virtual (`bindToPort: false`) unless the proxy does not capture traffic (NONE).
 * Istio orders TCP listeners before HTTP ones but otherwise by Go map order; here each group keeps the
 * order of the imported services. Sidecar egress listeners with explicit ports are not modelled.
 */
import type { Protocol, Service, ServicePort } from '../../registry/index.js';
import { PROTOCOL, isHTTPProtocol, isTCPProtocol, isTLSProtocol } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, outboundClusterName } from './clusters.js';
import {
  HCM_FILTER,
  PLAINTEXT_HTTP_ALPNS,
  RAW_BUFFER_TRANSPORT_PROTOCOL,
  accessLogs,
  cidrRange,
  configInfoMetadata,
  httpConnectionManager,
  httpInspector,
  listenerName,
  meshListenerAccessLog,
  proxyIdleTimeout,
  socketAddress,
  tcpProxyFilter,
  tlsInspector,
} from './listener-filters.js';
import { interceptionMode, protocolDetectionTimeout, wildcardAddress } from './listener-sidecar-inbound.js';
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
import { virtualServiceIndex } from './route-virtual-services.js';
import { hostMatchesPattern, sidecarScopeFor } from './sidecar-scope.js';
import type { Proxy } from './proxy.js';

export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;
const PASSTHROUGH_FILTER_CHAIN = 'PassthroughFilterChain';
const MESH_GATEWAYS: ReadonlySet<string> = new Set(['mesh']);

type OutboundProtocol = 'HTTP' | 'TCP' | 'AUTO';

/** A filter chain before it is assembled (listener.go filterChainOpts). */
interface ChainOpts {
  match?: Json;
  sniHosts?: string[];
  destinationCidrs?: string[];
  metadata?: Json;
  /** RDS name for an HCM chain... */
  rds?: string;
  /** ...or the network filters of a TCP chain. */
  networkFilters?: Json[];
}

interface Entry {
  services: Service[];
  servicePort: ServicePort;
  bind: string;
  listener: Json;
  /** The listener's effective protocol: UnsupportedProtocol once HTTP and TCP share it. */
  protocol: Protocol;
}

interface OutboundContext {
  push: PushContext;
  proxy: Proxy;
  route: TcpRouteContext;
  wildcard: string;
  bindToPort: boolean;
  virtualServices: VirtualServiceConfig[];
  vsIndex: VsHostIndex;
  entries: Map<string, Entry>;
}

/** ModelProtocolToListenerProtocol for outbound with sniffing on; undefined for UDP (no listener). */
function outboundProtocol(p: Protocol): OutboundProtocol | undefined {
  if (isHTTPProtocol(p)) return 'HTTP';
  if (isTCPProtocol(p)) return 'TCP';
  if (p === PROTOCOL.Unsupported) return 'AUTO';
  return undefined;
}

function isHttpEntry(p: Protocol): boolean {
  return isHTTPProtocol(p);
}

function isTcpEntry(p: Protocol): boolean {
  return isTCPProtocol(p);
}

/** buildOutboundCatchAllNetworkFiltersOnly: where unknown destinations go under the outbound policy. */
function catchAllFilters(ctx: { push: PushContext; proxy: Proxy }): Json[] {
  const mode = sidecarScopeFor(ctx.push, ctx.proxy).outboundTrafficPolicy;
  const cluster = mode === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  const idle = proxyIdleTimeout(ctx.proxy);
  return [
    tcpProxyFilter({
      statPrefix: cluster,
      cluster,
      ...(idle ? { idleTimeout: idle } : {}),
      accessLog: accessLogs(ctx.push.snapshot.mesh),
    }),
  ];
}

/** MeshConfig proxyListenPort (15001 by default); 0 turns sidecar listeners off. */
export function proxyListenPort(push: PushContext): number {
  const p = push.snapshot.mesh['proxyListenPort'];
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535 ? p : VIRTUAL_OUTBOUND_PORT;
}

/** `virtualOutbound` on 0.0.0.0:15001 (listener_builder.go buildVirtualOutboundListener). */
export function buildVirtualOutboundListener(push: PushContext, proxy: Proxy): Json | undefined {
  const mode = interceptionMode(proxy);
  if (mode === 'NONE') return undefined;
  const listener: Json = {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: socketAddress(wildcardAddress(proxy), proxyListenPort(push)),
  };
  if (mode === 'TPROXY') listener['transparent'] = true;
  listener['useOriginalDst'] = true;
  listener['filterChains'] = [
    {
      name: 'virtualOutbound-blackhole',
      // Traffic sent to 15001 itself must not loop back through the passthrough.
      filterChainMatch: { destinationPort: proxyListenPort(push) },
      filters: [tcpProxyFilter({ statPrefix: BLACKHOLE_CLUSTER, cluster: BLACKHOLE_CLUSTER })],
    },
    { name: 'virtualOutbound-catchall-tcp', filters: catchAllFilters({ push, proxy }) },
  ];
  listener['trafficDirection'] = 'OUTBOUND';
  const log = meshListenerAccessLog(push.snapshot.mesh);
  if (log) listener['accessLog'] = [log];
  return listener;
}

// ---- filter chain matches ----

function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortedKeys((v as Record<string, unknown>)[k]);
  return out;
}

function matchKey(match: unknown): string {
  return match === undefined ? '{}' : JSON.stringify(sortedKeys(match));
}

function isMatchAll(chain: Json): boolean {
  return matchKey(chain['filterChainMatch']) === '{}';
}

// ---- TCP / TLS chains (tls.go) ----

/** VirtualServices by exact host, plus those with wildcard hosts, as indexes into the imported list. */
interface VsHostIndex {
  exact: Map<string, number[]>;
  wildcard: number[];
}

function indexVirtualServices(list: readonly VirtualServiceConfig[]): VsHostIndex {
  const index: VsHostIndex = { exact: new Map(), wildcard: [] };
  list.forEach((vs, i) => {
    for (const h of vs.hosts) {
      if (h.startsWith('*')) {
        if (!index.wildcard.includes(i)) index.wildcard.push(i);
      } else {
        const at = index.exact.get(h) ?? [];
        if (!at.includes(i)) at.push(i);
        index.exact.set(h, at);
      }
    }
  });
  return index;
}

/** getConfigsForHost: the VirtualServices whose hosts match the service, in their order. */
function vsForHost(ctx: OutboundContext, hostname: string): VirtualServiceConfig[] {
  const hits = new Set(ctx.vsIndex.exact.get(hostname) ?? []);
  for (const i of ctx.vsIndex.wildcard) {
    if (ctx.virtualServices[i]?.hosts.some((h) => hostMatchesPattern(hostname, h))) hits.add(i);
  }
  // A wildcard service host can match exact VirtualService hosts too.
  if (hostname.startsWith('*')) {
    ctx.virtualServices.forEach((vs, i) => {
      if (vs.hosts.some((h) => hostMatchesPattern(hostname, h))) hits.add(i);
    });
  }
  return [...hits].sort((a, b) => a - b).map((i) => ctx.virtualServices[i] as VirtualServiceConfig);
}

function defaultRoutePort(service: Service, listenPort: number): number {
  // A user port that differs from a single-port service's port still goes to that port.
  return service.ports.length === 1 ? (service.ports[0]?.port ?? listenPort) : listenPort;
}

/** buildSidecarOutboundTLSFilterChainOpts. */
function tlsChainOpts(
  ctx: OutboundContext,
  configs: VirtualServiceConfig[],
  destinationCidr: string,
  service: Service,
  bind: string,
  port: ServicePort,
): ChainOpts[] {
  const out: ChainOpts[] = [];
  const handled = new Set<string>();
  const domainSuffix = ctx.push.registry.domainSuffix;
  for (const vs of configs) {
    for (const rule of tlsRules(vs, domainSuffix)) {
      for (const match of rule.match) {
        if (!l4MatchApplies(match, ctx.proxy, MESH_GATEWAYS, port.port)) continue;
        const subnets = Array.isArray(match['destinationSubnets'])
          ? match['destinationSubnets'].filter((s): s is string => typeof s === 'string')
          : [];
        const sni = Array.isArray(match['sniHosts'])
          ? match['sniHosts'].filter((s): s is string => typeof s === 'string')
          : [];
        const cidrs =
          subnets.length > 0 && port.port > 0 ? subnets : destinationCidr ? [destinationCidr] : [];
        // Matches with the same runtime predicates are unreachable after the first.
        const key = `${sni.join(',')}|${subnets.join(',')}`;
        if (handled.has(key)) continue;
        handled.add(key);
        const filters = outboundNetworkFilters(ctx.route, rule.route, port.port, vs);
        if (!filters) continue;
        out.push({
          metadata: configInfoMetadata(vs.configPath),
          sniHosts: sni,
          destinationCidrs: cidrs,
          networkFilters: filters,
        });
      }
    }
  }
  if (out.length > 0) return out;
  const routePort = defaultRoutePort(service, port.port);
  const cluster = outboundClusterName(routePort, '', service.hostname);
  let address = service.defaultAddress;
  if (address.includes('/')) address = '';
  // Without a VIP of its own, SNI is all that tells services on a shared listener apart.
  const useSni =
    destinationCidr !== '' || address === '' || (address === ctx.wildcard && bind === ctx.wildcard);
  return [
    {
      ...(useSni ? { sniHosts: [service.hostname] } : {}),
      destinationCidrs: destinationCidr ? [destinationCidr] : [],
      networkFilters: singleDestinationFilters(ctx.route, cluster, cluster, service, ''),
    },
  ];
}

/** buildSidecarOutboundTCPFilterChainOpts. */
function tcpChainOpts(
  ctx: OutboundContext,
  configs: VirtualServiceConfig[],
  destinationCidr: string,
  service: Service,
  port: ServicePort,
): ChainOpts[] {
  const out: ChainOpts[] = [];
  const baseCidrs = destinationCidr ? [destinationCidr] : [];
  const domainSuffix = ctx.push.registry.domainSuffix;
  let defaultAdded = false;
  outer: for (const vs of configs) {
    for (const rule of tcpRules(vs, domainSuffix)) {
      // A rule without a usable destination (invalid config) is skipped rather than ending the search.
      const f = outboundNetworkFilters(ctx.route, rule.route, port.port, vs);
      if (!f) continue;
      const metadata = configInfoMetadata(vs.configPath);
      if (rule.match.length === 0) {
        out.push({ metadata, destinationCidrs: baseCidrs, networkFilters: f });
        defaultAdded = true;
        break outer;
      }
      const subnets: string[] = [];
      for (const match of rule.match) {
        if (!l4MatchApplies(match, ctx.proxy, MESH_GATEWAYS, port.port)) continue;
        const ms = Array.isArray(match['destinationSubnets'])
          ? match['destinationSubnets'].filter((s): s is string => typeof s === 'string')
          : [];
        // A match without subnets (or on a unix socket) is the terminal, catch-all one.
        if (ms.length === 0 || port.port === 0) {
          out.push({ metadata, destinationCidrs: baseCidrs, networkFilters: f });
          defaultAdded = true;
          break outer;
        }
        subnets.push(...ms);
      }
      if (subnets.length > 0) {
        out.push({ destinationCidrs: subnets, networkFilters: f });
        // The service's own CIDR chain would duplicate this match, which Envoy rejects.
        if ([...subnets].sort().join(',') === [...baseCidrs].sort().join(',')) defaultAdded = true;
      }
    }
  }
  if (!defaultAdded) {
    const cluster = outboundClusterName(defaultRoutePort(service, port.port), '', service.hostname);
    out.push({
      destinationCidrs: baseCidrs,
      networkFilters: singleDestinationFilters(ctx.route, cluster, cluster, service, ''),
    });
  }
  return out;
}

function tcpTlsChainOpts(
  ctx: OutboundContext,
  destinationCidr: string,
  service: Service,
  bind: string,
  port: ServicePort,
): ChainOpts[] {
  const configs = vsForHost(ctx, service.hostname);
  return isTLSProtocol(port.protocol)
    ? tlsChainOpts(ctx, configs, destinationCidr, service, bind, port)
    : tcpChainOpts(ctx, configs, destinationCidr, service, port);
}

// ---- listener assembly (listener.go buildListener + MutableListener.build) ----

function assembleChain(ctx: OutboundContext, opts: ChainOpts, name: string, port: ServicePort): Json {
  let match: Json | undefined = opts.match ? { ...opts.match } : undefined;
  const sni = opts.sniHosts ?? [];
  if (sni.length > 0 && !sni.includes('*')) {
    match ??= {};
    match['serverNames'] = [...sni].sort();
  }
  const cidrs = [...(opts.destinationCidrs ?? [])].sort();
  const ranges = cidrs
    .map(cidrRange)
    .filter((c): c is Json => c !== undefined && c['addressPrefix'] !== '0.0.0.0');
  if (ranges.length > 0) {
    match ??= {};
    match['prefixRanges'] = ranges;
  }
  const chain: Json = {};
  if (match && (opts.match !== undefined || matchKey(match) !== '{}')) chain['filterChainMatch'] = match;
  if (opts.rds !== undefined) {
    const hcm = httpConnectionManager(ctx.push.snapshot.mesh, ctx.proxy, {
      class: 'sidecar-outbound',
      statPrefix: `outbound_${name}`,
      rds: opts.rds,
      useRemoteAddress: false,
      protocol: port.protocol,
    });
    chain['filters'] = [{ name: HCM_FILTER, typedConfig: hcm }];
  } else {
    chain['filters'] = opts.networkFilters ?? [];
  }
  if (opts.metadata) chain['metadata'] = opts.metadata;
  return chain;
}

function buildListener(
  ctx: OutboundContext,
  bind: string,
  port: ServicePort,
  chains: ChainOpts[],
  needHttpInspector: boolean,
): Json {
  const name = listenerName(bind, port.port);
  const listenerFilters: Json[] = [];
  // The TLS inspector rides along with the HTTP one so ALPN matches never pull in an implicit one.
  if (needHttpInspector || chains.some((c) => (c.sniHosts ?? []).length > 0))
    listenerFilters.push(tlsInspector());
  if (needHttpInspector) listenerFilters.push(httpInspector());
  const listener: Json = {
    name,
    address: socketAddress(bind, port.port),
    trafficDirection: 'OUTBOUND',
  };
  if (listenerFilters.length > 0) listener['listenerFilters'] = listenerFilters;
  listener['filterChains'] = chains.map((c) => assembleChain(ctx, c, name, port));
  if (!ctx.bindToPort) listener['bindToPort'] = false;
  listener['listenerFiltersTimeout'] = protocolDetectionTimeout(ctx.push.snapshot.mesh);
  listener['continueOnListenerFiltersTimeout'] = true;
  const log = meshListenerAccessLog(ctx.push.snapshot.mesh);
  if (log) listener['accessLog'] = [log];
  return listener;
}

/** mergeListenerFilters: the union of the TLS and HTTP inspectors. */
function mergeListenerFilters(existing: Json, incoming: Json): void {
  const names = (l: Json): string[] =>
    Array.isArray(l['listenerFilters']) ? (l['listenerFilters'] as Json[]).map((f) => String(f['name'])) : [];
  const have = names(existing);
  const want = names(incoming);
  const list = Array.isArray(existing['listenerFilters']) ? [...(existing['listenerFilters'] as Json[])] : [];
  if (
    !have.includes('envoy.filters.listener.tls_inspector') &&
    want.includes('envoy.filters.listener.tls_inspector')
  ) {
    list.push(tlsInspector());
  }
  if (
    !have.includes('envoy.filters.listener.http_inspector') &&
    want.includes('envoy.filters.listener.http_inspector')
  ) {
    list.push(httpInspector());
  }
  if (list.length > 0) existing['listenerFilters'] = list;
}

function chainsOf(l: Json): Json[] {
  return Array.isArray(l['filterChains']) ? (l['filterChains'] as Json[]) : [];
}

/** mergeTCPFilterChains: incoming chains whose match is new join the listener; the rest are conflicts. */
function mergeTcpChains(entry: Entry, incoming: Json[], service: Service): Json[] {
  const merged = [...chainsOf(entry.listener)];
  for (const chain of incoming) {
    const key = matchKey(chain['filterChainMatch']);
    if (merged.some((c) => matchKey(c['filterChainMatch']) === key)) continue;
    merged.push(chain);
    entry.services.push(service);
  }
  return merged;
}

/** mergeFilterChains: TCP chains first, then the HTTP ones (given the plaintext HTTP ALPNs). */
function mergeHttpIntoTcp(httpChains: Json[], tcpChains: Json[]): Json[] {
  const http = httpChains.map((c) => {
    const match: Json = { ...((c['filterChainMatch'] as Json | undefined) ?? {}) };
    const alpns = Array.isArray(match['applicationProtocols'])
      ? [...(match['applicationProtocols'] as string[])]
      : [];
    for (const p of PLAINTEXT_HTTP_ALPNS) if (!alpns.includes(p)) alpns.push(p);
    match['applicationProtocols'] = alpns;
    return { ...c, filterChainMatch: match };
  });
  return [...tcpChains, ...http];
}

/** isConflictWithWellKnownPort: Mongo and MySQL never share a port with another protocol. */
function wellKnownConflict(incoming: Protocol, existing: Protocol): boolean {
  const special = (p: Protocol): boolean => p === PROTOCOL.Mongo || p === PROTOCOL.MySQL;
  return (special(incoming) || special(existing)) && incoming !== existing;
}

/** buildSidecarOutboundListenerForPortOrUDS. */
function addServicePort(ctx: OutboundContext, service: Service, port: ServicePort, presetBind: string): void {
  const lp = outboundProtocol(port.protocol);
  if (!lp) return;
  let bind = presetBind;
  let destinationCidr = '';
  const chains: ChainOpts[] = [];
  let needHttpInspector = false;
  let entryProtocol: Protocol = port.protocol;

  const resolveTcpBind = (): void => {
    if (bind !== '') return;
    const address = service.defaultAddress;
    if (address === '') return;
    if (address.includes('/')) {
      // A CIDR address listens on the wildcard and matches the range in the filter chain.
      destinationCidr = address;
      bind = ctx.wildcard;
    } else {
      bind = address;
    }
  };
  const httpRds = (): string =>
    lp === 'AUTO' && bind !== ctx.wildcard ? `${service.hostname}:${port.port}` : String(port.port);
  const plaintextHttpMatch = (): Json => ({
    transportProtocol: RAW_BUFFER_TRANSPORT_PROTOCOL,
    applicationProtocols: [...PLAINTEXT_HTTP_ALPNS],
  });

  if (lp === 'HTTP') {
    if (bind === '') bind = ctx.wildcard;
    const existing = ctx.entries.get(`${bind}:${port.port}`);
    if (existing && !isTcpEntry(existing.protocol)) {
      // HTTP over HTTP or over a sniffed listener: the route configuration serves the new host.
      existing.services.push(service);
      return;
    }
    const opts: ChainOpts = { rds: httpRds() };
    if (bind === ctx.wildcard) {
      opts.match = plaintextHttpMatch();
      needHttpInspector = true;
      // With a TCP fallthrough this listener is sniffed, not plain HTTP.
      entryProtocol = PROTOCOL.Unsupported;
    }
    chains.push(opts);
  } else if (lp === 'TCP') {
    resolveTcpBind();
    chains.push(...tcpTlsChainOpts(ctx, destinationCidr, service, bind, port));
  } else {
    resolveTcpBind();
    const existingAuto = ctx.entries.get(`${bind}:${port.port}`);
    chains.push(...tcpTlsChainOpts(ctx, destinationCidr, service, bind, port));
    if (existingAuto && !isHttpEntry(existingAuto.protocol) && !isTcpEntry(existingAuto.protocol)) {
      existingAuto.services.push(service);
      return;
    }
    chains.push({ rds: httpRds(), match: plaintextHttpMatch() });
    needHttpInspector = true;
  }

  // Istio drops a listener it cannot give a single filter chain.
  if (chains.length === 0) return;
  const key = `${bind}:${port.port}`;
  const existing = ctx.entries.get(key);
  const listener = buildListener(ctx, bind, port, chains, needHttpInspector);
  if (!existing) {
    ctx.entries.set(key, { services: [service], servicePort: port, bind, listener, protocol: entryProtocol });
    return;
  }
  if (wellKnownConflict(port.protocol, existing.protocol)) return;
  mergeListenerFilters(existing.listener, listener);
  const incoming = chainsOf(listener);
  if (lp === 'HTTP') {
    // HTTP over TCP: the TCP chains stay first, HTTP is told apart by ALPN.
    existing.listener['filterChains'] = mergeHttpIntoTcp(incoming, chainsOf(existing.listener));
    existing.protocol = PROTOCOL.Unsupported;
    existing.services.push(service);
  } else if (lp === 'TCP') {
    if (isHttpEntry(existing.protocol)) {
      existing.listener['filterChains'] = mergeHttpIntoTcp(chainsOf(existing.listener), incoming);
      existing.protocol = PROTOCOL.Unsupported;
    } else {
      existing.listener['filterChains'] = mergeTcpChains(existing, incoming, service);
    }
  } else if (isHttpEntry(existing.protocol)) {
    // Sniffed over HTTP: the new listener replaces the old one.
    ctx.entries.set(key, {
      services: [...existing.services, service],
      servicePort: port,
      bind,
      listener,
      protocol: PROTOCOL.Unsupported,
    });
  } else {
    existing.listener['filterChains'] = mergeTcpChains(existing, incoming, service);
    existing.protocol = PROTOCOL.Unsupported;
  }
}

/** appendListenerFallthroughRouteForCompleteListener. */
function addFallthrough(ctx: OutboundContext, listener: Json): void {
  const chains = chainsOf(listener);
  const index = chains.findIndex(isMatchAll);
  if (index >= 0 && chains.length > 1) {
    const [matchAll] = chains.splice(index, 1);
    listener['filterChains'] = chains;
    listener['defaultFilterChain'] = matchAll;
  } else if (index < 0) {
    listener['defaultFilterChain'] = {
      filterChainMatch: {},
      filters: catchAllFilters(ctx),
      name: PASSTHROUGH_FILTER_CHAIN,
    };
  }
}

/** removeListenerFilterTimeout: only listeners that sniff HTTP wait for their inspectors. */
function dropUnusedTimeout(listener: Json): void {
  const filters = Array.isArray(listener['listenerFilters']) ? (listener['listenerFilters'] as Json[]) : [];
  if (filters.some((f) => f['name'] === 'envoy.filters.listener.http_inspector')) return;
  delete listener['listenerFiltersTimeout'];
  delete listener['continueOnListenerFiltersTimeout'];
}

function isUsableIp(address: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) || (address.includes(':') && !address.includes('/'));
}

/**
 * The per-port outbound listeners of a sidecar for the services it imports (its SidecarScope's, unless
 * `services` is given).
 */
export function buildSidecarOutboundListeners(
  push: PushContext,
  proxy: Proxy,
  services?: readonly Service[],
): Json[] {
  const scope = sidecarScopeFor(push, proxy);
  const index = virtualServiceIndex(push);
  const virtualServices: VirtualServiceConfig[] = [];
  for (const r of scope.virtualServices) {
    const vs = index.forResource(r);
    if (vs) virtualServices.push(vs);
  }
  const noneMode = interceptionMode(proxy) === 'NONE';
  const ctx: OutboundContext = {
    push,
    proxy,
    route: { push, proxy, cls: 'sidecar-outbound' },
    wildcard: wildcardAddress(proxy),
    bindToPort: noneMode,
    virtualServices,
    vsIndex: indexVirtualServices(virtualServices),
    entries: new Map(),
  };
  // Without capture the listeners must really bind, on localhost.
  const bind = noneMode ? (ctx.wildcard === '::' ? '::1' : '127.0.0.1') : '';
  for (const service of services ?? scope.services) {
    for (const port of service.ports) {
      const headless =
        bind === '' &&
        service.resolution === 'Passthrough' &&
        service.defaultAddress === '0.0.0.0' &&
        (isTCPProtocol(port.protocol) || port.protocol === PROTOCOL.Unsupported);
      if (!headless) {
        addServicePort(ctx, service, port, bind);
        continue;
      }
      const endpoints = push.registry.endpoints(service, port.port);
      if (service.registry !== 'Kubernetes' && endpoints.length === 0 && !service.selector) {
        // A plain NONE-resolution ServiceEntry falls back to a wildcard listener.
        addServicePort(ctx, service, port, bind);
        continue;
      }
      // Headless services get a listener per endpoint, except the proxy's own address.
      for (const ep of endpoints) {
        if (!isUsableIp(ep.address) || ep.address === proxy.ipAddresses[0]) continue;
        addServicePort(ctx, service, port, ep.address);
      }
    }
  }
  const entries = [...ctx.entries.values()];
  const ordered = [
    ...entries.filter((e) => isTcpEntry(e.servicePort.protocol)),
    ...entries.filter((e) => !isTcpEntry(e.servicePort.protocol)),
  ];
  const listeners = ordered.map((e) => e.listener);
  for (const l of listeners) {
    addFallthrough(ctx, l);
    dropUnusedTimeout(l);
  }
  return listeners;
}
