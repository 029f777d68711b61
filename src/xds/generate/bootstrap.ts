/**
 * The Envoy Bootstrap istio-proxy writes for a proxy (Istio 1.17 pkg/bootstrap/config.go filling
 * tools/packaging/common/envoy_bootstrap.json), in proto3 JSON as `/config_dump` shows it (defaults left
 * out): the node (id, cluster, locality, metadata with PROXY_CONFIG and the status/Prometheus ports),
 * Istio's runtime flags, stats tags and inclusion list, the admin endpoint on localhost:15000, ADS over the
 * `xds-grpc` cluster (the agent's `./etc/istio/proxy/XDS` socket), the static `prometheus_stats`, `agent`,
 * `sds-grpc` and `xds-grpc` clusters (plus `zipkin` when the ProxyConfig traces to Zipkin), and the static
 * listeners on 15090 (`/stats/prometheus`) and 15021 (`/healthz/ready`).
 *
 * Envoy's own additions to the node (user agent, build version, extensions) are not part of the file and
 * are not added. Tracers other than Zipkin, statsd, the metrics and access log services are not built.
 */
import type { MeshConfig } from '../../model/index.js';
import { defaultMeshConfig } from '../../model/index.js';
import type { Json } from './clusters.js';
import { HTTP_OPTIONS_KEY } from './clusters.js';
import { HCM_FILTER, TYPE_HCM, isRecord, strings } from './listener-filters.js';
import type { Proxy } from './proxy.js';

export interface BootstrapOptions {
  /** The mesh whose `defaultConfig` the ProxyConfig starts from (Istio's defaults when absent). */
  mesh?: MeshConfig;
  /** ProxyConfig fields overriding the mesh default (the pod's `proxy.istio.io/config`). */
  proxyConfig?: Record<string, unknown>;
  /** Overrides `discoveryAddress` of the ProxyConfig (what the agent dials; recorded in PROXY_CONFIG). */
  discoveryAddress?: string;
  /** Envoy's admin port (ProxyConfig `proxyAdminPort`, 15000). */
  adminPort?: number;
  /** The agent's status port the `agent` cluster points at (ProxyConfig `statusPort`, 15020). */
  statusPort?: number;
  /** The readiness listener's port (ENVOY_STATUS_PORT, 15021). */
  envoyStatusPort?: number;
  /** The Prometheus listener's port (ENVOY_PROMETHEUS_PORT, 15090). */
  envoyPrometheusPort?: number;
  /** The agent's SDS socket (`./var/run/secrets/workload-spiffe-uds/socket`). */
  sdsSocketPath?: string;
  /** ISTIO_DELTA_XDS: DELTA_GRPC instead of GRPC for ADS. */
  deltaXds?: boolean;
  locality?: { region?: string; zone?: string; subZone?: string };
}

const TYPE_PREFIX = 'type.googleapis.com/';
const TYPE_TYPED_STRUCT = `${TYPE_PREFIX}udpa.type.v1.TypedStruct`;
const TYPE_FILE_ACCESS_LOG = `${TYPE_PREFIX}envoy.extensions.access_loggers.file.v3.FileAccessLog`;
const TYPE_ROUTER = `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`;
const TYPE_HTTP_OPTIONS = `${TYPE_PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`;
const TYPE_ZIPKIN = `${TYPE_PREFIX}envoy.config.trace.v3.ZipkinConfig`;

const DEFAULT_SDS_SOCKET = './var/run/secrets/workload-spiffe-uds/socket';

/** DefaultStatTags: the telemetry v2 labels Envoy extracts from stat names. */
const DEFAULT_STAT_TAGS = [
  'reporter',
  'source_namespace',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_port',
  'destination_cluster',
  'request_protocol',
  'request_operation',
  'request_host',
  'response_flags',
  'grpc_response_status',
  'connection_security_policy',
  'source_canonical_service',
  'destination_canonical_service',
  'source_canonical_revision',
  'destination_canonical_revision',
];

