/**
 * The bodies of istiod's `/debug/push_status`, `/debug/authorizationz` and `/debug/endpointz` (Istio 1.17,
 * pilot/pkg/xds/debug.go and pilot/pkg/model), computed from a push context.
 *
 * - push_status is the PushContext's ProxyStatus: metric name → key → `{proxy, message}` (empty members
 *   left out, as Go's omitempty does). skiff records the conditions it can see in its model: clusters
 *   without instances (`pilot_eds_no_instances`, keyed by cluster name), subsets defined twice for one host
 *   in a namespace (`pilot_destrule_subsets`, istiod's message), and connected sidecars no service selects
 *   (`pilot_no_ip`, keyed by proxy ID).
 * - authorizationz is `{"authorization_policies": {"namespace_to_policies": {ns: [...]}, "root_namespace"}}`
 *   with policies in creation order per namespace.
 * - endpointz is a list of `{svc: "<hostname>:<port name>", ep: [ServiceInstance]}` with istiod's field
 *   names (Go's exported names for IstioEndpoint, which has no JSON tags).
 */
import { KIND } from '../api/index.js';
import type { Resource } from '../api/index.js';
import type { Endpoint, Service, ServicePort } from '../registry/index.js';
import { serviceJson, servicePortJson } from './debug-model-json.js';
import { labelsMatch } from '../registry/index.js';
import { memoized } from '../xds/index.js';
import type { Proxy, PushContext } from '../xds/index.js';

export interface ProxyPushStatus {
  proxy?: string;
  message?: string;
}

export type PushStatus = Record<string, Record<string, ProxyPushStatus>>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function add(status: PushStatus, metric: string, key: string, entry: ProxyPushStatus): void {
  const map = (status[metric] ??= {});
  const clean: ProxyPushStatus = {};
  if (entry.proxy) clean.proxy = entry.proxy;
  if (entry.message) clean.message = entry.message;
  map[key] = clean;
}

function edsClusterName(svc: Service, port: ServicePort): string {
  return `outbound|${port.port}||${svc.hostname}`;
}

function drHost(r: Resource, domain: string): string {
  const spec = r.object['spec'];
  const host = isRecord(spec) && typeof spec['host'] === 'string' ? spec['host'] : '';
  if (host === '' || host.includes('.') || host.startsWith('*')) return host;
  return `${host}.${r.metadata.namespace ?? 'default'}.svc.${domain}`;
}

/** Conditions of the push itself (independent of connected proxies), computed once per push. */
function pushConditions(push: PushContext): PushStatus {
  return memoized(push, 'debug-push-status', () => {
    const status: PushStatus = {};
    const registry = push.registry;
    for (const svc of registry.services()) {
      // Only EDS clusters have instances to miss; DNS and passthrough services resolve elsewhere.
      if (svc.resolution !== 'ClientSideLB' || svc.meshExternal) continue;
      for (const port of svc.ports) {
        if (registry.endpoints(svc, port.port).length === 0)
          add(status, 'pilot_eds_no_instances', edsClusterName(svc, port), {});
      }
    }
    const domain = 'cluster.local';
    const seen = new Map<string, Set<string>>();
    for (const dr of push.snapshot.list(KIND.DestinationRule)) {
      const host = drHost(dr, domain);
      if (host === '') continue;
      const key = `${dr.metadata.namespace ?? ''}|${host}`;
      let names = seen.get(key);
      if (!names) seen.set(key, (names = new Set()));
      const spec = dr.object['spec'];
      const subsets = isRecord(spec) && Array.isArray(spec['subsets']) ? spec['subsets'] : [];
      for (const subset of subsets) {
        const name = isRecord(subset) && typeof subset['name'] === 'string' ? subset['name'] : '';
        if (name === '') continue;
        if (names.has(name)) {
          add(status, 'pilot_destrule_subsets', host, {
            message: `Duplicate subset ${name} found while merging destination rules for ${host}`,
          });
        }
        names.add(name);
      }
    }
    return status;
  });
}

/** istiod's LastPushStatus.ProxyStatus for a push and the sidecars connected to it. */
export function pushStatus(push: PushContext, proxies: readonly Proxy[]): PushStatus {
  const status: PushStatus = JSON.parse(JSON.stringify(pushConditions(push))) as PushStatus;
  const services = push.registry.services();
  for (const proxy of proxies) {
    if (proxy.type !== 'sidecar') continue;
    const selected = services.some(
      (s) =>
        s.namespace === proxy.namespace && s.selector !== undefined && labelsMatch(s.selector, proxy.labels),
    );
    if (!selected) add(status, 'pilot_no_ip', proxy.name, { proxy: proxy.name });
  }
  return status;
}

/** Go's json.MarshalIndent(ProxyStatus, "", "    "): keys sorted at every level. */
export function pushStatusJson(status: PushStatus): string {
  const sorted = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, isRecord(o[k]) ? sorted(o[k] as Record<string, unknown>) : o[k]]),
    );
  return JSON.stringify(sorted(status), null, 4);
}

