/**
 * A sidecar's `virtualInbound` listener on 0.0.0.0:15006 as Istio 1.17 builds it
 * (pilot/pkg/networking/core/v1alpha3/listener_inbound.go, filterchain_options.go): a blackhole chain for
 * traffic sent to 15006 itself, the passthrough chains for ports no Service declares (to
 * `InboundPassthroughClusterIpv4`), and per workload port the chains its mTLS mode and protocol call for,
 * each ending in an HTTP connection manager with the inline route `inbound|<port>||` or a tcp_proxy to
 * that cluster.
 *
 * AuthorizationPolicy RBAC filters (authz-builder.ts) go into every HTTP connection manager after metadata
 * exchange, and on TCP chains between metadata exchange and tcp_proxy (buildInboundNetworkFilters).
 *
 * Not modelled: Sidecar `ingress` listeners, HBONE, Telemetry filters.
 */
import type { Protocol } from '../../registry/index.js';
import { PROTOCOL, isHTTPProtocol } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { BLACKHOLE_CLUSTER, normalizeDuration } from './clusters.js';
import type { ListenerProxy } from './listener-filters.js';
import {
  ALL_ISTIO_MTLS_ALPNS,
  ENVOY_SERVER_NAME,
  MTLS_HTTP_ALPNS,
  MTLS_TCP_WITH_MXC_ALPNS,
  PLAINTEXT_HTTP_ALPNS,
  RAW_BUFFER_TRANSPORT_PROTOCOL,
  TLS_TRANSPORT_PROTOCOL,
  HCM_FILTER,
  httpConnectionManager,
  httpInspector,
  inboundHttp2Options,
  istioAuthnFilter,
  istioVersionAtLeast,
  listenerName,
  meshListenerAccessLog,
  accessLogs,
  originalDst,
  originalSrc,
  proxyIdleTimeout,
  socketAddress,
  tcpMetadataExchangeFilter,
  tcpProxyFilter,
  tlsInspector,
} from './listener-filters.js';
import type { InstanceProxy } from './listener-instances.js';
import { proxyServiceInstances } from './listener-instances.js';
import type { MtlsMode, PeerAuthnPolicy } from './listener-mtls.js';
import {
  inboundMtlsContext,
  mtlsModeForPort,
  peerAuthenticationFor,
  tlsTransportSocket,
} from './listener-mtls.js';
import type { PushContext } from './push-context.js';
import { authzHttpFilters, authzTcpFilters } from './authz-builder.js';

export const VIRTUAL_INBOUND_LISTENER = 'virtualInbound';
export const VIRTUAL_INBOUND_PORT = 15006;
export const INBOUND_PASSTHROUGH_CLUSTER_IPV4 = 'InboundPassthroughClusterIpv4';
export const INBOUND_PASSTHROUGH_CLUSTER_IPV6 = 'InboundPassthroughClusterIpv6';
const CATCHALL_HTTP_CHAIN = 'virtualInbound-catchall-http';
const BLACKHOLE_CHAIN = 'virtualInbound-blackhole';

type ChainProtocol = 'HTTP' | 'TCP' | 'AUTO';

interface ChainMatchOption {
  applicationProtocols?: string[];
  transportProtocol: string;
  protocol: 'HTTP' | 'TCP';
  tls: boolean;
}

/** One inbound filter chain config (listener_inbound.go inboundChainConfig). */
interface InboundChainConfig {
  clusterName: string;
  portName: string;
  /** The service port (telemetry, route decorator and vhost name). */
  port: number;
  targetPort: number;
  protocol: Protocol;
  bind: string;
  passthrough: boolean;
  hostname: string;
}

/** The proxy's IP families, from its addresses (no addresses: IPv4). */
export function ipFamilies(proxy: ListenerProxy): { ipv4: boolean; ipv6: boolean } {
  const ips = (proxy.ipAddresses ?? []).filter((ip) => ip !== '');
  const ipv6 = ips.some((ip) => ip.includes(':'));
  const ipv4 = ips.length === 0 || ips.some((ip) => !ip.includes(':'));
  return { ipv4, ipv6 };
}

/** The first wildcard address of the proxy's IP mode (`0.0.0.0`, or `::` for IPv6-only proxies). */
export function wildcardAddress(proxy: ListenerProxy): string {
  return ipFamilies(proxy).ipv4 ? '0.0.0.0' : '::';
}

/** INTERCEPTION_MODE metadata: REDIRECT (default), TPROXY or NONE. */
export function interceptionMode(proxy: ListenerProxy): 'REDIRECT' | 'TPROXY' | 'NONE' {
  const m = proxy.metadata?.['INTERCEPTION_MODE'];
  return m === 'TPROXY' || m === 'NONE' ? m : 'REDIRECT';
}