const REQUIRED_PREFIXES = ['cluster_manager', 'listener_manager', 'server', 'cluster.xds-grpc', 'wasm'];
const RBAC_SUFFIXES = ['rbac.allowed', 'rbac.denied', 'shadow_allowed', 'shadow_denied'];
const REQUIRED_REGEXES = ['vhost\\.*\\.route\\.*'];

/** DefaultProxyConfig's fields that injection does not take from the mesh config. */
function istioProxyConfigDefaults(): Record<string, unknown> {
  return {
    configPath: './etc/istio/proxy',
    binaryPath: '/usr/local/bin/envoy',
    serviceCluster: 'istio-proxy',
    drainDuration: '45s',
    discoveryAddress: 'istiod.istio-system.svc:15012',
    proxyAdminPort: 15000,
    controlPlaneAuthPolicy: 'MUTUAL_TLS',
    statNameLength: 189,
    concurrency: 2,
    tracing: { zipkin: { address: 'zipkin.istio-system:9411' } },
    statusPort: 15020,
    terminationDrainDuration: '5s',
  };
}

function positivePort(...candidates: unknown[]): number {
  for (const c of candidates) {
    if (typeof c === 'number' && Number.isInteger(c) && c > 0 && c <= 65535) return c;
    if (typeof c === 'string' && /^\d+$/.test(c)) {
      const n = Number(c);
      if (n > 0 && n <= 65535) return n;
    }
  }
  return 0;
}

/** The ProxyConfig the agent runs with: Istio's defaults, the mesh default, the proxy's own, the options. */
export function effectiveProxyConfig(proxy: Proxy, options: BootstrapOptions = {}): Record<string, unknown> {
  const mesh = options.mesh ?? defaultMeshConfig();
  const own = proxy.metadata['PROXY_CONFIG'];
  const config: Record<string, unknown> = {
    ...istioProxyConfigDefaults(),
    ...(isRecord(mesh.defaultConfig) ? mesh.defaultConfig : {}),
    ...(isRecord(own) ? own : {}),
    ...(options.proxyConfig ?? {}),
  };
  if (options.discoveryAddress) config['discoveryAddress'] = options.discoveryAddress;
  if (options.adminPort) config['proxyAdminPort'] = options.adminPort;
  if (options.statusPort) config['statusPort'] = options.statusPort;
  return config;
}

/** getServiceCluster with the default `istio-proxy` service cluster: `<app>.<ns>`, else `<workload>.<ns>`. */
function serviceCluster(proxy: Proxy, config: Record<string, unknown>): string {
  const name = typeof config['serviceCluster'] === 'string' ? config['serviceCluster'] : '';
  if (name !== '' && name !== 'istio-proxy') return name;
  const app = proxy.labels['app'];
  if (app !== undefined) return `${app}.${proxy.namespace}`;
  if (proxy.workloadName !== '') return `${proxy.workloadName}.${proxy.namespace}`;
  return proxy.namespace !== '' ? `istio-proxy.${proxy.namespace}` : 'istio-proxy';
}

function isIpv6Only(proxy: Proxy): boolean {
  return proxy.ipAddresses.length > 0 && proxy.ipAddresses.every((ip) => ip.includes(':'));
}

