/**
 * Outbound CDS clusters as Istio 1.17 builds them (pilot/pkg/networking/core/v1alpha3 cluster.go,
 * cluster_builder.go, cluster_traffic_policy.go, cluster_tls.go), written in proto3 JSON — the shape
 * `istioctl proxy-config clusters -o json` prints — so they compare directly with Istio's output and
 * encode through `encodeAny`.
 */
import type {
  ClientTLSSettings,
  ConnectionPoolSettings,
  LoadBalancerSettings,
  OutlierDetection,
  Subset,
} from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { Service, ServicePort, ServiceRegistry } from '../../registry/index.js';
import { PROTOCOL, isHTTP2Protocol, isHTTPProtocol, isServiceVisibleTo } from '../../registry/index.js';
import type { AppliedRule } from './destination-rule.js';
import { destinationRuleFor, effectivePolicy, namedSubsets } from './destination-rule.js';

export type Json = Record<string, unknown>;

export interface ProxyInfo {
  /** `router` (gateways) or `sidecar`. */
  type: 'router' | 'sidecar';
  /** The proxy's namespace: decides which services and DestinationRules it sees. */
  namespace: string;
}

export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

const MAX_UINT32 = 4294967295;
const TYPE_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const TYPE_RAW_BUFFER = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const TYPE_HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const HTTP_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const TYPE_METADATA_EXCHANGE = 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange';

/** `outbound|<port>|<subset>|<host>` (model.BuildSubsetKey). */
export function outboundClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

/** The Istio mTLS SNI `outbound_.<port>_.<subset>_.<host>` (model.BuildDNSSrvSubsetKey). */
export function istioMtlsSni(port: number, subset: string, host: string): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function meshConnectTimeout(snapshot: ConfigSnapshot): string {
  return normalizeDuration(snapshot.mesh['connectTimeout']) ?? '10s';
}

/**
 * Every outbound cluster of a proxy: per service port an EDS cluster plus one per subset of the
 * DestinationRule that applies, then BlackHoleCluster (and PassthroughCluster for sidecars; gateways do
 * not get one in Istio). The services are `services` when given (a sidecar's SidecarScope imports),
 * else every service visible to the proxy's namespace.
 */
export function buildOutboundClusters(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: ProxyInfo,
  services?: readonly Service[],
): Json[] {
  const clusters = buildServiceClusters(registry, snapshot, proxy, services, 'default');
  clusters.push(blackHoleCluster(snapshot));
  if (proxy.type === 'sidecar') clusters.push(passthroughCluster(snapshot));
  return clusters;
}

/**
 * The SNI-DNAT clusters of a gateway with an AUTO_PASSTHROUGH server (cluster.go
 * buildOutboundSniDnatClusters): the same clusters named `outbound_.<port>_.<subset>_.<host>`, for mesh
 * services only, without TLS (the client's mTLS passes through).
 */
export function buildSniDnatClusters(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: ProxyInfo,
  services?: readonly Service[],
): Json[] {
  const internal = (services ?? visibleServices(registry, proxy)).filter((s) => !s.meshExternal);
  return buildServiceClusters(registry, snapshot, proxy, internal, 'sni-dnat');
}

type ClusterMode = 'default' | 'sni-dnat';

function visibleServices(registry: ServiceRegistry, proxy: ProxyInfo): Service[] {
  return registry.services().filter((s) => isServiceVisibleTo(s, proxy.namespace));
}

function buildServiceClusters(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: ProxyInfo,
  services: readonly Service[] | undefined,
  mode: ClusterMode,
): Json[] {
  const clusters: Json[] = [];
  const seen = new Set<string>();
  for (const service of services ?? visibleServices(registry, proxy)) {
    const rule = destinationRuleFor(
      snapshot,
      service.hostname,
      service.namespace,
      proxy.namespace,
      registry.domainSuffix,
    );
    for (const port of service.ports) {
      // Envoy clusters carry TCP or HTTP; UDP service ports get none.
      if (port.protocol === PROTOCOL.UDP) continue;
      const subsets: (Subset | undefined)[] = [undefined, ...(rule ? namedSubsets(rule.spec) : [])];
      for (const subset of subsets) {
        const cluster = buildServiceCluster(registry, snapshot, proxy, service, port, rule, subset, mode);
        // Istio builds no DNS cluster without endpoints to resolve.
        if (cluster === undefined) continue;
        const name = String(cluster['name']);
        // The first service with a hostname wins, as Istio keeps one cluster per name.
        if (seen.has(name)) continue;
        seen.add(name);
        clusters.push(cluster);
      }
    }
  }
  return clusters;
}

