/**
 * The pieces every Istio 1.17 listener is assembled from, in proto3 JSON: listener filters (inspectors,
 * original_dst), network filters (tcp_proxy, istio_authn, metadata exchange), the HTTP connection manager
 * with Istio's HTTP filter chain and legacy tracing (listener_builder.go buildHTTPConnectionManager,
 * tracing.go, pilot/pkg/xds/filters), mesh-config access logs (accesslog.go, model/telemetry_logging.go)
 * and SDS secret references (pilot/pkg/security/model/authentication.go).
 *
 * AuthorizationPolicy RBAC filters are built by authz-builder.ts and handed in through `HcmOptions.authz`.
 * Left out on purpose: Telemetry-API stats, logging and tracing providers, RequestAuthentication (JWT)
 * filters, Wasm plugins and EnvoyFilter patches.
 */
import type { MeshConfig } from '../../model/index.js';
import type { Protocol } from '../../registry/index.js';
import { PROTOCOL, isHTTP2Protocol } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { normalizeDuration } from './clusters.js';

/** What the listener builders read from a proxy; `Proxy` fits. */
export interface ListenerProxy {
  type?: 'sidecar' | 'router';
  namespace: string;
  labels: Record<string, string>;
  ipAddresses?: string[];
  istioVersion?: string;
  metadata?: Record<string, unknown>;
}

/** Istio's listener classes: they decide the HTTP filters, tracing side and access log filters. */
export type ListenerClass = 'sidecar-inbound' | 'sidecar-outbound' | 'gateway';

const TYPE_PREFIX = 'type.googleapis.com/';
export const TYPE_HCM = `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const TYPE_TCP_PROXY = `${TYPE_PREFIX}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
export const TYPE_DOWNSTREAM_TLS = `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`;
const TYPE_TYPED_STRUCT = `${TYPE_PREFIX}udpa.type.v1.TypedStruct`;
const TYPE_METADATA_EXCHANGE = `${TYPE_PREFIX}envoy.tcp.metadataexchange.config.MetadataExchange`;
const TYPE_TLS_INSPECTOR = `${TYPE_PREFIX}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`;
const TYPE_HTTP_INSPECTOR = `${TYPE_PREFIX}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector`;
const TYPE_ORIGINAL_DST = `${TYPE_PREFIX}envoy.extensions.filters.listener.original_dst.v3.OriginalDst`;
const TYPE_ORIGINAL_SRC = `${TYPE_PREFIX}envoy.extensions.filters.listener.original_src.v3.OriginalSrc`;
const TYPE_WASM = `${TYPE_PREFIX}envoy.extensions.filters.http.wasm.v3.Wasm`;
const TYPE_GRPC_STATS = `${TYPE_PREFIX}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`;
const TYPE_GRPC_WEB = `${TYPE_PREFIX}envoy.extensions.filters.http.grpc_web.v3.GrpcWeb`;
const TYPE_ALPN = `${TYPE_PREFIX}istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig`;
const TYPE_FAULT = `${TYPE_PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`;
const TYPE_CORS = `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.Cors`;
const TYPE_ROUTER = `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`;
const TYPE_UUID = `${TYPE_PREFIX}envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig`;
const TYPE_FILE_ACCESS_LOG = `${TYPE_PREFIX}envoy.extensions.access_loggers.file.v3.FileAccessLog`;

export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';

export const TLS_TRANSPORT_PROTOCOL = 'tls';
export const RAW_BUFFER_TRANSPORT_PROTOCOL = 'raw_buffer';

/** ALPNs the outbound HTTP inspector sets for plaintext HTTP (PILOT_HTTP10 off). */
export const PLAINTEXT_HTTP_ALPNS = ['http/1.1', 'h2c'];
/** ALPNs an Istio client sends for HTTP over mTLS. */
export const MTLS_HTTP_ALPNS = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
export const ALL_ISTIO_MTLS_ALPNS = [
  'istio',
  'istio-peer-exchange',
  'istio-http/1.0',
  'istio-http/1.1',
  'istio-h2',
];
export const MTLS_TCP_WITH_MXC_ALPNS = ['istio-peer-exchange', 'istio'];

/** util.ALPNHttp and util.ALPNDownstreamWithMxc: what a server-side TLS context advertises. */
export const ALPN_HTTP = ['h2', 'http/1.1'];
export const ALPN_DOWNSTREAM_WITH_MXC = ['istio-peer-exchange', 'h2', 'http/1.1'];

export const ENVOY_SERVER_NAME = 'istio-envoy';
const EMPTY_DURATION = '0s';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