/** istionetworking.ModelProtocolToListenerProtocol for inbound (sniffing on); UDP and unknown read as TCP. */
function inboundListenerProtocol(p: Protocol): ChainProtocol {
  if (isHTTPProtocol(p)) return 'HTTP';
  if (p === PROTOCOL.Unsupported) return 'AUTO';
  return 'TCP';
}

const opt = (
  protocol: 'HTTP' | 'TCP',
  transportProtocol: string,
  tls: boolean,
  applicationProtocols?: string[],
): ChainMatchOption => ({
  protocol,
  transportProtocol,
  tls,
  ...(applicationProtocols ? { applicationProtocols } : {}),
});

/** getFilterChainMatchOptions: the chains a port gets for its mTLS mode and protocol. */
function filterChainMatchOptions(mode: MtlsMode, protocol: ChainProtocol): ChainMatchOption[] {
  const TLS = TLS_TRANSPORT_PROTOCOL;
  const RAW = RAW_BUFFER_TRANSPORT_PROTOCOL;
  if (protocol === 'HTTP') {
    if (mode === 'STRICT') return [opt('HTTP', TLS, true)];
    if (mode === 'PERMISSIVE') return [opt('HTTP', TLS, true, ALL_ISTIO_MTLS_ALPNS), opt('HTTP', RAW, false)];
    return [opt('HTTP', RAW, false)];
  }
  if (protocol === 'AUTO') {
    if (mode === 'STRICT') return [opt('HTTP', TLS, true, MTLS_HTTP_ALPNS), opt('TCP', TLS, true)];
    if (mode === 'PERMISSIVE') {
      return [
        opt('HTTP', TLS, true, MTLS_HTTP_ALPNS),
        opt('HTTP', RAW, false, PLAINTEXT_HTTP_ALPNS),
        opt('TCP', TLS, true, MTLS_TCP_WITH_MXC_ALPNS),
        opt('TCP', RAW, false),
        opt('TCP', TLS, false),
      ];
    }
    return [opt('HTTP', RAW, false, PLAINTEXT_HTTP_ALPNS), opt('TCP', RAW, false)];
  }
  if (mode === 'STRICT') return [opt('TCP', TLS, true)];
  if (mode === 'PERMISSIVE') {
    return [opt('TCP', TLS, true, ALL_ISTIO_MTLS_ALPNS), opt('TCP', TLS, false), opt('TCP', RAW, false)];
  }
  return [opt('TCP', RAW, false)];
}

function chainName(cc: InboundChainConfig, protocol: 'HTTP' | 'TCP'): string {
  if (cc.passthrough) return protocol === 'HTTP' ? CATCHALL_HTTP_CHAIN : VIRTUAL_INBOUND_LISTENER;
  return listenerName(cc.bind, cc.targetPort);
}

function statPrefix(cc: InboundChainConfig): string {
  return cc.passthrough ? cc.clusterName : `inbound_${chainName(cc, 'HTTP')}`;
}

function filterChainMatch(cc: InboundChainConfig, option: ChainMatchOption): Json {
  const match: Json = {};
  if (option.applicationProtocols) match['applicationProtocols'] = [...option.applicationProtocols];
  match['transportProtocol'] = option.transportProtocol;
  if (cc.passthrough) {
    // Passthrough chains match every address of one IP version.
    match['prefixRanges'] =
      cc.clusterName === INBOUND_PASSTHROUGH_CLUSTER_IPV4
        ? [{ addressPrefix: '0.0.0.0', prefixLen: 0 }]
        : [{ addressPrefix: '::', prefixLen: 0 }];
  }
  if (cc.targetPort > 0) match['destinationPort'] = cc.targetPort;
  return match;
}

/** route.BuildDefaultHTTPInboundRoute inside the inline `inbound|<port>||` route configuration. */
function inboundRouteConfig(cc: InboundChainConfig): Json {
  return {
    name: cc.clusterName,
    virtualHosts: [
      {
        name: `inbound|http|${cc.port}`,
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              cluster: cc.clusterName,
              timeout: '0s',
              maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
            },
            decorator: { operation: `${hostPort(cc.hostname, cc.port)}/*` },
          },
        ],
      },
    ],
    validateClusters: false,
  };
}

/** net.JoinHostPort. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

interface InboundContext {
  push: PushContext;
  proxy: ListenerProxy;
  policy: PeerAuthnPolicy;
  /** istio_authn is only understood by 1.17+ proxies. */
  authn: boolean;
}

function leadingNetworkFilters(ctx: InboundContext): Json[] {
  const out: Json[] = [];
  if (ctx.authn) out.push(istioAuthnFilter());
  out.push(tcpMetadataExchangeFilter());
  return out;
}

