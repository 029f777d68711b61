/**
 * istiod's Go model objects as its debug endpoints write them with encoding/json (Istio 1.17): exported
 * field names and declaration order, `omitempty` where the struct says so, nil maps as `null`, map keys
 * sorted, times in RFC 3339 with Go's trimmed fractions.
 *
 * - model.NodeMetadata (adsz `metadata`): pilot/pkg/model/context.go. Fields Istio does not model are
 *   dropped; StringBool fields print `"true"` and vanish when false; int fields are numbers; POD_PORTS is
 *   re-marshalled compact inside its string.
 * - model.Service (registryz, endpointz): pilot/pkg/model/service.go, filled as the Kubernetes and
 *   ServiceEntry registries fill it (serviceregistry/kube/conversion.go, serviceentry/conversion.go).
 * - crd.IstioKind (configz): pilot/pkg/config/kube/crd, with the spec a sorted map.
 */
import type { Resource } from '../api/index.js';
import type { Service, ServicePort } from '../registry/index.js';
import type { Proxy } from '../xds/index.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);

/** A Go map[string]string: keys sorted, non-strings dropped; null when empty (a nil map). */
export function goStringMap(v: unknown): Record<string, string> | null {
  if (!isRecord(v)) return null;
  const entries = Object.entries(v)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .sort(byKey);
  return entries.length > 0 ? Object.fromEntries(entries) : null;
}

/** Go's time.Time JSON (RFC3339Nano): fraction digits without trailing zeros, none for whole seconds. */
export function goTime(date: Date, extraNanos = 0): string {
  if (Number.isNaN(date.getTime())) return '0001-01-01T00:00:00Z';
  const iso = date.toISOString();
  const nanos =
    date.getUTCMilliseconds() * 1_000_000 + Math.max(0, Math.min(999_999, Math.floor(extraNanos)));
  const frac = String(nanos).padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** metav1.Time JSON: RFC 3339 in whole seconds, `null` for the zero time. */
function kubeTime(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : `${d.toISOString().slice(0, 19)}Z`;
}

// ---- model.NodeMetadata ----

type MetaKind = 'string' | 'map' | 'stringList' | 'podPorts' | 'stringBool' | 'int' | 'proxyConfig';

/** NodeMetadata's JSON fields in declaration order. */
const NODE_METADATA: [string, MetaKind][] = [
  ['PROXY_CONFIG', 'proxyConfig'],
  ['ISTIO_VERSION', 'string'],
  ['ISTIO_REVISION', 'string'],
  ['LABELS', 'map'],
  ['STATIC_LABELS', 'map'],
  ['ANNOTATIONS', 'map'],
  ['INSTANCE_IPS', 'stringList'],
  ['NAMESPACE', 'string'],
  ['NODE_NAME', 'string'],
  ['WORKLOAD_NAME', 'string'],
  ['INTERCEPTION_MODE', 'string'],
  ['SERVICE_ACCOUNT', 'string'],
  ['HTTP_PROXY_PORT', 'string'],
  ['MESH_ID', 'string'],
  ['CLUSTER_ID', 'string'],
  ['NETWORK', 'string'],
  ['REQUESTED_NETWORK_VIEW', 'stringList'],
  ['POD_PORTS', 'podPorts'],
  ['TLS_SERVER_CERT_CHAIN', 'string'],
  ['TLS_SERVER_KEY', 'string'],
  ['TLS_SERVER_ROOT_CERT', 'string'],
  ['TLS_CLIENT_CERT_CHAIN', 'string'],
  ['TLS_CLIENT_KEY', 'string'],
  ['TLS_CLIENT_ROOT_CERT', 'string'],
  ['BASE', 'string'],
  ['IDLE_TIMEOUT', 'string'],
  ['HTTP10', 'string'],
  ['GENERATOR', 'string'],
  ['DNS_CAPTURE', 'stringBool'],
  ['DNS_AUTO_ALLOCATE', 'stringBool'],
  ['ENABLE_HBONE', 'stringBool'],
  ['AUTO_REGISTER_GROUP', 'string'],
  ['UNPRIVILEGED_POD', 'string'],
  ['PLATFORM_METADATA', 'map'],
  ['STS_PORT', 'string'],
  ['ENVOY_STATUS_PORT', 'int'],
  ['ENVOY_PROMETHEUS_PORT', 'int'],
  ['EXIT_ON_ZERO_ACTIVE_CONNECTIONS', 'stringBool'],
  ['INBOUND_LISTENER_EXACT_BALANCE', 'stringBool'],
  ['OUTBOUND_LISTENER_EXACT_BALANCE', 'stringBool'],
  ['CLOUDRUN_ADDR', 'string'],
];

/** PodPort `{name (omitempty), containerPort, protocol}`, marshalled compact and quoted again. */
function podPortsJson(v: unknown): string | undefined {
  let list: unknown = v;
  if (typeof v === 'string') {
    try {
      list = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list)) return undefined;
  const ports = list.filter(isRecord).map((p) => ({
    ...(typeof p['name'] === 'string' && p['name'] !== '' ? { name: p['name'] } : {}),
    containerPort: typeof p['containerPort'] === 'number' ? Math.trunc(p['containerPort']) : 0,
    protocol: typeof p['protocol'] === 'string' ? p['protocol'] : '',
  }));
  return JSON.stringify(ports);
}

function metaValue(kind: MetaKind, v: unknown): unknown {
  switch (kind) {
    case 'string':
      return typeof v === 'string' && v !== '' ? v : undefined;
    case 'map':
      return goStringMap(v) ?? undefined;
    case 'stringList':
      if (Array.isArray(v)) return v.filter((x) => typeof x === 'string').join(',');
      return typeof v === 'string' ? v : undefined;
    case 'podPorts':
      return podPortsJson(v);
    case 'stringBool': {
      const on = v === true || (typeof v === 'string' && /^(1|t|true)$/i.test(v));
      return on ? 'true' : undefined;
    }
    case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : 0;
      return Number.isFinite(n) && n !== 0 ? Math.trunc(n) : undefined;
    }
    case 'proxyConfig':
      // Marshalled by protojson from the ProxyConfig proto: the agent sends it in that form already.
      return isRecord(v) ? v : undefined;
  }
}