export function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** `<bind>_<port>` (gateway.go getListenerName for TCP transport). */
export function listenerName(bind: string, port: number): string {
  return `${bind}_${port}`;
}

/** util.BuildAddress: an IP or host socket address, or a pipe for `unix://` binds. */
export function socketAddress(bind: string, port: number): Json {
  if (bind.startsWith('unix://')) return { pipe: { path: bind.slice('unix://'.length) } };
  return { socketAddress: { address: bind, portValue: port } };
}

/** util.ConvertAddressToCidr: `a.b.c.d[/n]` or an IPv6 address, as a CidrRange. */
export function cidrRange(address: string): Json | undefined {
  if (address === '') return undefined;
  const slash = address.indexOf('/');
  const ip = slash >= 0 ? address.slice(0, slash) : address;
  const bits = ip.includes(':') ? 128 : 32;
  const len = slash >= 0 ? Number(address.slice(slash + 1)) : bits;
  if (!Number.isInteger(len) || len < 0 || len > bits) return undefined;
  return { addressPrefix: ip, prefixLen: len };
}

/** Whether the proxy's Istio version is at least 1.<minor>; unknown versions count as new (Istio's nil). */
export function istioVersionAtLeast(version: string | undefined, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return true;
  const major = Number(m[1]);
  return major > 1 || (major === 1 && Number(m[2]) >= minor);
}

export function metaString(proxy: ListenerProxy, key: string): string {
  const v = proxy.metadata?.[key];
  return typeof v === 'string' ? v : '';
}

// ---- listener filters ----

export function tlsInspector(): Json {
  return { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TYPE_TLS_INSPECTOR } };
}