function buildServiceCluster(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: ProxyInfo,
  service: Service,
  port: ServicePort,
  rule: AppliedRule | undefined,
  subset: Subset | undefined,
  mode: ClusterMode,
): Json | undefined {
  const subsetName = subset?.name ?? '';
  const name =
    mode === 'sni-dnat'
      ? istioMtlsSni(port.port, subsetName, service.hostname)
      : outboundClusterName(port.port, subsetName, service.hostname);
  const policy = effectivePolicy(rule?.spec, port.port, subset);

  const cluster: Json = { name, ...discovery(service, name) };
  if (cluster['type'] !== 'EDS') {
    const assignment = dnsLoadAssignment(registry, service, port, name);
    if (!assignment) return undefined;
    cluster['dnsRefreshRate'] = normalizeDuration(snapshot.mesh['dnsRefreshRate']) ?? '60s';
    cluster['respectDnsTtl'] = true;
    cluster['loadAssignment'] = assignment;
  }
  cluster['connectTimeout'] =
    normalizeDuration(policy.connectionPool?.tcp?.connectTimeout) ?? meshConnectTimeout(snapshot);
  applyLoadBalancer(cluster, policy.loadBalancer);
  cluster['circuitBreakers'] = circuitBreakers(policy.connectionPool);
  applyTcpKeepalive(cluster, snapshot, policy.connectionPool);
  const httpOptions = upstreamHttpOptions(snapshot, proxy, port, policy.connectionPool, 'outbound');
  if (httpOptions) cluster['typedExtensionProtocolOptions'] = { [HTTP_OPTIONS_KEY]: httpOptions };
  cluster['commonLbConfig'] = { localityWeightedLbConfig: {} };
  applyOutlierDetection(cluster, policy.outlierDetection);
  // SNI-DNAT clusters forward the client's TLS untouched.
  if (mode === 'default') {
    applyTls(
      cluster,
      snapshot,
      serviceAccounts(registry, service, port),
      port.port,
      subsetName,
      service,
      policy.tls,
    );
  }

  const istio: Json = {};
  if (rule) {
    const ns = rule.resource.metadata.namespace ?? 'default';
    istio['config'] =
      `/apis/networking.istio.io/v1alpha3/namespaces/${ns}/destination-rule/${rule.resource.metadata.name}`;
  }
  istio['default_original_port'] = port.port;
  istio['services'] = [{ host: service.hostname, name: service.name, namespace: service.namespace }];
  if (subsetName) istio['subset'] = subsetName;
  cluster['metadata'] = { filterMetadata: { istio } };
  cluster['filters'] = [metadataExchangeFilter()];
  return cluster;
}

/** Cluster type from the service resolution (convertResolution); gateways use EDS for headless too. */
function discovery(service: Service, name: string): Json {
  const eds = {
    type: 'EDS',
    edsClusterConfig: {
      edsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      serviceName: name,
    },
  };
  if (service.resolution === 'DNSLB') return { type: 'STRICT_DNS', dnsLookupFamily: 'V4_ONLY' };
  if (service.resolution === 'DNSRoundRobinLB') return { type: 'LOGICAL_DNS', dnsLookupFamily: 'V4_ONLY' };
  return eds;
}

/**
 * DNS clusters carry their hosts inline (Envoy resolves them), grouped by locality. Subset labels are not
 * applied here: DNS endpoints of ServiceEntries have no workload labels in the common case.
 */
function dnsLoadAssignment(
  registry: ServiceRegistry,
  service: Service,
  port: ServicePort,
  name: string,
): Json | undefined {
  const byLocality = new Map<string, Json[]>();
  for (const ep of registry.endpoints(service, port.port)) {
    if (!ep.address) continue;
    const lbEndpoint: Json = {
      endpoint: { address: { socketAddress: { address: ep.address, portValue: ep.port } } },
    };
    if (ep.weight > 0) lbEndpoint['loadBalancingWeight'] = ep.weight;
    const list = byLocality.get(ep.locality) ?? [];
    list.push(lbEndpoint);
    byLocality.set(ep.locality, list);
  }
  if (byLocality.size === 0) return undefined;
  const endpoints: Json[] = [];
  for (const [locality, lbEndpoints] of byLocality) {
    const group: Json = {};
    const [region, zone, subZone] = locality.split('/');
    const loc: Json = {};
    if (region) loc['region'] = region;
    if (zone) loc['zone'] = zone;
    if (subZone) loc['subZone'] = subZone;
    if (Object.keys(loc).length > 0) group['locality'] = loc;
    group['lbEndpoints'] = lbEndpoints;
    endpoints.push(group);
  }
  return { clusterName: name, endpoints };
}

