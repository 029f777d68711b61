import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';

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

/** Label selector match: every key/value of the selector is in the labels (an empty selector matches all). */
export function selectorMatches(
  selector: Record<string, unknown> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

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
    const hasPods = pods.some(
      (p) =>
        p.metadata.namespace === ns &&
        selector !== undefined &&
        selectorMatches(selector, p.metadata.labels ?? {}),
    );
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
