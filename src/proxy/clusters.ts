/**
 * Clusters (config.cluster.v3.Cluster) and their endpoints (ClusterLoadAssignment from EDS, or the
 * cluster's inline load_assignment) compiled into what the router needs: hosts with health, the load
 * balancing policy and the connect timeout.
 */
import type { HashTable } from './hash-lb.js';
import { buildMaglev, buildRing, ringSizes } from './hash-lb.js';
import type { IstioService } from './istio-stats.js';
import type { JsonObject } from './json.js';
import { durationMs, num, record, records, str, unwrap } from './json.js';
import type { OutlierConfig } from './outlier.js';
import { compileOutlier } from './outlier.js';
import type { CompiledTls } from './tls-context.js';
import { compileTransportSocket } from './tls-context.js';

export type LbPolicy =
  'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'CLUSTER_PROVIDED' | 'RING_HASH' | 'MAGLEV';

export interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export interface Host {
  address: string;
  port: number;
  /** `address:port`, as %UPSTREAM_HOST% prints it. */
  key: string;
  healthy: boolean;
  weight: number;
  priority: number;
  /** EDS health status as sent (HEALTHY when unset), for /clusters. */
  healthStatus?: string;
  locality?: Locality;
  /** The endpoint's `istio.workload` metadata: `<workload>;<ns>;<canonical svc>;<canonical rev>;<cluster>`. */
  workload?: string;
  /** The endpoint's `envoy.transport_socket_match` metadata (Istio: `tlsMode: istio`). */
  socketMatch?: Record<string, string>;
}

/** A transport_socket_matches entry: endpoints whose metadata has every `match` value use `tls`. */
export interface SocketMatch {
  name: string;
  match: Record<string, string>;
  /** Undefined: plaintext (raw_buffer). */
  tls?: CompiledTls;
}

export interface CompiledCluster {
  name: string;
  /** STATIC, STRICT_DNS, LOGICAL_DNS, EDS or ORIGINAL_DST. */
  type: string;
  lbPolicy: LbPolicy;
  connectTimeoutMs: number;
  /** Hosts of the best priority that has a healthy host (all hosts when none is healthy). */
  hosts: Host[];
  /** Istio's stats name (`alt_stat_name` with its trailing `;` dropped) or the cluster name. */
  statName: string;
  /** The circuit breakers' max_requests / max_pending_requests / max_retries (Envoy defaults 1024/1024/3). */
  maxRequests: number;
  maxRetries: number;
  maxConnections: number;
  maxPendingRequests: number;
  /** Consistent-hash table for RING_HASH / MAGLEV, built once per config. */
  hashTable?: HashTable;
  outlier?: OutlierConfig;
  /** The cluster's `istio` metadata `services[0]` (destination_service for Istio's metrics). */
  istioService?: IstioService;
  /** `eds_cluster_config.service_name` of an EDS cluster. */
  edsServiceName?: string;
  /** The cluster's transport socket (UpstreamTlsContext); undefined for plaintext. */
  tls?: CompiledTls;
  socketMatches?: SocketMatch[];
  /** Istio's `alpn_override` metadata is not "false": the istio.alpn filter may override the ALPN. */
  alpnOverride: boolean;
  /**
   * The upstream protocol from HttpProtocolOptions: explicit HTTP/1.1 or HTTP/2, or the downstream's
   * (use_downstream_protocol_config).
   */
  upstreamProtocol: 'http1' | 'http2' | 'downstream';
  /** http2_protocol_options.max_concurrent_streams (Envoy's default 2^31-1). */
  h2MaxConcurrentStreams: number;
  /** common_http_protocol_options.idle_timeout for upstream connections (Envoy's default 1 h). */
  idleTimeoutMs: number;
}

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const DEFAULT_H2_STREAMS = 2147483647;
const DEFAULT_IDLE_MS = 3600_000;