/**
 * lbPolicy: LEAST_REQUEST by default and for LEAST_CONN; ROUND_ROBIN is the enum's zero value, so proto3
 * JSON leaves the field out; PASSTHROUGH sends to the original destination.
 */
function applyLoadBalancer(cluster: Json, lb: LoadBalancerSettings | undefined): void {
  const simple = isRecord(lb) ? lb.simple : undefined;
  switch (simple) {
    case 'ROUND_ROBIN':
      delete cluster['lbPolicy'];
      return;
    case 'RANDOM':
      cluster['lbPolicy'] = 'RANDOM';
      return;
    case 'PASSTHROUGH':
      // Istio 1.17 keeps any edsClusterConfig and only wipes an inline load assignment.
      cluster['type'] = 'ORIGINAL_DST';
      delete cluster['loadAssignment'];
      cluster['lbPolicy'] = 'CLUSTER_PROVIDED';
      return;
    default:
      cluster['lbPolicy'] = 'LEAST_REQUEST';
  }
}

function uint(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_UINT32 ? v : undefined;
}

/** Istio's defaults are MaxUint32 everywhere (Envoy's own max_retries=3 caused 503s during churn). */
export function circuitBreakers(pool: ConnectionPoolSettings | undefined): Json {
  const tcp = isRecord(pool?.tcp) ? pool.tcp : undefined;
  const http = isRecord(pool?.http) ? pool.http : undefined;
  return {
    thresholds: [
      {
        maxConnections: uint(tcp?.maxConnections) ?? MAX_UINT32,
        maxPendingRequests: uint(http?.http1MaxPendingRequests) ?? MAX_UINT32,
        maxRequests: uint(http?.http2MaxRequests) ?? MAX_UINT32,
        maxRetries: uint(http?.maxRetries) ?? MAX_UINT32,
        trackRemaining: true,
      },
    ],
  };
}

/** cluster_traffic_policy.go applyOutlierDetection, Istio 1.17. */
function applyOutlierDetection(cluster: Json, od: OutlierDetection | undefined): void {
  if (!isRecord(od)) return;
  const out: Json = {};
  const num = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
  const c5xx = num(od.consecutive5xxErrors);
  if (c5xx !== undefined) {
    out['consecutive5xx'] = c5xx;
    out['enforcingConsecutive5xx'] = c5xx > 0 ? 100 : 0;
  }
  const gateway = num(od.consecutiveGatewayErrors);
  if (gateway !== undefined) {
    out['consecutiveGatewayFailure'] = gateway;
    out['enforcingConsecutiveGatewayFailure'] = gateway > 0 ? 100 : 0;
  }
  const interval = normalizeDuration(od.interval);
  if (interval) out['interval'] = interval;
  const base = normalizeDuration(od.baseEjectionTime);
  if (base) out['baseEjectionTime'] = base;
  const maxPercent = num(od.maxEjectionPercent);
  if (maxPercent) out['maxEjectionPercent'] = maxPercent;
  if (od.splitExternalLocalOriginErrors === true) {
    out['splitExternalLocalOriginErrors'] = true;
    const local = num(od.consecutiveLocalOriginFailures);
    if (local) {
      out['consecutiveLocalOriginFailure'] = local;
      out['enforcingConsecutiveLocalOriginFailure'] = 100;
    }
    out['enforcingLocalOriginSuccessRate'] = 0;
  }
  // Istio 1.17 ignores the deprecated `consecutiveErrors` here.
  // Success-rate ejection is always off; 0 is the wrapper's zero value and prints as such.
  cluster['outlierDetection'] = { enforcingSuccessRate: 0, ...out };
  // minHealthPercent becomes the panic threshold, set even at 0 so Envoy's default 50% does not apply.
  const minHealth = num(od.minHealthPercent) ?? 0;
  const common = isRecord(cluster['commonLbConfig']) ? cluster['commonLbConfig'] : {};
  cluster['commonLbConfig'] = { healthyPanicThreshold: minHealth > 0 ? { value: minHealth } : {}, ...common };
}

/** Secure-naming SANs: the service's own identities plus those of its endpoints' workloads, sorted. */
function serviceAccounts(registry: ServiceRegistry, service: Service, port: ServicePort): string[] {
  const accounts = new Set(service.serviceAccounts);
  for (const ep of registry.endpoints(service, port.port, { includeSynthetic: true })) {
    if (ep.serviceAccount) accounts.add(ep.serviceAccount);
  }
  return [...accounts].sort();
}