/** istiod's model.NodeMetadata JSON for node metadata as received. */
export function nodeMetadataJson(metadata: Record<string, unknown>): Json {
  const out: Json = {};
  for (const [key, kind] of NODE_METADATA) {
    const value = metaValue(kind, metadata[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * The labels istiod keeps for a proxy (adsz `labels`): the workload's labels augmented as
 * labelutil.AugmentLabels does (`topology.istio.io/cluster`, `kubernetes.io/hostname` from the node
 * name), keys sorted; null when there are none.
 */
export function proxyLabelsJson(proxy: Proxy): Record<string, string> | null {
  const labels: Record<string, string> = { ...proxy.labels };
  if (proxy.clusterId) labels['topology.istio.io/cluster'] = proxy.clusterId;
  const node = proxy.metadata['NODE_NAME'];
  if (typeof node === 'string' && node !== '') labels['kubernetes.io/hostname'] = node;
  return goStringMap(labels);
}

// ---- model.Service ----

const RESOLUTIONS = ['ClientSideLB', 'DNSLB', 'Passthrough', 'DNSRoundRobinLB'];

/** model.Port: `{name (omitempty), port, protocol (omitempty)}`. */
export function servicePortJson(port: ServicePort): Json {
  return {
    ...(port.name ? { name: port.name } : {}),
    port: port.port,
    ...(port.protocol ? { protocol: port.protocol } : {}),
  };
}

function exportToJson(exportTo: readonly string[]): Record<string, boolean> | null {
  if (exportTo.length === 0) return null;
  return Object.fromEntries([...new Set(exportTo)].sort().map((e) => [e, true]));
}

/** model.Service as encoding/json writes it (registryz, and endpointz's `service`). */
export function serviceJson(svc: Service, clusterId = 'Kubernetes'): Json {
  const kube = svc.registry === 'Kubernetes';
  const meta = svc.source.metadata;
  const created = kubeTime(meta.creationTimestamp);
  const vips = kube ? [svc.defaultAddress, ...svc.addresses.filter((a) => a !== svc.defaultAddress)] : [];
  return {
    Attributes: {
      ServiceRegistry: svc.registry,
      Name: svc.name,
      Namespace: svc.namespace,
      Labels: goStringMap(svc.labels),
      ExportTo: exportToJson(svc.exportTo),
      LabelSelectors: svc.selector ? goStringMap(svc.selector) : null,
      ClusterExternalAddresses: { Addresses: null },
      ClusterExternalPorts: null,
      Type: kube ? (svc.kubeType ?? 'ClusterIP') : '',
      ExternalName: svc.externalName ?? '',
      NodeLocal: false,
    },
    ...(svc.ports.length > 0 ? { ports: svc.ports.map(servicePortJson) } : {}),
    ...(svc.serviceAccounts.length > 0 ? { serviceAccounts: svc.serviceAccounts } : {}),
    creationTime: created ?? '0001-01-01T00:00:00Z',
    hostname: svc.hostname,
    clusterVIPs: { Addresses: vips.length > 0 ? { [clusterId]: vips } : null },
    ...(svc.defaultAddress ? { defaultAddress: svc.defaultAddress } : {}),
    Resolution: Math.max(0, RESOLUTIONS.indexOf(svc.resolution)),
    MeshExternal: svc.meshExternal,
    ResourceVersion: kube && typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
  };
}

// ---- crd.IstioKind (configz) ----

/** The schemas istiod's config store serves, in collections.PilotGatewayAPI's order, with their versions. */
const CONFIGZ_SCHEMAS: [group: string, kind: string, version: string][] = [
  ['extensions.istio.io', 'WasmPlugin', 'v1alpha1'],
  ['networking.istio.io', 'DestinationRule', 'v1alpha3'],
  ['networking.istio.io', 'EnvoyFilter', 'v1alpha3'],
  ['networking.istio.io', 'Gateway', 'v1alpha3'],
  ['networking.istio.io', 'ServiceEntry', 'v1alpha3'],
  ['networking.istio.io', 'Sidecar', 'v1alpha3'],
  ['networking.istio.io', 'VirtualService', 'v1alpha3'],
  ['networking.istio.io', 'WorkloadEntry', 'v1alpha3'],
  ['networking.istio.io', 'WorkloadGroup', 'v1alpha3'],
  ['networking.istio.io', 'ProxyConfig', 'v1beta1'],
  ['security.istio.io', 'AuthorizationPolicy', 'v1beta1'],
  ['security.istio.io', 'PeerAuthentication', 'v1beta1'],
  ['security.istio.io', 'RequestAuthentication', 'v1beta1'],
  ['telemetry.istio.io', 'Telemetry', 'v1alpha1'],
  ['gateway.networking.k8s.io', 'ReferenceGrant', 'v1alpha2'],
  ['gateway.networking.k8s.io', 'TCPRoute', 'v1alpha2'],
  ['gateway.networking.k8s.io', 'TLSRoute', 'v1alpha2'],
  ['gateway.networking.k8s.io', 'GatewayClass', 'v1beta1'],
  ['gateway.networking.k8s.io', 'Gateway', 'v1beta1'],
  ['gateway.networking.k8s.io', 'HTTPRoute', 'v1beta1'],
];

/** A value as config.ToMap leaves it: objects become Go maps (keys sorted), nulls dropped. */
function sortedValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedValue);
  if (!isRecord(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .sort(byKey)
      .map(([k, x]) => [k, sortedValue(x)]),
  );
}

/** crd.ConvertConfig's IstioKind for one config object. */
export function istioKindJson(r: Resource, version: string): Json {
  const meta = r.metadata;
  const status = r.object['status'];
  return {
    kind: r.kind,
    apiVersion: `${r.info.group}/${version}`,
    metadata: {
      name: meta.name,
      namespace: meta.namespace || 'default',
      ...(typeof meta.resourceVersion === 'string' && meta.resourceVersion !== ''
        ? { resourceVersion: meta.resourceVersion }
        : {}),
      creationTimestamp: kubeTime(meta.creationTimestamp),
      ...(goStringMap(meta.labels) ? { labels: goStringMap(meta.labels) } : {}),
      ...(goStringMap(meta.annotations) ? { annotations: goStringMap(meta.annotations) } : {}),
    },
    spec: sortedValue(isRecord(r.object['spec']) ? r.object['spec'] : {}),
    ...(isRecord(status) && Object.keys(status).length > 0 ? { status: sortedValue(status) } : {}),
  };
}

/** istiod's configz list: every config object of the store's schemas, schema by schema. */
export function configzJson(resources: readonly Resource[]): Json[] {
  const out: Json[] = [];
  for (const [group, kind, version] of CONFIGZ_SCHEMAS) {
    for (const r of resources) {
      if (r.info.group === group && r.kind === kind) out.push(istioKindJson(r, version));
    }
  }
  return out;
}