/** The cluster's HTTP protocol options: which protocol, HTTP/2 stream limit, idle timeout. */
function httpProtocol(
  c: JsonObject,
): Pick<CompiledCluster, 'upstreamProtocol' | 'h2MaxConcurrentStreams' | 'idleTimeoutMs'> {
  const options = record(record(c['typedExtensionProtocolOptions'])?.[HTTP_OPTIONS]);
  const explicitH2 = record(record(options?.['explicitHttpConfig'])?.['http2ProtocolOptions']);
  const downstream = record(options?.['useDownstreamProtocolConfig']);
  const downstreamH2 = record(downstream?.['http2ProtocolOptions']);
  // The deprecated Cluster.http2_protocol_options still selects HTTP/2.
  const legacyH2 = record(c['http2ProtocolOptions']);
  const h2 = explicitH2 ?? downstreamH2 ?? legacyH2;
  const streams = num(unwrap(h2?.['maxConcurrentStreams']));
  const idle = durationMs(record(options?.['commonHttpProtocolOptions'])?.['idleTimeout']);
  return {
    upstreamProtocol:
      explicitH2 || (!downstream && legacyH2) ? 'http2' : downstreamH2 ? 'downstream' : 'http1',
    h2MaxConcurrentStreams: streams !== undefined && streams >= 1 ? streams : DEFAULT_H2_STREAMS,
    idleTimeoutMs: idle ?? DEFAULT_IDLE_MS,
  };
}

/** Whether a request to the cluster goes upstream over HTTP/2, given the downstream's HTTP major version. */
export function usesHttp2(cluster: CompiledCluster, downstreamMajor: number): boolean {
  return (
    cluster.upstreamProtocol === 'http2' ||
    (cluster.upstreamProtocol === 'downstream' && downstreamMajor === 2)
  );
}

/**
 * The transport socket for one endpoint: the first transport_socket_matches entry whose match the
 * endpoint's metadata satisfies, else the cluster's own transport socket.
 */
export function upstreamTlsFor(cluster: CompiledCluster, host: Host): CompiledTls | undefined {
  for (const m of cluster.socketMatches ?? []) {
    const meta = host.socketMatch ?? {};
    if (Object.entries(m.match).every(([k, v]) => meta[k] === v)) return m.tls;
  }
  return cluster.tls;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(record(v) ?? {})) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
  }
  return out;
}

const UNHEALTHY = new Set(['UNHEALTHY', 'DRAINING', 'TIMEOUT']);

function lbPolicy(v: unknown): LbPolicy {
  switch (str(v)) {
    case 'LEAST_REQUEST':
      return 'LEAST_REQUEST';
    case 'RANDOM':
      return 'RANDOM';
    case 'CLUSTER_PROVIDED':
      return 'CLUSTER_PROVIDED';
    case 'RING_HASH':
      return 'RING_HASH';
    case 'MAGLEV':
      return 'MAGLEV';
    default:
      // ROUND_ROBIN is the enum's zero value (absent in proto3 JSON).
      return 'ROUND_ROBIN';
  }
}