function sdsConfig(name: string): Json {
  return {
    name,
    sdsConfig: {
      apiConfigSource: {
        apiType: 'GRPC',
        transportApiVersion: 'V3',
        grpcServices: [{ envoyGrpc: { clusterName: 'sds-grpc' } }],
        setNodeOnFirstMessageOnly: true,
      },
      initialFetchTimeout: '0s',
      resourceApiVersion: 'V3',
    },
  };
}

/** cluster-builder's ISTIO_MUTUAL transport socket: SDS `default`/`ROOTCA`, Istio's ALPN, the SANs to verify. */
export function istioMutualSocket(sans: string[], sni: string): Json {
  const validation: Json = {};
  if (sans.length > 0) validation['matchSubjectAltNames'] = sans.map((exact) => ({ exact }));
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': TYPE_TLS,
      commonTlsContext: {
        tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
        tlsCertificateSdsSecretConfigs: [sdsConfig('default')],
        combinedValidationContext: {
          defaultValidationContext: validation,
          validationContextSdsSecretConfig: sdsConfig('ROOTCA'),
        },
        alpnProtocols: ['istio-peer-exchange', 'istio'],
      },
      sni,
    },
  };
}

/**
 * No DR TLS with auto mTLS: mTLS to endpoints labelled tlsMode=istio, plaintext to the rest.
 * ISTIO_MUTUAL: always mTLS. DISABLE (or auto mTLS off): plaintext, no socket.
 * SIMPLE and MUTUAL (file or credentialName certificates) are not generated yet.
 */
function applyTls(
  cluster: Json,
  snapshot: ConfigSnapshot,
  sans: string[],
  port: number,
  subset: string,
  service: Service,
  tls: ClientTLSSettings | undefined,
): void {
  const mode = isRecord(tls) ? tls.mode : undefined;
  const defaultSni = istioMtlsSni(port, subset, service.hostname);
  if (mode === 'ISTIO_MUTUAL') {
    const sni = typeof tls?.sni === 'string' && tls.sni !== '' ? tls.sni : defaultSni;
    const explicitSans = Array.isArray(tls?.subjectAltNames)
      ? tls.subjectAltNames.filter((s): s is string => typeof s === 'string')
      : [];
    cluster['transportSocket'] = istioMutualSocket(explicitSans.length > 0 ? explicitSans : sans, sni);
    return;
  }
  if (mode !== undefined || snapshot.mesh.enableAutoMtls === false || service.meshExternal) return;
  cluster['transportSocketMatches'] = [
    {
      name: 'tlsMode-istio',
      match: { tlsMode: 'istio' },
      transportSocket: istioMutualSocket(sans, defaultSni),
    },
    {
      name: 'tlsMode-disabled',
      match: {},
      transportSocket: {
        name: 'envoy.transport_sockets.raw_buffer',
        typedConfig: { '@type': TYPE_RAW_BUFFER },
      },
    },
  ];
}

/**
 * The upstream HTTP protocol options of a cluster (ClusterBuilder setUpstreamProtocol,
 * applyConnectionPool, applyH2Upgrade, MutableCluster.build): HTTP/2 for h2 ports or an `UPGRADE` policy,
 * the downstream protocol for sniffed ports of sidecars or `useClientProtocol`, and the DR's HTTP idle
 * timeout, requests per connection and connection duration. Undefined when none applies.
 */
export function upstreamHttpOptions(
  snapshot: ConfigSnapshot,
  proxy: ProxyInfo,
  port: ServicePort,
  pool: ConnectionPoolSettings | undefined,
  direction: 'inbound' | 'outbound',
): Json | undefined {
  let upstream: Json | undefined;
  if (isHTTP2Protocol(port.protocol)) upstream = { explicitHttpConfig: { http2ProtocolOptions: {} } };
  else if (proxy.type === 'sidecar' && port.protocol === PROTOCOL.Unsupported)
    upstream = useDownstreamProtocol();
  const http = isRecord(pool?.http) ? pool.http : undefined;
  const tcp = isRecord(pool?.tcp) ? pool.tcp : undefined;
  const common: Json = {};
  const idle = normalizeDuration(http?.idleTimeout);
  if (idle) common['idleTimeout'] = idle;
  const maxRequests = uint(http?.maxRequestsPerConnection);
  if (maxRequests) common['maxRequestsPerConnection'] = maxRequests;
  const maxDuration = normalizeDuration(tcp?.maxConnectionDuration);
  if (maxDuration) common['maxConnectionDuration'] = maxDuration;
  if (http?.useClientProtocol === true) upstream = useDownstreamProtocol();
  const h2Policy = http?.h2UpgradePolicy;
  const meshUpgrade = snapshot.mesh['h2UpgradePolicy'] === 'UPGRADE';
  const upgrade =
    h2Policy === 'UPGRADE' || (h2Policy !== 'DO_NOT_UPGRADE' && isHTTPProtocol(port.protocol) && meshUpgrade);
  // Only outbound clusters are upgraded to HTTP/2.
  if (direction === 'outbound' && upgrade) {
    upstream = { explicitHttpConfig: { http2ProtocolOptions: {} } };
  }
  if (!upstream && Object.keys(common).length === 0) return undefined;
  const options: Json = { '@type': TYPE_HTTP_OPTIONS };
  if (Object.keys(common).length > 0) options['commonHttpProtocolOptions'] = common;
  // Envoy requires an upstream protocol; HTTP/1.1 is the default Istio fills in.
  Object.assign(options, upstream ?? { explicitHttpConfig: { httpProtocolOptions: {} } });
  return options;
}

