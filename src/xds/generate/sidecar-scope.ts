/**
 * What a proxy imports (istiod's SidecarScope, pilot/pkg/model/sidecar.go): the Sidecar resource that
 * applies to it, the services and mesh-bound VirtualServices its egress hosts admit, and the outbound
 * traffic policy. Without a Sidecar every exported service and VirtualService is imported (`*\/*`).
 *
 * Selection order (Istio 1.17): a Sidecar in the proxy's namespace whose workloadSelector matches its
 * labels, else the namespace's selector-less Sidecar, else the root namespace's selector-less Sidecar;
 * ties broken by creation time, then name.
 */
import { KIND, typedSpec } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import type { Service } from '../../registry/index.js';
import { isServiceVisibleTo, labelsMatch } from '../../registry/index.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';
import { memoized } from './push-context.js';

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface EgressHost {
  /** `*`, `.` (resolved to the Sidecar's namespace), `~` (nothing) or a namespace. */
  namespace: string;
  /** `*`, `*.suffix` or an exact host. */
  host: string;
}

export interface SidecarScope {
  /** The Sidecar resource that applies, if any. */
  sidecar?: Resource;
  /** Egress host patterns; `*\/*` without a Sidecar. */
  egressHosts: EgressHost[];
  /** Imported services, sorted by hostname then namespace, at most one per hostname (own namespace first). */
  services: readonly Service[];
  /** Imported VirtualServices bound to the `mesh` gateway, in config order. */
  virtualServices: readonly Resource[];
  outboundTrafficPolicy: OutboundTrafficMode;
  /** Whether the scope imports `host` as seen from a config in `namespace`. */
  admits(namespace: string, host: string): boolean;
}

const MESH_GATEWAY = 'mesh';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function byAge(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** The Sidecar resource that applies to a proxy, per Istio's selection order. */
export function selectSidecar(push: PushContext, proxy: Proxy): Resource | undefined {
  const all = [...push.snapshot.list(KIND.Sidecar)].sort(byAge);
  const root = typeof push.snapshot.mesh.rootNamespace === 'string' ? push.snapshot.mesh.rootNamespace : '';
  const selectorOf = (r: Resource): Record<string, string> | undefined => {
    const spec: unknown = typedSpec(r, KIND.Sidecar);
    if (!isRecord(spec) || !isRecord(spec['workloadSelector'])) return undefined;
    const labels = stringLabels(spec['workloadSelector']['labels']);
    return Object.keys(labels).length > 0 ? labels : undefined;
  };
  const own = all.filter((r) => r.metadata.namespace === proxy.namespace);
  const selected = own.find((r) => {
    const sel = selectorOf(r);
    return sel !== undefined && labelsMatch(sel, proxy.labels);
  });
  if (selected) return selected;
  const namespaceWide = own.find((r) => selectorOf(r) === undefined);
  if (namespaceWide) return namespaceWide;
  return all.find((r) => r.metadata.namespace === root && selectorOf(r) === undefined);
}

/**
 * Parses `ns/host` egress entries; `.` means the namespace the scope is built for: the Sidecar's own, or,
 * for the root namespace's default Sidecar, each proxy's namespace (Istio 1.17's ConvertToSidecarScope is
 * called with the proxy's namespace as configNamespace for the root config).
 */
export function parseEgressHosts(
  sidecar: Resource | undefined,
  configNamespace: string = sidecar?.metadata.namespace ?? '',
): EgressHost[] {
  if (!sidecar) return [{ namespace: '*', host: '*' }];
  const spec: unknown = typedSpec(sidecar, KIND.Sidecar);
  const egress = isRecord(spec) && Array.isArray(spec['egress']) ? spec['egress'] : [];
  const out: EgressHost[] = [];
  for (const listener of egress) {
    if (!isRecord(listener)) continue;
    for (const entry of strings(listener['hosts'])) {
      const slash = entry.indexOf('/');
      if (slash < 0) continue;
      let namespace = entry.slice(0, slash);
      if (namespace === '.') namespace = configNamespace;
      out.push({ namespace, host: entry.slice(slash + 1) });
    }
  }
  // A Sidecar without egress listeners imports everything, as if it said `*/*` (Istio sidecar.go).
  return egress.length > 0 ? out : [{ namespace: '*', host: '*' }];
}

/** Istio host matching of a concrete or wildcard host against an egress pattern. */
export function hostMatchesPattern(host: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    if (host.startsWith('*')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix);
  }
  if (host.startsWith('*')) return pattern.endsWith(host.slice(1));
  return host === pattern;
}