function hostsOf(assignment: JsonObject | undefined): Host[] {
  const out: Host[] = [];
  for (const locality of records(assignment?.['endpoints'])) {
    const priority = num(locality['priority']) ?? 0;
    const loc = record(locality['locality']);
    const where: Locality = {
      region: str(loc?.['region']) ?? '',
      zone: str(loc?.['zone']) ?? '',
      subZone: str(loc?.['subZone']) ?? '',
    };
    for (const lb of records(locality['lbEndpoints'])) {
      const socket = record(record(record(lb['endpoint'])?.['address'])?.['socketAddress']);
      const address = str(socket?.['address']);
      const port = num(socket?.['portValue']);
      if (address === undefined || port === undefined) continue;
      const health = str(lb['healthStatus']) ?? 'HEALTHY';
      const host: Host = {
        address,
        port,
        key: `${address}:${port}`,
        healthy: !UNHEALTHY.has(health),
        weight: Math.max(1, num(unwrap(lb['loadBalancingWeight'])) ?? 1),
        priority,
        healthStatus: health,
        locality: where,
      };
      const workload = str(
        record(record(record(lb['metadata'])?.['filterMetadata'])?.['istio'])?.['workload'],
      );
      if (workload !== undefined) host.workload = workload;
      const socketMatch = record(record(lb['metadata'])?.['filterMetadata'])?.[
        'envoy.transport_socket_match'
      ];
      if (record(socketMatch)) host.socketMatch = stringMap(socketMatch);
      out.push(host);
    }
  }
  // Envoy routes to the highest priority (lowest number) that has healthy hosts.
  const priorities = [...new Set(out.map((h) => h.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const level = out.filter((h) => h.priority === p);
    if (level.some((h) => h.healthy)) return level;
  }
  return out;
}

function threshold(cluster: JsonObject, key: string, fallback: number): number {
  const first = records(record(cluster['circuitBreakers'])?.['thresholds'])[0];
  return num(unwrap(first?.[key])) ?? fallback;
}

/** Compiles every cluster, attaching EDS assignments by `edsClusterConfig.serviceName` (or the name). */
export function compileClusters(clusters: unknown[], endpoints: unknown[]): Map<string, CompiledCluster> {
  const assignments = new Map<string, JsonObject>();
  for (const cla of records(endpoints)) {
    const name = str(cla['clusterName']);
    if (name !== undefined) assignments.set(name, cla);
  }
  const out = new Map<string, CompiledCluster>();
  for (const c of records(clusters)) {
    const name = str(c['name']);
    if (name === undefined || name === '') continue;
    const type = str(c['type']) ?? (record(c['clusterType']) ? 'CUSTOM' : 'STATIC');
    const serviceName = str(record(c['edsClusterConfig'])?.['serviceName']) ?? name;
    const assignment = type === 'EDS' ? assignments.get(serviceName) : record(c['loadAssignment']);
    const alt = str(c['altStatName']);
    const compiled: CompiledCluster = {
      name,
      type,
      lbPolicy: type === 'ORIGINAL_DST' ? 'CLUSTER_PROVIDED' : lbPolicy(c['lbPolicy']),
      connectTimeoutMs: durationMs(c['connectTimeout']) ?? 5000,
      hosts: hostsOf(assignment),
      statName: alt !== undefined && alt !== '' ? alt.replace(/;$/, '') : name,
      maxRequests: threshold(c, 'maxRequests', 1024),
      maxRetries: threshold(c, 'maxRetries', 3),
      maxConnections: threshold(c, 'maxConnections', 1024),
      maxPendingRequests: threshold(c, 'maxPendingRequests', 1024),
      alpnOverride:
        str(record(record(record(c['metadata'])?.['filterMetadata'])?.['istio'])?.['alpn_override']) !==
        'false',
      ...httpProtocol(c),
    };
    const tls = compileTransportSocket(c['transportSocket'], 'upstream');
    if (tls) compiled.tls = tls;
    const matches = records(c['transportSocketMatches']).map((m, i) => {
      const entry: SocketMatch = { name: str(m['name']) ?? `#${i}`, match: stringMap(m['match']) };
      const t = compileTransportSocket(m['transportSocket'], 'upstream');
      if (t) entry.tls = t;
      return entry;
    });
    if (matches.length > 0) compiled.socketMatches = matches;
    if (type === 'EDS') compiled.edsServiceName = serviceName;
    if (compiled.lbPolicy === 'RING_HASH') {
      const { min, max } = ringSizes(c);
      compiled.hashTable = buildRing(compiled.hosts, min, max);
    } else if (compiled.lbPolicy === 'MAGLEV') compiled.hashTable = buildMaglev(compiled.hosts);
    const outlier = compileOutlier(c);
    if (outlier) compiled.outlier = outlier;
    const svc = records(
      record(record(record(c['metadata'])?.['filterMetadata'])?.['istio'])?.['services'],
    )[0];
    if (svc && str(svc['host'])) {
      compiled.istioService = {
        host: str(svc['host']) ?? '',
        name: str(svc['name']) ?? '',
        namespace: str(svc['namespace']) ?? '',
      };
    }
    out.set(name, compiled);
  }
  return out;
}