/** Node metadata as Envoy holds it (a Struct, keys sorted), with PROXY_CONFIG and the two Envoy ports. */
function nodeMetadata(
  proxy: Proxy,
  config: Record<string, unknown>,
  statusPort: number,
  promPort: number,
): Json {
  const meta: Record<string, unknown> = { ...proxy.metadata };
  meta['PROXY_CONFIG'] = config;
  meta['ENVOY_STATUS_PORT'] = statusPort;
  meta['ENVOY_PROMETHEUS_PORT'] = promPort;
  if (typeof meta['INSTANCE_IPS'] !== 'string' && proxy.ipAddresses.length > 0) {
    meta['INSTANCE_IPS'] = proxy.ipAddresses.join(',');
  }
  const out: Json = {};
  for (const key of Object.keys(meta).sort()) {
    const v = meta[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** extractRuntimeFlags: Istio's defaults, then ProxyConfig `runtimeValues` ('' removes a default). */
function runtimeFlags(config: Record<string, unknown>): Json {
  const flags: Record<string, string> = {
    'envoy.deprecated_features:envoy.config.listener.v3.Listener.hidden_envoy_deprecated_use_original_dst':
      'true',
    'envoy.reloadable_features.http_reject_path_with_fragment': 'false',
    'envoy.reloadable_features.no_extension_lookup_by_name': 'false',
    'overload.global_downstream_max_connections': '2147483647',
    're2.max_program_size.error_level': '32768',
  };
  const values = config['runtimeValues'];
  if (isRecord(values)) {
    for (const [k, v] of Object.entries(values)) {
      if (typeof v !== 'string') continue;
      if (v === '') delete flags[k];
      else flags[k] = v;
    }
  }
  const out: Json = {};
  for (const k of Object.keys(flags).sort()) out[k] = flags[k];
  return out;
}

function annotation(proxy: Proxy, name: string): string {
  const annotations = proxy.metadata['ANNOTATIONS'];
  return isRecord(annotations) && typeof annotations[name] === 'string' ? annotations[name] : '';
}

/** getStatsOptions: annotation (else ProxyConfig) inclusions plus the required ones, `{pod_ip}` expanded. */
function statsConfig(proxy: Proxy, config: Record<string, unknown>): Json {
  const matcher = isRecord(config['proxyStatsMatcher']) ? config['proxyStatsMatcher'] : {};
  const inclusion = (annotationName: string, fromConfig: unknown, required: string[]): string[] => {
    const anno = annotation(proxy, annotationName);
    const list = anno !== '' ? anno.split(',') : strings(fromConfig);
    const all = [...list, ...required];
    const out: string[] = [];
    for (const pattern of all) {
      if (!pattern.includes('{pod_ip}')) out.push(pattern);
      else for (const ip of proxy.ipAddresses) out.push(pattern.split('{pod_ip}').join(ip));
    }
    return out;
  };
  const prefixes = inclusion(
    'sidecar.istio.io/statsInclusionPrefixes',
    matcher['inclusionPrefixes'],
    REQUIRED_PREFIXES,
  );
  const suffixes = inclusion(
    'sidecar.istio.io/statsInclusionSuffixes',
    matcher['inclusionSuffixes'],
    RBAC_SUFFIXES,
  );
  const regexes = inclusion(
    'sidecar.istio.io/statsInclusionRegexps',
    matcher['inclusionRegexps'],
    REQUIRED_REGEXES,
  );
  const extraTags: string[] = [];
  for (const tag of [
    ...DEFAULT_STAT_TAGS,
    ...strings(config['extraStatTags']),
    ...annotation(proxy, 'sidecar.istio.io/extraStatTags').split(','),
  ]) {
    if (tag !== '' && !extraTags.includes(tag)) extraTags.push(tag);
  }
  const tag = (tagName: string, regex: string): Json => ({ tagName, regex });
  const statsTags: Json[] = [
    tag('cluster_name', '^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)'),
    tag('tcp_prefix', '^tcp\\.((.*?)\\.)\\w+?$'),
    tag('response_code', '(response_code=\\.=(.+?);\\.;)'),
    tag('response_code', '_rq(_(\\d{3}))$'),
    tag('response_code_class', '_rq(_(\\dxx))$'),
    tag(
      'http_conn_manager_listener_prefix',
      '^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)',
    ),
    tag('http_conn_manager_prefix', '^http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)'),
    tag('listener_address', '^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)'),
    tag('mongo_prefix', '^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$'),
    ...extraTags.map((t) => tag(t, `(${t}=\\.=(.*?);\\.;)`)),
    tag('cache', '(cache\\.(.+?)\\.)'),
    tag('component', '(component\\.(.+?)\\.)'),
    tag('tag', '(tag\\.(.+?);\\.)'),
    tag('wasm_filter', '(wasm_filter\\.(.+?)\\.)'),
    tag('authz_enforce_result', 'rbac(\\.(allowed|denied))'),
    tag('authz_dry_run_action', '(\\.istio_dry_run_(allow|deny)_)'),
    tag('authz_dry_run_result', '(\\.shadow_(allowed|denied))'),
  ];
  const patterns: Json[] = [
    { prefix: 'reporter=' },
    ...prefixes.map((prefix) => ({ prefix })),
    ...suffixes.map((suffix) => ({ suffix })),
    ...regexes.map((regex) => ({ safeRegex: { regex } })),
    { prefix: 'component' },
    { prefix: 'istio' },
  ];
  return { statsTags, useAllDefaultTags: false, statsMatcher: { inclusionList: { patterns } } };
}

function staticCluster(name: string, connectTimeout: string, address: Json, extra: Json = {}): Json {
  return {
    name,
    type: 'STATIC',
    connectTimeout,
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address } }] }] },
    ...extra,
  };
}