/** sortConfigByCreationTime: oldest first, then `<name>.<namespace>`. */
function byCreation(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.name}.${a.metadata.namespace ?? ''}`;
  const kb = `${b.metadata.name}.${b.metadata.namespace ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

type FieldKind = 'strings' | 'string' | 'map' | 'action' | { message: string; repeated?: boolean };

/** istio/api security/v1beta1 messages: fields in declaration order (what jsonpb writes them in). */
const AUTHZ_MESSAGES: Record<string, [string, FieldKind][]> = {
  AuthorizationPolicy: [
    ['selector', { message: 'WorkloadSelector' }],
    ['rules', { message: 'Rule', repeated: true }],
    ['action', 'action'],
    ['provider', { message: 'ExtensionProvider' }],
  ],
  WorkloadSelector: [['matchLabels', 'map']],
  ExtensionProvider: [['name', 'string']],
  Rule: [
    ['from', { message: 'From', repeated: true }],
    ['to', { message: 'To', repeated: true }],
    ['when', { message: 'Condition', repeated: true }],
  ],
  From: [['source', { message: 'Source' }]],
  To: [['operation', { message: 'Operation' }]],
  Source: [
    'principals',
    'notPrincipals',
    'requestPrincipals',
    'notRequestPrincipals',
    'namespaces',
    'notNamespaces',
    'ipBlocks',
    'notIpBlocks',
    'remoteIpBlocks',
    'notRemoteIpBlocks',
  ].map((f): [string, FieldKind] => [f, 'strings']),
  Operation: ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'].map(
    (f): [string, FieldKind] => [f, 'strings'],
  ),
  Condition: [
    ['key', 'string'],
    ['values', 'strings'],
    ['notValues', 'strings'],
  ],
};

/** A spec message as golang/protobuf's jsonpb writes it: declared order, defaults and unknown fields left out. */
function protoJson(message: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(value)) return out;
  for (const [name, kind] of AUTHZ_MESSAGES[message] ?? []) {
    const v = value[name];
    if (kind === 'strings') {
      const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
      if (list.length > 0) out[name] = list;
    } else if (kind === 'string') {
      if (typeof v === 'string' && v !== '') out[name] = v;
    } else if (kind === 'map') {
      if (!isRecord(v)) continue;
      const entries = Object.entries(v)
        .filter(([, x]) => typeof x === 'string')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length > 0) out[name] = Object.fromEntries(entries);
    } else if (kind === 'action') {
      // ALLOW is the enum's zero value: jsonpb leaves it out.
      if (v === 'DENY' || v === 'AUDIT' || v === 'CUSTOM') out[name] = v;
    } else if (kind.repeated) {
      // A null entry in a repeated message field is written as an empty object.
      if (Array.isArray(v) && v.length > 0) out[name] = v.map((item) => protoJson(kind.message, item));
    } else if (isRecord(v)) {
      out[name] = protoJson(kind.message, v);
    }
  }
  return out;
}

function sortedAnnotations(v: unknown): Record<string, string> | null {
  if (!isRecord(v)) return null;
  const entries = Object.entries(v)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length > 0 ? Object.fromEntries(entries) : null;
}

/**
 * istiod's AuthorizationDebug: `{"authorization_policies": {"namespace_to_policies": {<ns>: [...]},
 * "root_namespace": <ns>}}`, namespaces in key order (encoding/json sorts map keys), policies oldest first,
 * each `{name, namespace, annotations, spec}` with the spec as jsonpb writes it.
 */
export function authorizationDebug(push: PushContext): unknown {
  const byNamespace = new Map<string, unknown[]>();
  for (const r of [...push.snapshot.list(KIND.AuthorizationPolicy)].sort(byCreation)) {
    const ns = r.metadata.namespace ?? '';
    const list = byNamespace.get(ns) ?? [];
    list.push({
      name: r.metadata.name,
      namespace: ns,
      annotations: sortedAnnotations(r.metadata.annotations),
      spec: protoJson('AuthorizationPolicy', r.object['spec']),
    });
    byNamespace.set(ns, list);
  }
  const namespaceToPolicies = Object.fromEntries(
    [...byNamespace.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const root = typeof push.snapshot.mesh.rootNamespace === 'string' ? push.snapshot.mesh.rootNamespace : '';
  return { authorization_policies: { namespace_to_policies: namespaceToPolicies, root_namespace: root } };
}

const HEALTH: Record<string, number> = { HEALTHY: 1, UNHEALTHY: 2, DRAINING: 3 };

function endpointJson(ep: Endpoint): Record<string, unknown> {
  const [region = '', zone = '', subzone = ''] = ep.locality.split('/');
  return {
    Labels: Object.keys(ep.labels).length > 0 ? ep.labels : null,
    Address: ep.address,
    ServicePortName: ep.servicePortName,
    EnvoyEndpoint: null,
    ServiceAccount: ep.serviceAccount,
    Network: ep.network,
    Locality: { Label: [region, zone, subzone].filter((s) => s !== '').join('/'), ClusterID: 'Kubernetes' },
    EndpointPort: ep.port,
    LbWeight: ep.weight,
    TLSMode: ep.tlsMode,
    Namespace: ep.namespace,
    WorkloadName: ep.workloadName,
    HostName: '',
    SubDomain: '',
    HealthStatus: HEALTH[String(ep.health)] ?? 0,
    NodeName: '',
  };
}

/** istiod's endpointz: every service port with its instances. */
export function endpointz(push: PushContext): unknown[] {
  const out: unknown[] = [];
  for (const svc of push.registry.services()) {
    const service = serviceJson(svc);
    for (const port of svc.ports) {
      const eps = push.registry.endpoints(svc, port.port).filter((e) => !e.synthetic);
      out.push({
        svc: `${svc.hostname}:${port.name}`,
        ep:
          eps.length > 0
            ? eps.map((e) => ({ service, servicePort: servicePortJson(port), endpoint: endpointJson(e) }))
            : null,
      });
    }
  }
  return out;
}