export function httpInspector(): Json {
  return { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': TYPE_HTTP_INSPECTOR } };
}

export function originalDst(): Json {
  return { name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': TYPE_ORIGINAL_DST } };
}

export function originalSrc(): Json {
  return {
    name: 'envoy.filters.listener.original_src',
    typedConfig: { '@type': TYPE_ORIGINAL_SRC, mark: 1337 },
  };
}

// ---- network filters ----

/** `istio_authn` (xdsfilters.IstioNetworkAuthenticationFilter), added for 1.17+ proxies. */
export function istioAuthnFilter(): Json {
  return {
    name: 'istio_authn',
    typedConfig: { '@type': TYPE_TYPED_STRUCT, typeUrl: `${TYPE_PREFIX}io.istio.network.authn.Config` },
  };
}

/** The TCP metadata exchange filter (xdsfilters.TCPListenerMx). */
export function tcpMetadataExchangeFilter(): Json {
  return {
    name: 'istio.metadata_exchange',
    typedConfig: { '@type': TYPE_METADATA_EXCHANGE, protocol: 'istio-peer-exchange' },
  };
}

export interface TcpProxyOptions {
  statPrefix: string;
  /** A single destination... */
  cluster?: string;
  /** ...or weighted ones. */
  weightedClusters?: { name: string; weight: number }[];
  accessLog?: Json[];
  idleTimeout?: string;
  maxDownstreamConnectionDuration?: string;
  hashPolicy?: Json[];
}

export function tcpProxyFilter(opts: TcpProxyOptions): Json {
  const config: Json = { '@type': TYPE_TCP_PROXY, statPrefix: opts.statPrefix };
  if (opts.weightedClusters && opts.weightedClusters.length > 0) {
    config['weightedClusters'] = { clusters: opts.weightedClusters.map((c) => ({ ...c })) };
  } else {
    config['cluster'] = opts.cluster ?? opts.statPrefix;
  }
  if (opts.hashPolicy && opts.hashPolicy.length > 0) config['hashPolicy'] = opts.hashPolicy;
  if (opts.idleTimeout) config['idleTimeout'] = opts.idleTimeout;
  if (opts.maxDownstreamConnectionDuration) {
    config['maxDownstreamConnectionDuration'] = opts.maxDownstreamConnectionDuration;
  }
  if (opts.accessLog && opts.accessLog.length > 0) config['accessLog'] = opts.accessLog;
  return { name: TCP_PROXY_FILTER, typedConfig: config };
}

/** A node's `IDLE_TIMEOUT` metadata (a Go duration), as tcp_proxy and HCM idle timeouts. */
export function proxyIdleTimeout(proxy: ListenerProxy): string | undefined {
  return normalizeDuration(metaString(proxy, 'IDLE_TIMEOUT'));
}

// ---- access logs (MeshConfig accessLogFile; the Telemetry API is not modelled) ----

const ENVOY_TEXT_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
  '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ' +
  '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% ' +
  '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ' +
  '%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

const ENVOY_JSON_LOG_FORMAT: Record<string, string> = {
  authority: '%REQ(:AUTHORITY)%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  duration: '%DURATION%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  request_id: '%REQ(X-REQUEST-ID)%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  response_code: '%RESPONSE_CODE%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  response_flags: '%RESPONSE_FLAGS%',
  route_name: '%ROUTE_NAME%',
  start_time: '%START_TIME%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  user_agent: '%REQ(USER-AGENT)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
};

/** model.FileAccessLogFromMeshConfig; undefined when `accessLogFile` is empty (logging off). */
export function meshFileAccessLog(mesh: MeshConfig): Json | undefined {
  const path = typeof mesh.accessLogFile === 'string' ? mesh.accessLogFile : '';
  if (path === '') return undefined;
  const format = typeof mesh['accessLogFormat'] === 'string' ? mesh['accessLogFormat'] : '';
  let logFormat: Json;
  if (mesh.accessLogEncoding === 'JSON') {
    let json: Record<string, unknown> = ENVOY_JSON_LOG_FORMAT;
    if (format !== '') {
      try {
        const parsed: unknown = JSON.parse(format);
        if (isRecord(parsed)) json = parsed;
      } catch {
        // Istio logs the error and keeps the default format.
      }
    }
    logFormat = { jsonFormat: { ...json } };
  } else {
    const text = format === '' ? ENVOY_TEXT_LOG_FORMAT : format.endsWith('\n') ? format : `${format}\n`;
    logFormat = { textFormatSource: { inlineString: text } };
  }
  return {
    name: 'envoy.access_loggers.file',
    typedConfig: { '@type': TYPE_FILE_ACCESS_LOG, path, logFormat },
  };
}

/** The listener-level log: the same, only for connections no filter chain matched (`NR`). */
export function meshListenerAccessLog(mesh: MeshConfig): Json | undefined {
  const log = meshFileAccessLog(mesh);
  if (!log) return undefined;
  return { ...log, filter: { responseFlagFilter: { flags: ['NR'] } } };
}

export function accessLogs(mesh: MeshConfig): Json[] {
  const log = meshFileAccessLog(mesh);
  return log ? [log] : [];
}

// ---- SDS ----

const SDS_CLUSTER = 'sds-grpc';

/** model.ConstructSdsSecretConfig: a secret served by the agent over the `sds-grpc` cluster. */
export function sdsSecretConfig(name: string): Json {
  const sdsConfig: Json = {
    apiConfigSource: {
      apiType: 'GRPC',
      transportApiVersion: 'V3',
      grpcServices: [{ envoyGrpc: { clusterName: SDS_CLUSTER } }],
      setNodeOnFirstMessageOnly: true,
    },
  };
  // The workload certificate and root wait for the agent indefinitely; file-based ones do not.
  if (name === 'default' || name === 'ROOTCA') sdsConfig['initialFetchTimeout'] = EMPTY_DURATION;
  sdsConfig['resourceApiVersion'] = 'V3';
  return { name, sdsConfig };
}

/** credentials.ToResourceName: `builtin://` is the workload cert, bare names become `kubernetes://`. */
export function credentialResourceName(credentialName: string): string {
  if (credentialName.startsWith('builtin://')) return 'default';
  if (credentialName.startsWith('kubernetes://') || credentialName.startsWith('kubernetes-gateway://')) {
    return credentialName;
  }
  return `kubernetes://${credentialName}`;
}

/**
 * model.ConstructSdsSecretConfigForCredential: a credentialName secret pushed by istiod over ADS. No
 * initial fetch timeout on purpose, so a missing Secret does not block the listener.
 */
export function credentialSdsSecretConfig(credentialName: string): Json {
  if (credentialName === 'builtin://') return sdsSecretConfig('default');
  if (credentialName === 'builtin://-cacert') return sdsSecretConfig('ROOTCA');
  return { name: credentialResourceName(credentialName), sdsConfig: { ads: {}, resourceApiVersion: 'V3' } };
}

// ---- HTTP connection manager ----

export interface HcmOptions {
  class: ListenerClass;
  statPrefix: string;
  /** RDS route name (over ADS)... */
  rds?: string;
  /** ...or an inline route configuration. */
  routeConfig?: Json;
  useRemoteAddress: boolean;
  /** The port's protocol: gRPC-Web adds its filter. */
  protocol?: Protocol;
  /** Class-specific fields set before Istio's common ones (XFCC, server name, protocol options). */
  base?: Json;
  /** The AuthorizationPolicy RBAC filters (authzHttpFilters), placed right after metadata exchange. */
  authz?: Json[];
}

/** ProxyConfig as the proxy sent it (PROXY_CONFIG), else the mesh default. */
export function proxyConfigOf(mesh: MeshConfig, proxy: ListenerProxy): Record<string, unknown> {
  const own = proxy.metadata?.['PROXY_CONFIG'];
  if (isRecord(own)) return own;
  return isRecord(mesh.defaultConfig) ? mesh.defaultConfig : {};
}

/** ListenerBuilder.buildHTTPConnectionManager. */
export function httpConnectionManager(mesh: MeshConfig, proxy: ListenerProxy, opts: HcmOptions): Json {
  const hcm: Json = { '@type': TYPE_HCM, ...(opts.base ?? {}) };
  hcm['statPrefix'] = opts.statPrefix;
  if (opts.rds !== undefined) {
    hcm['rds'] = {
      configSource: { ads: {}, initialFetchTimeout: EMPTY_DURATION, resourceApiVersion: 'V3' },
      routeConfigName: opts.rds,
    };
  } else {
    hcm['routeConfig'] = opts.routeConfig ?? {};
  }
  hcm['httpFilters'] = httpFilters(opts.class, opts.protocol, opts.authz);
  const tracing = legacyTracing(mesh, proxy);
  if (tracing) hcm['tracing'] = tracing;
  const idle = proxyIdleTimeout(proxy);
  if (idle) hcm['commonHttpProtocolOptions'] = { idleTimeout: idle };
  hcm['streamIdleTimeout'] = EMPTY_DURATION;
  const logs = accessLogs(mesh);
  if (logs.length > 0) hcm['accessLog'] = logs;
  hcm['useRemoteAddress'] = opts.useRemoteAddress;
  hcm['upgradeConfigs'] = [{ upgradeType: 'websocket' }];
  applyPathNormalization(hcm, mesh);
  hcm['requestIdExtension'] = { typedConfig: { '@type': TYPE_UUID, useRequestIdForTraceSampling: true } };
  return hcm;
}

/**
 * Mesh `pathNormalization` (listener_builder.go): DEFAULT/BASE normalize per RFC 3986, MERGE_SLASHES also
 * merges slashes, DECODE_AND_MERGE_SLASHES also decodes %2F/%5C first; NONE turns normalization off. An
 * unknown mode leaves `normalizePath` unset, as Go's switch does.
 */
function applyPathNormalization(hcm: Json, mesh: MeshConfig): void {
  const pn = mesh['pathNormalization'];
  const mode = isRecord(pn) && typeof pn['normalization'] === 'string' ? pn['normalization'] : 'DEFAULT';
  if (mode === 'NONE') hcm['normalizePath'] = false;
  else if (['DEFAULT', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'].includes(mode)) {
    hcm['normalizePath'] = true;
  }
  if (mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES') hcm['mergeSlashes'] = true;
  hcm['pathWithEscapedSlashesAction'] =
    mode === 'DECODE_AND_MERGE_SLASHES' ? 'UNESCAPE_AND_FORWARD' : 'KEEP_UNCHANGED';
}

/**
 * The HTTP filters of an Istio 1.17 HCM without Telemetry or JWT config: metadata exchange, the
 * AuthorizationPolicy RBAC filters (after metadata exchange, istio/istio#41066), gRPC-Web (for that
 * protocol), gRPC stats, the ALPN override (not inbound), fault, CORS, router.
 */
export function httpFilters(cls: ListenerClass, protocol?: Protocol, authz: Json[] = []): Json[] {
  const filters: Json[] = [httpMetadataExchangeFilter(), ...authz];
  if (protocol === PROTOCOL.GRPCWeb) {
    filters.push({ name: 'envoy.filters.http.grpc_web', typedConfig: { '@type': TYPE_GRPC_WEB } });
  }
  filters.push({
    name: 'envoy.filters.http.grpc_stats',
    typedConfig: { '@type': TYPE_GRPC_STATS, emitFilterState: true, statsForAllMethods: false },
  });
  if (cls !== 'sidecar-inbound') filters.push(alpnFilter());
  filters.push({ name: 'envoy.filters.http.fault', typedConfig: { '@type': TYPE_FAULT } });
  filters.push({ name: 'envoy.filters.http.cors', typedConfig: { '@type': TYPE_CORS } });
  filters.push({ name: 'envoy.filters.http.router', typedConfig: { '@type': TYPE_ROUTER } });
  return filters;
}

/** xdsfilters.HTTPMx: the metadata exchange extension on the null Wasm VM. */
function httpMetadataExchangeFilter(): Json {
  return {
    name: 'istio.metadata_exchange',
    typedConfig: {
      '@type': TYPE_WASM,
      config: {
        vmConfig: {
          runtime: 'envoy.wasm.runtime.null',
          code: { local: { inlineString: 'envoy.wasm.metadata_exchange' } },
        },
        configuration: { '@type': TYPE_METADATA_EXCHANGE },
      },
    },
  };
}

/** xdsfilters.Alpn: upstream ALPN per protocol, so the server side can tell mesh HTTP apart. */
function alpnFilter(): Json {
  return {
    name: 'istio.alpn',
    typedConfig: {
      '@type': TYPE_ALPN,
      alpnOverride: [
        // HTTP10 is the enum's zero value: proto3 JSON leaves it out.
        { alpnOverride: ['istio-http/1.0', 'istio', 'http/1.0'] },
        { upstreamProtocol: 'HTTP11', alpnOverride: ['istio-http/1.1', 'istio', 'http/1.1'] },
        { upstreamProtocol: 'HTTP2', alpnOverride: ['istio-h2', 'istio', 'h2'] },
      ],
    },
  };
}

function dryRunPolicyTag(tag: string, key: string): Json {
  return {
    tag,
    metadata: {
      kind: { request: {} },
      metadataKey: { key: 'envoy.filters.http.rbac', path: [{ key }] },
    },
  };
}

/**
 * tracing.go configureTracingFromSpec without a Telemetry tracing config: mesh `enableTracing` (on by
 * default) gives 100% client/overall sampling, the ProxyConfig (or PILOT_TRACE_SAMPLING default 1%) random
 * sampling, and Istio's tags sorted by name.
 */
export function legacyTracing(mesh: MeshConfig, proxy: ListenerProxy): Json | undefined {
  if (mesh['enableTracing'] === false) return undefined;
  const tracingConfig = proxyConfigOf(mesh, proxy)['tracing'];
  let sampling = 1;
  if (
    isRecord(tracingConfig) &&
    typeof tracingConfig['sampling'] === 'number' &&
    tracingConfig['sampling'] !== 0
  ) {
    sampling = tracingConfig['sampling'] > 100 ? 1 : tracingConfig['sampling'];
  }
  const literal = (tag: string, value: string): Json => ({ tag, literal: { value } });
  const tags: Json[] = [
    dryRunPolicyTag(
      'istio.authorization.dry_run.allow_policy.name',
      'istio_dry_run_allow_shadow_effective_policy_id',
    ),
    dryRunPolicyTag(
      'istio.authorization.dry_run.allow_policy.result',
      'istio_dry_run_allow_shadow_engine_result',
    ),
    dryRunPolicyTag(
      'istio.authorization.dry_run.deny_policy.name',
      'istio_dry_run_deny_shadow_effective_policy_id',
    ),
    dryRunPolicyTag(
      'istio.authorization.dry_run.deny_policy.result',
      'istio_dry_run_deny_shadow_engine_result',
    ),
    literal('istio.canonical_revision', proxy.labels['service.istio.io/canonical-revision'] || 'latest'),
    literal('istio.canonical_service', proxy.labels['service.istio.io/canonical-name'] || 'unknown'),
    literal('istio.mesh_id', metaString(proxy, 'MESH_ID') || 'unknown'),
    literal('istio.namespace', proxy.namespace || 'default'),
  ];
  const tracing: Json = {
    clientSampling: { value: 100 },
    randomSampling: { value: sampling },
    overallSampling: { value: 100 },
    customTags: tags,
  };
  const maxPathTagLength = isRecord(tracingConfig) ? tracingConfig['maxPathTagLength'] : undefined;
  if (typeof maxPathTagLength === 'number' && Number.isInteger(maxPathTagLength) && maxPathTagLength > 0) {
    tracing['maxPathTagLength'] = maxPathTagLength;
  }
  return tracing;
}

/** HCM fields for HTTP/2 ports on the inbound side (gRPC, HTTP2, gRPC-Web). */
export function inboundHttp2Options(protocol: Protocol): Json {
  return isHTTP2Protocol(protocol) ? { http2ProtocolOptions: {} } : {};
}

/** `{filterMetadata: {istio: {config: <path>}}}` (util.BuildConfigInfoMetadata). */
export function configInfoMetadata(path: string): Json {
  return { filterMetadata: { istio: { config: path } } };
}