function http2Options(): Json {
  return {
    [HTTP_OPTIONS_KEY]: { '@type': TYPE_HTTP_OPTIONS, explicitHttpConfig: { http2ProtocolOptions: {} } },
  };
}

function staticListener(
  address: string,
  port: number,
  statPrefix: string,
  prefix: string,
  cluster: string,
): Json {
  return {
    address: { socketAddress: { address, portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: HCM_FILTER,
            typedConfig: {
              '@type': TYPE_HCM,
              statPrefix,
              routeConfig: {
                virtualHosts: [
                  { name: 'backend', domains: ['*'], routes: [{ match: { prefix }, route: { cluster } }] },
                ],
              },
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': TYPE_ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

/** `host:port` as the Zipkin cluster's socket address (option.addressConverter); undefined if unreadable. */
function zipkinAddress(config: Record<string, unknown>): Json | undefined {
  const tracing = config['tracing'];
  const zipkin = isRecord(tracing) && isRecord(tracing['zipkin']) ? tracing['zipkin'] : undefined;
  const address = zipkin && typeof zipkin['address'] === 'string' ? zipkin['address'] : '';
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port <= 0 || port > 65535) return undefined;
  return { address: m[1] ?? m[2] ?? '', portValue: port };
}

export function buildBootstrap(proxy: Proxy, options: BootstrapOptions = {}): Json {
  const config = effectiveProxyConfig(proxy, options);
  const ipv6 = isIpv6Only(proxy);
  const localhost = ipv6 ? '::1' : '127.0.0.1';
  const wildcard = ipv6 ? '::' : '0.0.0.0';
  const adminPort = positivePort(config['proxyAdminPort'], 15000);
  const agentPort = positivePort(config['statusPort'], 15020);
  const statusPort = positivePort(options.envoyStatusPort, proxy.metadata['ENVOY_STATUS_PORT'], 15021);
  const promPort = positivePort(options.envoyPrometheusPort, proxy.metadata['ENVOY_PROMETHEUS_PORT'], 15090);
  const configPath =
    typeof config['configPath'] === 'string' && config['configPath'] !== ''
      ? config['configPath']
      : './etc/istio/proxy';

  const locality: Json = {};
  if (options.locality?.region) locality['region'] = options.locality.region;
  if (options.locality?.zone) locality['zone'] = options.locality.zone;
  if (options.locality?.subZone) locality['subZone'] = options.locality.subZone;

  const clusters: Json[] = [
    staticCluster('prometheus_stats', '0.250s', {
      socketAddress: { address: localhost, portValue: adminPort },
    }),
    staticCluster('agent', '0.250s', { socketAddress: { address: localhost, portValue: agentPort } }),
    staticCluster(
      'sds-grpc',
      '1s',
      { pipe: { path: options.sdsSocketPath ?? DEFAULT_SDS_SOCKET } },
      {
        typedExtensionProtocolOptions: http2Options(),
      },
    ),
    staticCluster(
      'xds-grpc',
      '1s',
      { pipe: { path: `${configPath}/XDS` } },
      {
        circuitBreakers: {
          thresholds: [
            { maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 },
            { priority: 'HIGH', maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 },
          ],
        },
        upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300 } },
        maxRequestsPerConnection: 1,
        typedExtensionProtocolOptions: http2Options(),
      },
    ),
  ];
  const zipkin = zipkinAddress(config);
  if (zipkin) {
    clusters.push({
      name: 'zipkin',
      type: 'STRICT_DNS',
      respectDnsTtl: true,
      ...(ipv6 ? {} : { dnsLookupFamily: 'V4_ONLY' }),
      dnsRefreshRate: '30s',
      connectTimeout: '1s',
      loadAssignment: {
        clusterName: 'zipkin',
        endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: zipkin } } }] }],
      },
    });
  }

  const bootstrap: Json = {
    node: {
      id: proxy.id,
      cluster: serviceCluster(proxy, config),
      locality,
      metadata: nodeMetadata(proxy, config, statusPort, promPort),
    },
    staticResources: {
      listeners: [
        staticListener(wildcard, promPort, 'stats', '/stats/prometheus', 'prometheus_stats'),
        staticListener(wildcard, statusPort, 'agent', '/healthz/ready', 'agent'),
      ],
      clusters,
    },
    dynamicResources: {
      ldsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      cdsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      adsConfig: {
        apiType: options.deltaXds ? 'DELTA_GRPC' : 'GRPC',
        transportApiVersion: 'V3',
        grpcServices: [{ envoyGrpc: { clusterName: 'xds-grpc' } }],
        setNodeOnFirstMessageOnly: true,
      },
    },
  };
  if (zipkin) {
    bootstrap['tracing'] = {
      http: {
        name: 'envoy.tracers.zipkin',
        typedConfig: {
          '@type': TYPE_ZIPKIN,
          collectorCluster: 'zipkin',
          collectorEndpoint: '/api/v2/spans',
          traceId128bit: true,
          sharedSpanContext: false,
          collectorEndpointVersion: 'HTTP_JSON',
        },
      },
    };
  }
  bootstrap['admin'] = {
    accessLog: [
      {
        name: 'envoy.access_loggers.file',
        typedConfig: { '@type': TYPE_FILE_ACCESS_LOG, path: '/dev/null' },
      },
    ],
    profilePath: '/var/lib/istio/data/envoy.prof',
    address: { socketAddress: { address: localhost, portValue: adminPort } },
  };
  bootstrap['statsConfig'] = statsConfig(proxy, config);
  const outlierLogPath = proxy.metadata['OUTLIER_LOG_PATH'];
  if (typeof outlierLogPath === 'string' && outlierLogPath !== '') {
    bootstrap['clusterManager'] = { outlierDetection: { eventLogPath: outlierLogPath } };
  }
  bootstrap['layeredRuntime'] = {
    layers: [
      { name: 'global config', staticLayer: runtimeFlags(config) },
      { name: 'admin', adminLayer: {} },
    ],
  };
  bootstrap['bootstrapExtensions'] = [
    {
      name: 'envoy.bootstrap.internal_listener',
      typedConfig: {
        '@type': TYPE_TYPED_STRUCT,
        typeUrl: `${TYPE_PREFIX}envoy.extensions.bootstrap.internal_listener.v3.InternalListener`,
      },
    },
  ];
  return bootstrap;
}