function egressAdmits(hosts: readonly EgressHost[], namespace: string, host: string): boolean {
  for (const e of hosts) {
    if (e.namespace === '~') continue;
    if (e.namespace !== '*' && e.namespace !== namespace) continue;
    if (hostMatchesPattern(host, e.host)) return true;
  }
  return false;
}

function outboundMode(push: PushContext, sidecar: Resource | undefined): OutboundTrafficMode {
  if (sidecar) {
    const spec: unknown = typedSpec(sidecar, KIND.Sidecar);
    const policy = isRecord(spec) ? spec['outboundTrafficPolicy'] : undefined;
    if (isRecord(policy) && (policy['mode'] === 'REGISTRY_ONLY' || policy['mode'] === 'ALLOW_ANY')) {
      return policy['mode'];
    }
  }
  return push.snapshot.mesh.outboundTrafficPolicy.mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY';
}

/** VirtualService exportTo: empty is public; `.` the VS's namespace; `~` nobody. */
function isConfigExportedTo(r: Resource, exportTo: readonly string[], namespace: string): boolean {
  if (exportTo.length === 0) return true;
  return exportTo.some(
    (e) => e === '*' || e === namespace || (e === '.' && r.metadata.namespace === namespace),
  );
}

function boundToMesh(spec: Record<string, unknown>): boolean {
  const gateways = strings(spec['gateways']);
  return gateways.length === 0 || gateways.includes(MESH_GATEWAY);
}

export function sidecarScopeFor(push: PushContext, proxy: Proxy): SidecarScope {
  const sidecar = proxy.type === 'sidecar' ? selectSidecar(push, proxy) : undefined;
  const key = `sidecar-scope|${proxy.type}|${proxy.namespace}|${sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : ''}`;
  return memoized(push, key, () => computeScope(push, proxy.namespace, sidecar));
}

function computeScope(push: PushContext, namespace: string, sidecar: Resource | undefined): SidecarScope {
  const egressHosts = parseEgressHosts(sidecar, namespace);
  const defaultExportTo = strings(push.snapshot.mesh['defaultServiceExportTo']);
  const exportDefault = defaultExportTo.length > 0 ? defaultExportTo : ['*'];
  const chosen = new Map<string, Service>();
  for (const service of push.registry.services()) {
    if (!isServiceVisibleTo(service, namespace, exportDefault)) continue;
    if (!egressAdmits(egressHosts, service.namespace, service.hostname)) continue;
    const prior = chosen.get(service.hostname);
    // One service per hostname; the proxy's own namespace wins (Istio's namespace-local preference).
    if (!prior || (prior.namespace !== namespace && service.namespace === namespace)) {
      chosen.set(service.hostname, service);
    }
  }
  const services = [...chosen.values()].sort((a, b) =>
    a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.namespace < b.namespace ? -1 : 1,
  );
  const virtualServices: Resource[] = [];
  for (const vs of push.snapshot.list(KIND.VirtualService)) {
    const spec: unknown = typedSpec(vs, KIND.VirtualService);
    if (!isRecord(spec) || !boundToMesh(spec)) continue;
    if (!isConfigExportedTo(vs, strings(spec['exportTo']), namespace)) continue;
    const vsNamespace = vs.metadata.namespace ?? '';
    if (!strings(spec['hosts']).some((h) => egressAdmits(egressHosts, vsNamespace, h))) continue;
    virtualServices.push(vs);
  }
  return {
    ...(sidecar ? { sidecar } : {}),
    egressHosts,
    services,
    virtualServices,
    outboundTrafficPolicy: outboundMode(push, sidecar),
    admits: (ns, host) => egressAdmits(egressHosts, ns, host),
  };
}