function httpFilterStack(ctx: InboundContext, cc: InboundChainConfig): Json[] {
  const hcm = httpConnectionManager(ctx.push.snapshot.mesh, ctx.proxy, {
    class: 'sidecar-inbound',
    statPrefix: statPrefix(cc),
    routeConfig: inboundRouteConfig(cc),
    useRemoteAddress: false,
    protocol: cc.protocol,
    authz: authzHttpFilters(ctx.push, ctx.proxy, 'sidecar-inbound'),
    base: {
      forwardClientCertDetails: 'APPEND_FORWARD',
      setCurrentClientCertDetails: { subject: true, uri: true, dns: true },
      serverName: ENVOY_SERVER_NAME,
      ...inboundHttp2Options(cc.protocol),
    },
  });
  return [...leadingNetworkFilters(ctx), { name: HCM_FILTER, typedConfig: hcm }];
}

function tcpFilterStack(ctx: InboundContext, cc: InboundChainConfig): Json[] {
  const idle = proxyIdleTimeout(ctx.proxy);
  const tcp = tcpProxyFilter({
    statPrefix: cc.clusterName,
    cluster: cc.clusterName,
    ...(idle ? { idleTimeout: idle } : {}),
    accessLog: accessLogs(ctx.push.snapshot.mesh),
  });
  return [...leadingNetworkFilters(ctx), ...authzTcpFilters(ctx.push, ctx.proxy), tcp];
}

function chainsFor(
  ctx: InboundContext,
  cc: InboundChainConfig,
  mode: MtlsMode,
  protocol: ChainProtocol,
): Json[] {
  const mesh = ctx.push.snapshot.mesh;
  return filterChainMatchOptions(mode, protocol).map((option) => {
    const chain: Json = {
      filterChainMatch: filterChainMatch(cc, option),
      filters: option.protocol === 'HTTP' ? httpFilterStack(ctx, cc) : tcpFilterStack(ctx, cc),
    };
    if (option.tls) chain['transportSocket'] = tlsTransportSocket(inboundMtlsContext(mesh, option.protocol));
    chain['name'] = chainName(cc, option.protocol);
    return chain;
  });
}

/** buildInboundChainConfigs without Sidecar ingress: one per workload port, the oldest service first. */
function serviceChainConfigs(push: PushContext, proxy: InstanceProxy, bind: string): InboundChainConfig[] {
  const byPort = new Map<number, InboundChainConfig>();
  for (const inst of proxyServiceInstances(push, proxy)) {
    if (byPort.has(inst.endpointPort)) continue;
    byPort.set(inst.endpointPort, {
      clusterName: `inbound|${inst.endpointPort}||`,
      portName: inst.servicePort.name,
      port: inst.servicePort.port,
      targetPort: inst.endpointPort,
      protocol: inst.servicePort.protocol,
      bind,
      passthrough: false,
      hostname: inst.service.hostname,
    });
  }
  return [...byPort.values()].sort((a, b) => a.targetPort - b.targetPort);
}

function blackholeChain(): Json {
  return {
    name: BLACKHOLE_CHAIN,
    filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT },
    filters: [
      tcpMetadataExchangeFilter(),
      tcpProxyFilter({ statPrefix: BLACKHOLE_CLUSTER, cluster: BLACKHOLE_CLUSTER }),
    ],
  };
}

/** buildInboundPassthroughChains: per IP version, a full passthrough plus one per extra mTLS port. */
function passthroughChains(ctx: InboundContext, servicePorts: Set<number>): Json[] {
  const { ipv4, ipv6 } = ipFamilies(ctx.proxy);
  const clusters: string[] = [];
  if (ipv4) clusters.push(INBOUND_PASSTHROUGH_CLUSTER_IPV4);
  if (ipv6) clusters.push(INBOUND_PASSTHROUGH_CLUSTER_IPV6);
  const chains: Json[] = [blackholeChain()];
  // Port-level mTLS for ports no Service declares still needs its own passthrough chains.
  const extraPorts = [...ctx.policy.portModes.keys()]
    .filter((p) => !servicePorts.has(p))
    .sort((a, b) => a - b);
  for (const clusterName of clusters) {
    for (const port of [0, ...extraPorts]) {
      const cc: InboundChainConfig = {
        clusterName,
        portName: VIRTUAL_INBOUND_LISTENER,
        port: 0,
        targetPort: port,
        protocol: PROTOCOL.Unsupported,
        bind: '',
        passthrough: true,
        hostname: '',
      };
      chains.push(
        ...chainsFor(ctx, cc, port === 0 ? ctx.policy.mode : mtlsModeForPort(ctx.policy, port), 'AUTO'),
      );
    }
  }
  return chains;
}

