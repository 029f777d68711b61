import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import { LabelIndex, indexByNamespace } from './label-index.js';

export const CLUSTER_LOCAL_SUFFIX = 'svc.cluster.local';

/** Istio's ConvertHostToFQDN: a short name becomes `name.ns.svc.cluster.local`; wildcards and dotted names stay. */
export function hostToFqdn(namespace: string, host: string): string {
  if (host.startsWith('*') || host.includes('.') || namespace === '') return host;
  return `${host}.${namespace}.${CLUSTER_LOCAL_SUFFIX}`;
}

/** Host matching with a leading `*` wildcard on either side, as Istio's host.Name.Matches. */
export function hostMatches(a: string, b: string): boolean {
  if (a === b) return true;
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length > b.length ? a.endsWith(b.slice(1)) : b.endsWith(a.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return false;
}

export interface RouteDestination {
  /** `http`, `tcp` or `tls`. */
  routeRule: 'http' | 'tcp' | 'tls';
  serviceIndex: number;
  destinationIndex: number;
  destination: JsonObject;
}

export function asObject(v: unknown): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Every `route[].destination` of a VirtualService, with the indexes Istio uses in its field paths. */
export function routeDestinations(vs: Resource): RouteDestination[] {
  const spec = specOf(vs);
  const out: RouteDestination[] = [];
  for (const routeRule of ['http', 'tcp', 'tls'] as const) {
    asArray(spec[routeRule]).forEach((rule, serviceIndex) => {
      asArray(asObject(rule)?.['route']).forEach((route, destinationIndex) => {
        const destination = asObject(asObject(route)?.['destination']);
        if (destination) out.push({ routeRule, serviceIndex, destinationIndex, destination });
      });
    });
  }
  return out;
}

export interface MirrorDestination {
  serviceIndex: number;
  destination: JsonObject;
  path: string;
}

/** `http[].mirror` destinations with their field paths. */
export function mirrorDestinations(vs: Resource): MirrorDestination[] {
  const out: MirrorDestination[] = [];
  asArray(specOf(vs)['http']).forEach((rule, i) => {
    const mirror = asObject(asObject(rule)?.['mirror']);
    if (mirror) out.push({ serviceIndex: i, destination: mirror, path: `{.spec.http[${i}].mirror.host}` });
  });
  return out;
}

export function destinationHostPath(d: RouteDestination): string {
  return `{.spec.${d.routeRule}[${d.serviceIndex}].route[${d.destinationIndex}].destination.host}`;
}

export { selectorMatches } from './label-index.js';

export function labelsOf(r: Resource): Record<string, string> {
  return r.metadata.labels ?? {};
}

/** `k=v,k2=v2` with keys sorted, as Kubernetes' labels.Set.String prints. */
export function labelSelectorString(selector: Record<string, unknown>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${String(selector[k])}`)
    .join(',');
}

/** A workload as analyzers see it: a Pod, or a Deployment's pod template when no Pod of it is in the input. */
export interface Workload {
  resource: Resource;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  podSpec: JsonObject;
  /** True for a Deployment template standing in for pods that files do not list. */
  fromTemplate: boolean;
}

/**
 * Pods, plus the pod templates of Deployments that have no Pods in the input. Offline analysis of
 * manifests has Deployments, not Pods; counting templates avoids "no workload matches" false positives.
 */
export function workloads(snapshot: ConfigSnapshot): Workload[] {
  const out: Workload[] = [];
  const pods = snapshot.list(KIND.Pod);
  // A Pod without a namespace is in none, as the Deployment's namespace is compared with ===.
  const podsByNamespace = indexByNamespace(
    pods,
    (p) => p.metadata.namespace,
    (group) => new LabelIndex(group, (p) => p.metadata.labels ?? {}),
  );
  for (const pod of pods) {
    out.push({
      resource: pod,
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name,
      labels: pod.metadata.labels ?? {},
      annotations: pod.metadata.annotations ?? {},
      podSpec: specOf(pod),
      fromTemplate: false,
    });
  }
  for (const dep of snapshot.list(KIND.Deployment)) {
    const spec = specOf(dep);
    const template = asObject(spec['template']);
    const meta = asObject(template?.['metadata']);
    const labels = (asObject(meta?.['labels']) ?? {}) as Record<string, string>;
    const ns = dep.metadata.namespace ?? '';
    const selector = asObject(asObject(spec['selector'])?.['matchLabels']) as
      Record<string, string> | undefined;
    const hasPods = selector !== undefined && podsByNamespace.get(ns)?.first(selector) !== undefined;
    if (hasPods) continue;
    out.push({
      resource: dep,
      namespace: ns,
      name: dep.metadata.name,
      labels,
      annotations: (asObject(meta?.['annotations']) ?? {}) as Record<string, string>,
      podSpec: asObject(template?.['spec']) ?? {},
      fromTemplate: true,
    });
  }
  return out;
}

/** A namespace/name pair, printed as Istio's resource.FullName prints (`ns/name`, or `name` without a namespace). */
export interface FullName {
  namespace: string;
  name: string;
}

export function fullNameString(n: FullName): string {
  return n.namespace === '' ? n.name : `${n.namespace}/${n.name}`;
}

/** Istio's resource.NewShortOrFullName: `ns/name` names another namespace, a bare name the default one. */
export function shortOrFullName(defaultNamespace: string, name: string): FullName {
  const slash = name.indexOf('/');
  if (slash < 0) return { namespace: defaultNamespace, name };
  return { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
}

const SERVICE_FQDN = /^(.+)\.(.+)\.svc\.cluster\.local$/;

/**
 * Istio's GetResourceNameFromHost: `name.ns.svc.cluster.local` names a service in `ns`; anything else is taken
 * as a short name in the default namespace (no wildcard matching, no other domains).
 */
export function resourceNameFromHost(defaultNamespace: string, host: string): FullName {
  const m = SERVICE_FQDN.exec(host);
  if (m) return { namespace: m[2] ?? '', name: m[1] ?? '' };
  return { namespace: defaultNamespace, name: host };
}

/** The `mesh` gateway name that attaches a VirtualService to sidecars. */
export const MESH_GATEWAY = 'mesh';

/** Istio's IsExportToAllNamespaces: no exportTo, or one containing `*`. */
export function isExportToAll(exportTo: readonly unknown[]): boolean {
  return exportTo.length === 0 || exportTo.includes('*');
}

/** Ports of a ServiceEntry (or of a Service seen as one), as destination checks need them. */
export interface ServiceEntryLike {
  ports: { number: number; name: string; protocol: string }[];
  /** `workloadSelector.labels` of a ServiceEntry; empty for Services. */
  workloadLabels: Record<string, string>;
}

/** A wildcard key of the host map, split as the lookup reads it. */
interface WildcardHost {
  scope: string;
  /** The host without its leading `*`. */
  suffix: string;
  entry: ServiceEntryLike;
}

export interface ServiceHostMap {
  /** Scope (`*` or a namespace) plus FQDN, Istio's ScopedFqdn `scope/fqdn`, in Istio's insertion order. */
  byScopedFqdn: Map<string, ServiceEntryLike>;
  /** The keys whose host is a wildcard, in the same order: the only ones a suffix lookup can find. */
  wildcards: WildcardHost[];
}

function scopedFqdn(scope: string, namespace: string, host: string): string {
  return `${scope}/${hostToFqdn(namespace, host)}`;
}

function numberOf(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * Istio's InitServiceEntryHostMap: every ServiceEntry host and every Service (as a ServiceEntry with its
 * ports), keyed by visibility scope and FQDN. Services come last, so a Service replaces a ServiceEntry
 * under the same key.
 */
export function serviceHostMap(snapshot: ConfigSnapshot): ServiceHostMap {
  const out = new Map<string, ServiceEntryLike>();
  for (const se of snapshot.list(KIND.ServiceEntry)) {
    const spec = specOf(se);
    const ns = se.metadata.namespace ?? '';
    const scope = isExportToAll(asArray(spec['exportTo'])) ? '*' : ns;
    const entry: ServiceEntryLike = {
      ports: asArray(spec['ports']).map((p) => {
        const port = asObject(p);
        return {
          number: numberOf(port?.['number']),
          name: asString(port?.['name']),
          protocol: asString(port?.['protocol']),
        };
      }),
      workloadLabels: stringMap(asObject(asObject(spec['workloadSelector'])?.['labels'])),
    };
    for (const h of asArray(spec['hosts'])) {
      if (typeof h === 'string') out.set(scopedFqdn(scope, ns, h), entry);
    }
  }
  for (const svc of snapshot.list(KIND.Service)) {
    const ns = svc.metadata.namespace ?? '';
    const entry: ServiceEntryLike = {
      ports: asArray(specOf(svc)['ports']).map((p) => {
        const port = asObject(p);
        return {
          number: numberOf(port?.['port']),
          name: asString(port?.['name']),
          protocol: asString(port?.['protocol']),
        };
      }),
      workloadLabels: {},
    };
    const anno = svc.metadata.annotations?.['networking.istio.io/exportTo'] ?? '';
    const scopes = anno === '' ? ['*'] : anno.split(',').map((s) => (s === '.' ? ns : s));
    for (const scope of scopes) out.set(scopedFqdn(scope, ns, svc.metadata.name), entry);
  }
  return { byScopedFqdn: out, wildcards: wildcardHosts(out) };
}

function wildcardHosts(byScopedFqdn: Map<string, ServiceEntryLike>): WildcardHost[] {
  const out: WildcardHost[] = [];
  for (const [key, entry] of byScopedFqdn) {
    const slash = key.indexOf('/');
    const host = key.slice(slash + 1);
    if (host.startsWith('*')) out.push({ scope: key.slice(0, slash), suffix: host.slice(1), entry });
  }
  return out;
}

/**
 * Istio's GetDestinationHost: the ServiceEntry or Service a host resolves to from `sourceNamespace`, looking at
 * exported-to-all entries, then the source's exportTo scopes, then wildcard entries visible to the source.
 */
export function lookupDestinationHost(
  sourceNamespace: string,
  exportTo: readonly unknown[],
  host: string,
  hosts: ServiceHostMap,
): ServiceEntryLike | undefined {
  const all = hosts.byScopedFqdn.get(scopedFqdn('*', sourceNamespace, host));
  if (all) return all;
  const scopes =
    exportTo.length === 0
      ? [sourceNamespace]
      : exportTo.map((e) => (e === '.' ? sourceNamespace : String(e)));
  for (const scope of scopes) {
    const found = hosts.byScopedFqdn.get(scopedFqdn(scope, sourceNamespace, host));
    if (found) return found;
  }
  const bareHost = host.startsWith('*') ? host.slice(1) : host;
  for (const { scope, suffix, entry } of hosts.wildcards) {
    if (scope !== '*' && scope !== sourceNamespace) continue;
    if (bareHost.endsWith(suffix)) return entry;
  }
  return undefined;
}

/** A map of string values; other values are dropped, as a typed decoder would reject them. */
export function stringMap(v: JsonObject | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v ?? {})) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * Kubernetes' metav1.LabelSelector match (`matchLabels` and `matchExpressions` with In, NotIn, Exists,
 * DoesNotExist). A missing selector matches everything, as admission webhooks treat it; a selector that
 * Kubernetes would reject (unknown operator, In/NotIn without values, Exists with values) matches nothing.
 */
export function labelSelectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (selector === undefined || selector === null) return true;
  const sel = asObject(selector);
  if (!sel) return false;
  for (const [k, v] of Object.entries(asObject(sel['matchLabels']) ?? {})) {
    if (k === '' || labels[k] !== String(v)) return false;
  }
  for (const raw of asArray(sel['matchExpressions'])) {
    const expr = asObject(raw);
    const key = asString(expr?.['key']);
    const values = asArray(expr?.['values']).map(String);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const value = labels[key];
    switch (asString(expr?.['operator'])) {
      case 'In':
        if (values.length === 0 || !has || !values.includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (values.length === 0 || (has && values.includes(value ?? ''))) return false;
        break;
      case 'Exists':
        if (values.length > 0 || !has) return false;
        break;
      case 'DoesNotExist':
        if (values.length > 0 || has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The pod-level facts Istio's in-mesh check reads. */
export interface PodFacts {
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  podSpec: JsonObject;
}

/**
 * Istio's inMesh (analyzers/util/in_mesh.go): an `istio-proxy` container with an image, else the
 * `sidecar.istio.io/inject` label, else that annotation, else the Namespace object's
 * `istio-injection=enabled` label (a revision label is not considered).
 */
export function podInMesh(snapshot: ConfigSnapshot, pod: PodFacts): boolean {
  const proxy = asArray(pod.podSpec['containers'])
    .map(asObject)
    .find((c) => c?.['name'] === 'istio-proxy');
  if (proxy && asString(proxy['image']) !== '') return true;
  const injectLabel = pod.labels['sidecar.istio.io/inject'];
  if (injectLabel !== undefined) return injectLabel === 'true';
  const injectAnnotation = pod.annotations['sidecar.istio.io/inject'];
  if (injectAnnotation !== undefined) return injectAnnotation === 'true';
  const ns = snapshot.get(KIND.Namespace, undefined, pod.namespace);
  return ns?.metadata.labels?.['istio-injection'] === 'enabled';
}