function useDownstreamProtocol(): Json {
  return { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } };
}

/** applyTCPKeepalive: the mesh's keepalive, overridden field by field by the DR's. */
export function applyTcpKeepalive(
  cluster: Json,
  snapshot: ConfigSnapshot,
  pool: ConnectionPoolSettings | undefined,
): void {
  const sources = [snapshot.mesh['tcpKeepalive'], isRecord(pool?.tcp) ? pool.tcp.tcpKeepalive : undefined];
  let keepalive: Json | undefined;
  for (const src of sources) {
    if (!isRecord(src)) continue;
    keepalive ??= {};
    const probes = uint(src['probes']);
    if (probes) keepalive['keepaliveProbes'] = probes;
    const time = durationSeconds(src['time']);
    if (time !== undefined) keepalive['keepaliveTime'] = time;
    const interval = durationSeconds(src['interval']);
    if (interval !== undefined) keepalive['keepaliveInterval'] = interval;
  }
  if (keepalive) cluster['upstreamConnectionOptions'] = { tcpKeepalive: keepalive };
}

function durationSeconds(v: unknown): number | undefined {
  const d = normalizeDuration(v);
  if (!d) return undefined;
  return Math.floor(Number(d.slice(0, -1)));
}

/** STATIC with no endpoints: where traffic to unknown destinations is dropped. */
function blackHoleCluster(snapshot: ConfigSnapshot): Json {
  return { name: BLACKHOLE_CLUSTER, type: 'STATIC', connectTimeout: meshConnectTimeout(snapshot) };
}

/** ORIGINAL_DST to wherever the connection was going (ALLOW_ANY egress). */
export function passthroughCluster(snapshot: ConfigSnapshot): Json {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    connectTimeout: meshConnectTimeout(snapshot),
    lbPolicy: 'CLUSTER_PROVIDED',
    circuitBreakers: circuitBreakers(undefined),
    typedExtensionProtocolOptions: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': TYPE_HTTP_OPTIONS,
        commonHttpProtocolOptions: { idleTimeout: '300s' },
        useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      },
    },
    filters: [metadataExchangeFilter()],
  };
}

function metadataExchangeFilter(): Json {
  return {
    name: 'istio.metadata_exchange',
    typedConfig: { '@type': TYPE_METADATA_EXCHANGE, protocol: 'istio-peer-exchange' },
  };
}

const UNIT_NANOS: Record<string, number> = {
  h: 3600e9,
  m: 60e9,
  s: 1e9,
  ms: 1e6,
  us: 1e3,
  µs: 1e3,
  ns: 1,
};

/**
 * A duration from config (proto JSON `"1.5s"` or a Go-style `"1m30s"`) in proto3 JSON form, or
 * undefined when it is absent or unreadable.
 */
export function normalizeDuration(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const parts = v.match(/(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/g);
  if (!parts || parts.join('') !== v) return undefined;
  let nanos = 0;
  for (const p of parts) {
    const m = /^(\d+(?:\.\d+)?)(.*)$/.exec(p);
    if (!m) return undefined;
    nanos += Math.round(Number(m[1]) * (UNIT_NANOS[m[2] ?? ''] ?? NaN));
  }
  if (!Number.isFinite(nanos)) return undefined;
  const seconds = Math.floor(nanos / 1e9);
  const rest = nanos - seconds * 1e9;
  if (rest === 0) return `${seconds}s`;
  let frac = String(rest).padStart(9, '0');
  frac = frac.endsWith('000000') ? frac.slice(0, 3) : frac.endsWith('000') ? frac.slice(0, 6) : frac;
  return `${seconds}.${frac}s`;
}