/** Which ports need the TLS and HTTP inspectors, keyed by destination port (0: any). */
function inspectorsByPort(chains: Json[]): Map<number, { tls: boolean; http: boolean }> {
  const out = new Map<number, { tls: boolean; http: boolean }>();
  for (const chain of chains) {
    const m = (chain['filterChainMatch'] ?? {}) as Json;
    const port = typeof m['destinationPort'] === 'number' ? m['destinationPort'] : 0;
    const alpns = Array.isArray(m['applicationProtocols']) ? (m['applicationProtocols'] as string[]) : [];
    const cur = out.get(port) ?? { tls: false, http: false };
    cur.tls ||= m['transportProtocol'] === TLS_TRANSPORT_PROTOCOL;
    cur.http ||= alpns.includes('http/1.1') || alpns.includes('h2c');
    out.set(port, cur);
  }
  return out;
}

function portRange(port: number): Json {
  return { destinationPortRange: { start: port, end: port + 1 } };
}

/** listenerPredicateExcludePorts. */
function excludePorts(ports: number[]): Json {
  if (ports.length === 1) return portRange(ports[0] ?? 0);
  return { orMatch: { rules: ports.map(portRange) } };
}

/** buildTLSInspector / buildHTTPInspector: enabled everywhere, or only on (or off) the ports that need it. */
function inspectorFilter(
  base: Json,
  inspectors: Map<number, { tls: boolean; http: boolean }>,
  kind: 'tls' | 'http',
): Json {
  const ports = [...inspectors.keys()].sort((a, b) => a - b);
  if (kind === 'http') {
    const disabled = ports.filter((p) => !inspectors.get(p)?.http);
    return disabled.length === 0 ? base : { ...base, filterDisabled: excludePorts(disabled) };
  }
  const defaultEnabled = inspectors.get(0)?.tls === true;
  if (defaultEnabled) {
    const disabled = ports.filter((p) => p !== 0 && !inspectors.get(p)?.tls);
    return disabled.length === 0 ? base : { ...base, filterDisabled: excludePorts(disabled) };
  }
  const enabled = ports.filter((p) => p !== 0 && inspectors.get(p)?.tls);
  return enabled.length === 0 ? base : { ...base, filterDisabled: { notMatch: excludePorts(enabled) } };
}

/** populateListenerFilters for the (not bound) virtual inbound listener. */
function inboundListenerFilters(proxy: ListenerProxy, chains: Json[]): Json[] {
  const out: Json[] = [originalDst()];
  if (interceptionMode(proxy) === 'TPROXY') out.push(originalSrc());
  const inspectors = inspectorsByPort(chains);
  if ([...inspectors.values()].some((i) => i.tls))
    out.push(inspectorFilter(tlsInspector(), inspectors, 'tls'));
  if ([...inspectors.values()].some((i) => i.http))
    out.push(inspectorFilter(httpInspector(), inspectors, 'http'));
  return out;
}

/** The mesh protocolDetectionTimeout (0s by default: inspectors wait for the first bytes indefinitely). */
export function protocolDetectionTimeout(mesh: Record<string, unknown>): string {
  return normalizeDuration(mesh['protocolDetectionTimeout']) ?? '0s';
}

/** The `virtualInbound` listener, or undefined when the proxy does not capture traffic (NONE mode). */
export function buildVirtualInboundListener(push: PushContext, proxy: InstanceProxy): Json | undefined {
  if (interceptionMode(proxy) === 'NONE') return undefined;
  const wildcard = wildcardAddress(proxy);
  const ctx: InboundContext = {
    push,
    proxy,
    policy: peerAuthenticationFor(push, proxy),
    authn: istioVersionAtLeast(proxy.istioVersion, 17),
  };
  const configs = serviceChainConfigs(push, proxy, wildcard);
  const chains = passthroughChains(ctx, new Set(configs.map((c) => c.targetPort)));
  for (const cc of configs) {
    chains.push(
      ...chainsFor(ctx, cc, mtlsModeForPort(ctx.policy, cc.targetPort), inboundListenerProtocol(cc.protocol)),
    );
  }
  const listener: Json = {
    name: VIRTUAL_INBOUND_LISTENER,
    address: socketAddress(wildcard, VIRTUAL_INBOUND_PORT),
    trafficDirection: 'INBOUND',
  };
  if (interceptionMode(proxy) === 'TPROXY') listener['transparent'] = true;
  const log = meshListenerAccessLog(push.snapshot.mesh);
  if (log) listener['accessLog'] = [log];
  listener['filterChains'] = chains;
  listener['listenerFilters'] = inboundListenerFilters(proxy, chains);
  listener['listenerFiltersTimeout'] = protocolDetectionTimeout(push.snapshot.mesh);
  listener['continueOnListenerFiltersTimeout'] = true;
  return listener;
}
