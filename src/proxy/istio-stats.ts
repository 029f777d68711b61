/**
 * Istio's standard metrics (the `istio.stats` filter): istio_requests_total,
 * istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes and the TCP ones, with
 * Istio's labels in the order Istio's tag extraction gives them. The reporting proxy's own workload comes
 * from its PeerInfo; the peer's from the metadata exchange headers, the endpoint's `istio.workload`
 * metadata, and the cluster's `istio.services` metadata.
 *
 * `pod` and `version` in dashboards' `by (pod, version)` come from Prometheus' scrape-target relabeling
 * (pod name and pod labels), not from the metric itself, as in Istio.
 */
import type { PeerInfo } from './peer-metadata.js';
import type { Counter, Histogram, Stats, Tags } from './stats.js';
import { observe } from './stats.js';

/**
 * Bucket bounds for Istio's histograms: Istio's bootstrap sets these for the `istiocustom` namespace
 * (Envoy's defaults without 0.5).
 */
export const ISTIO_BUCKETS = [
  1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** Istio's standard label names, in their exposition order. */
export const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

/** The service a cluster fronts (its `istio` metadata `services[0]`). */
export interface IstioService {
  host: string;
  name: string;
  namespace: string;
}

/** What one request contributes to the metrics. */
export interface RequestObservation {
  /** destination: this proxy received the request for its workload (inbound); source otherwise. */
  reporter: 'source' | 'destination';
  /** The other side, from metadata exchange (or the endpoint's `istio.workload` metadata). */
  peer?: PeerInfo;
  service?: IstioService;
  /** The request's :authority, the destination_service fallback. */
  authority?: string;
  protocol: 'http' | 'grpc';
  responseCode: number;
  grpcStatus?: string;
  /** `-` when no flag is set. */
  responseFlags: string;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  /** The connection's URI SANs (Istio's principals): downstream peer/local inbound, upstream outbound. */
  sourcePrincipal?: string;
  destinationPrincipal?: string;
  /** Inbound over mutual TLS (connection_security_policy="mutual_tls"). */
  mtls?: boolean;
}

const UNKNOWN = 'unknown';

function canonicalService(p: PeerInfo | undefined): string {
  const l = p?.labels ?? {};
  return (
    l['service.istio.io/canonical-name'] ??
    l['app.kubernetes.io/name'] ??
    l['app'] ??
    p?.workloadName ??
    UNKNOWN
  );
}

function canonicalRevision(p: PeerInfo | undefined): string {
  const l = p?.labels ?? {};
  return (
    l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l['version'] ?? 'latest'
  );
}

/** workload, canonical service, canonical revision, namespace, principal, app, version, cluster. */
function workloadLabels(p: PeerInfo | undefined): string[] {
  if (!p) return [UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN];
  return [
    p.workloadName ?? UNKNOWN,
    canonicalService(p),
    canonicalRevision(p),
    p.namespace ?? UNKNOWN,
    p.principal ?? UNKNOWN,
    p.labels?.['app'] ?? UNKNOWN,
    p.labels?.['version'] ?? UNKNOWN,
    p.clusterId ?? UNKNOWN,
  ];
}

/** Host without a port. */
function hostOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

/** The label values of one request, in ISTIO_LABELS order. */
export function requestLabels(self: PeerInfo | undefined, o: RequestObservation): string[] {
  const source = o.reporter === 'destination' ? o.peer : self;
  const dest = o.reporter === 'destination' ? self : o.peer;
  const src = workloadLabels(source);
  const dst = workloadLabels(dest);
  let svcHost = o.service?.host;
  let svcName = o.service?.name;
  let svcNs = o.service?.namespace;
  if (svcHost === undefined && o.authority) {
    svcHost = hostOf(o.authority);
    svcName = svcHost.split('.')[0];
    svcNs = dest?.namespace;
  }
  return [
    o.reporter,
    src[0] ?? UNKNOWN, // source_workload
    src[1] ?? UNKNOWN, // source_canonical_service
    src[2] ?? UNKNOWN, // source_canonical_revision
    src[3] ?? UNKNOWN, // source_workload_namespace
    o.sourcePrincipal ?? src[4] ?? UNKNOWN, // source_principal
    src[5] ?? UNKNOWN, // source_app
    src[6] ?? UNKNOWN, // source_version
    src[7] ?? UNKNOWN, // source_cluster
    dst[0] ?? UNKNOWN, // destination_workload
    dst[3] ?? UNKNOWN, // destination_workload_namespace
    o.destinationPrincipal ?? dst[4] ?? UNKNOWN, // destination_principal
    dst[5] ?? UNKNOWN, // destination_app
    dst[6] ?? UNKNOWN, // destination_version
    svcHost || UNKNOWN,
    dst[1] ?? UNKNOWN, // destination_canonical_service
    dst[2] ?? UNKNOWN, // destination_canonical_revision
    svcName || UNKNOWN,
    svcNs || UNKNOWN,
    dst[7] ?? UNKNOWN, // destination_cluster
    o.protocol,
    String(o.responseCode),
    o.grpcStatus ?? '',
    o.responseFlags,
    // The destination knows whether its connection is mutual TLS; the source reports unknown, as Istio's
    // stats filter does.
    o.reporter === 'destination' ? (o.mtls ? 'mutual_tls' : 'none') : UNKNOWN,
  ];
}

interface Series {
  requests: Counter;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

/** Per-proxy Istio metrics: series are cached by their label values so a request costs one map lookup. */
export class IstioStats {
  private readonly series = new Map<string, Series>();
  /**
   * The per-request fast path: series by peer object (peers are shared objects, see parsePeerHeader) and
   * a short key of the remaining inputs, so a request does not rebuild and join its 25 label values.
   */
  private readonly byPeer = new WeakMap<PeerInfo, Map<string, Series>>();
  private readonly noPeer = new Map<string, Series>();

  constructor(
    private readonly stats: Stats,
    readonly self: PeerInfo | undefined,
  ) {}

  record(o: RequestObservation): void {
    let perPeer = this.noPeer;
    if (o.peer) {
      perPeer = this.byPeer.get(o.peer) ?? new Map<string, Series>();
      this.byPeer.set(o.peer, perPeer);
    }
    const svc = o.service;
    const key =
      `${o.reporter}|${o.protocol}|${o.responseCode}|${o.grpcStatus ?? ''}|${o.responseFlags}|` +
      `${o.mtls ? 1 : 0}|${o.sourcePrincipal ?? ''}|${o.destinationPrincipal ?? ''}|` +
      (svc ? `${svc.host}|${svc.name}|${svc.namespace}` : `|${o.authority ?? ''}`);
    let s = perPeer.get(key);
    if (!s) {
      s = this.seriesFor(o);
      perPeer.set(key, s);
    }
    s.requests.value++;
    observe(s.duration, o.durationMs);
    observe(s.requestBytes, o.requestBytes);
    observe(s.responseBytes, o.responseBytes);
  }

  /** The series of a request's label values (requests with equal labels share one). */
  private seriesFor(o: RequestObservation): Series {
    const values = requestLabels(this.self, o);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const tags: Tags = ISTIO_LABELS.map((name, i) => [name, values[i] ?? ''] as const);
      const flat = tags.map(([k, v]) => `${k}=.=${v}`).join(';.;');
      const m = (kind: 'counter' | 'histogram', name: string): Counter & Histogram =>
        this.stats.custom(kind, `istiocustom.${name}.${flat}`, name, tags, ISTIO_BUCKETS);
      s = {
        requests: m('counter', 'istio_requests_total'),
        duration: m('histogram', 'istio_request_duration_milliseconds'),
        requestBytes: m('histogram', 'istio_request_bytes'),
        responseBytes: m('histogram', 'istio_response_bytes'),
      };
      this.series.set(key, s);
    }
    return s;
  }

  /**
   * One TCP connection's contribution (istio_tcp_connections_opened_total / _closed_total,
   * istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total); HTTP-only labels are left out.
   */
  recordTcp(
    o: Pick<
      RequestObservation,
      | 'reporter'
      | 'peer'
      | 'service'
      | 'authority'
      | 'responseFlags'
      | 'sourcePrincipal'
      | 'destinationPrincipal'
      | 'mtls'
    > & {
      opened: number;
      closed: number;
      sentBytes: number;
      receivedBytes: number;
    },
  ): void {
    const values = requestLabels(this.self, {
      ...o,
      protocol: 'http',
      responseCode: 0,
      durationMs: 0,
      requestBytes: 0,
      responseBytes: 0,
    });
    const tags: Tags = ISTIO_LABELS.map((name, i) => [name, values[i] ?? ''] as const).filter(
      ([k]) => k !== 'request_protocol' && k !== 'response_code' && k !== 'grpc_response_status',
    );
    const flat = tags.map(([k, v]) => `${k}=.=${v}`).join(';.;');
    const add = (name: string, by: number): void => {
      if (by > 0) this.stats.custom('counter', `istiocustom.${name}.${flat}`, name, tags).value += by;
    };
    add('istio_tcp_connections_opened_total', o.opened);
    add('istio_tcp_connections_closed_total', o.closed);
    add('istio_tcp_sent_bytes_total', o.sentBytes);
    add('istio_tcp_received_bytes_total', o.receivedBytes);
  }
}

/** Reads a `<workload>;<ns>;<canonical svc>;<canonical rev>;<cluster>` endpoint metadata value. */
export function peerFromWorkloadMetadata(value: string | undefined): PeerInfo | undefined {
  if (!value) return undefined;
  // Endpoints carry the same value on every request: decode once (the result is shared, never modified).
  const cached = workloadPeers.get(value);
  if (cached) return cached;
  const peer = decodeWorkloadMetadata(value);
  if (workloadPeers.size >= 1024) workloadPeers.clear();
  workloadPeers.set(value, peer);
  return peer;
}

const workloadPeers = new Map<string, PeerInfo>();

function decodeWorkloadMetadata(value: string): PeerInfo {
  const [workload, namespace, canonical, revision, cluster] = value.split(';');
  const labels: Record<string, string> = {};
  if (canonical) labels['service.istio.io/canonical-name'] = canonical;
  if (revision) labels['service.istio.io/canonical-revision'] = revision;
  const out: PeerInfo = { labels };
  if (workload) out.workloadName = workload;
  if (namespace) out.namespace = namespace;
  if (cluster) out.clusterId = cluster;
  return out;
}
