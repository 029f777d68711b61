/**
 * Which proxies a config change concerns (istiod 1.17's DefaultProxyNeedsPush,
 * pilot/pkg/xds/proxy_dependencies.go, with SidecarScope.DependsOnConfig from pilot/pkg/model/sidecar.go):
 *
 * - Gateway changes concern only routers, Sidecar changes only sidecars.
 * - A sidecar depends on its Sidecar resource, the services it imports, the mesh-bound VirtualServices it
 *   imports and the DestinationRules of imported hosts, in the scope of the new push or of the previous
 *   one (so a deleted or moved object still reaches the proxies that had it). EnvoyFilter,
 *   AuthorizationPolicy and RequestAuthentication concern proxies of their namespace or of the root
 *   namespace. Kinds the scope does not know concern every sidecar.
 * - A router depends on everything except services it cannot see.
 * - A proxy whose own service changed is pushed too.
 *
 * Changes arrive as `Kind/namespace/name` keys. Services, ServiceEntries and endpoint kinds (Pods,
 * WorkloadEntries, Endpoints) resolve to the hostnames they touch, as istiod's keys of kind ServiceEntry
 * carry hostnames. Resolution is done once per push and key; the membership sets once per distinct scope,
 * so deciding costs little per proxy and nothing is generated for proxies left out.
 */
import { KIND } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import type { Service } from '../../registry/index.js';
import { labelsMatch } from '../../registry/index.js';
import { hostMatchesPattern, memoized, sidecarScopeFor } from '../index.js';
import type { Proxy, PushContext, SidecarScope } from '../index.js';

export interface ParsedConfigKey {
  kind: string;
  namespace: string;
  name: string;
}

/** `Kind/namespace/name` (namespace empty for cluster-scoped objects). */
export function parseConfigKey(key: string): ParsedConfigKey {
  const first = key.indexOf('/');
  const last = key.lastIndexOf('/');
  if (first < 0 || last === first) return { kind: key, namespace: '', name: '' };
  return { kind: key.slice(0, first), namespace: key.slice(first + 1, last), name: key.slice(last + 1) };
}

const ENDPOINT_KINDS = new Set(['Pod', 'WorkloadEntry', 'Endpoints', 'EndpointSlice']);

/**
 * istiod's TriggerReason for a change of this kind (pilot/pkg/model/push_context.go): what the
 * `pilot_push_triggers{type}` label counts, one per changed object.
 */
export function triggerReason(kind: string): string {
  if (kind === 'Service' || kind === 'ServiceEntry') return 'service';
  if (ENDPOINT_KINDS.has(kind)) return 'endpoint';
  if (kind === 'Namespace') return 'namespace';
  if (kind === 'Secret') return 'secret';
  if (kind === 'ConfigMap') return 'global';
  return 'config';
}

/** What one changed key means for scopes. */
type Resolved =
  | { type: 'all' }
  | { type: 'routers' }
  | { type: 'sidecar'; namespace: string; name: string }
  | { type: 'virtualService'; namespace: string; name: string }
  | { type: 'destinationRule'; hosts: string[] }
  | { type: 'services'; services: Service[] }
  | { type: 'namespaced'; namespace: string };

const NAMESPACED_POLICY = new Set(['EnvoyFilter', 'AuthorizationPolicy', 'RequestAuthentication']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameSource(r: Resource, key: ParsedConfigKey): boolean {
  return (
    r.kind === key.kind && (r.metadata.namespace ?? '') === key.namespace && r.metadata.name === key.name
  );
}

/** Services (of either push) built from the object, or selecting the workload the object is. */
function servicesTouched(key: ParsedConfigKey, pushes: readonly PushContext[]): Service[] {
  const out = new Set<Service>();
  for (const push of pushes) {
    for (const svc of push.registry.services()) {
      if (key.kind === 'Service' || key.kind === 'ServiceEntry') {
        if (sameSource(svc.source, key)) out.add(svc);
      } else if (key.kind === 'Endpoints') {
        if (svc.source.kind === 'Service' && svc.namespace === key.namespace && svc.name === key.name)
          out.add(svc);
      }
    }
  }
  if (key.kind === 'Pod' || key.kind === 'WorkloadEntry') {
    for (const push of pushes) {
      const workload = push.registry
        .workloads()
        .find((w) => w.source.kind === key.kind && w.namespace === key.namespace && w.name === key.name);
      if (!workload) continue;
      for (const p of pushes) {
        for (const svc of p.registry.services()) {
          if (svc.namespace !== workload.namespace || !svc.selector) continue;
          if (labelsMatch(svc.selector, workload.labels)) out.add(svc);
        }
      }
    }
  }
  return [...out];
}

/** A DestinationRule's host as an FQDN (short names are relative to the rule's namespace). */
function destinationRuleHost(r: Resource | undefined, domain: string): string | undefined {
  const spec: unknown = r?.object['spec'];
  const host = isRecord(spec) && typeof spec['host'] === 'string' ? spec['host'] : '';
  if (host === '') return undefined;
  if (host.includes('.') || host.startsWith('*')) return host;
  return `${host}.${r?.metadata.namespace ?? 'default'}.svc.${domain}`;
}

function resolveKey(key: ParsedConfigKey, push: PushContext, previous: PushContext | undefined): Resolved {
  const pushes = previous ? [push, previous] : [push];
  switch (key.kind) {
    case 'Gateway':
      return { type: 'routers' };
    case 'Sidecar':
      return { type: 'sidecar', namespace: key.namespace, name: key.name };
    case 'VirtualService':
      return { type: 'virtualService', namespace: key.namespace, name: key.name };
    case 'DestinationRule': {
      const hosts = new Set<string>();
      for (const p of pushes) {
        const r = p.snapshot.get(KIND.DestinationRule, key.namespace, key.name);
        const host = destinationRuleHost(r, 'cluster.local');
        if (host) hosts.add(host);
      }
      return { type: 'destinationRule', hosts: [...hosts] };
    }
    case 'Service':
    case 'ServiceEntry':
    case 'Pod':
    case 'WorkloadEntry':
    case 'Endpoints':
      return { type: 'services', services: servicesTouched(key, pushes) };
    default:
      // Kinds unknown to the sidecar scope (PeerAuthentication, Telemetry, WasmPlugin, ...) concern everyone.
      if (NAMESPACED_POLICY.has(key.kind)) return { type: 'namespaced', namespace: key.namespace };
      return { type: 'all' };
  }
}

/** The resolved changes of a request, computed once per push (and previous push) and key. */
export function resolveChanges(
  configs: Iterable<string>,
  push: PushContext,
  previous: PushContext | undefined,
): Resolved[] {
  const out: Resolved[] = [];
  for (const key of configs) {
    out.push(
      memoized(push, `push-scope|${previous?.version ?? ''}|${key}`, () =>
        resolveKey(parseConfigKey(key), push, previous),
      ),
    );
  }
  return out;
}

interface ScopeIndex {
  virtualServices: Set<string>;
  hostnames: Set<string>;
  sidecar: string;
}

const scopeIndexes = new WeakMap<SidecarScope, ScopeIndex>();

function indexOf(scope: SidecarScope): ScopeIndex {
  let index = scopeIndexes.get(scope);
  if (!index) {
    index = {
      virtualServices: new Set(
        scope.virtualServices.map((r) => `${r.metadata.namespace ?? ''}/${r.metadata.name}`),
      ),
      hostnames: new Set(scope.services.map((s) => s.hostname)),
      sidecar: scope.sidecar
        ? `${scope.sidecar.metadata.namespace ?? ''}/${scope.sidecar.metadata.name}`
        : '',
    };
    scopeIndexes.set(scope, index);
  }
  return index;
}

function importsHost(scope: SidecarScope, pattern: string): boolean {
  const index = indexOf(scope);
  if (!pattern.startsWith('*')) return index.hostnames.has(pattern);
  for (const host of index.hostnames) if (hostMatchesPattern(host, pattern)) return true;
  return false;
}

/** The proxy's own service changed (its inbound side): DefaultProxyNeedsPush's ServiceInstances check. */
function ownService(proxy: Proxy, services: readonly Service[]): boolean {
  return services.some(
    (s) =>
      s.namespace === proxy.namespace && s.selector !== undefined && labelsMatch(s.selector, proxy.labels),
  );
}

function sidecarDepends(
  change: Resolved,
  proxy: Proxy,
  scopes: readonly SidecarScope[],
  root: string,
): boolean {
  switch (change.type) {
    case 'all':
      return true;
    case 'routers':
      return false;
    case 'sidecar':
      // A new Sidecar is in the new scope already; one that stopped applying is in the previous one.
      return scopes.some((s) => indexOf(s).sidecar === `${change.namespace}/${change.name}`);
    case 'virtualService':
      return scopes.some((s) => indexOf(s).virtualServices.has(`${change.namespace}/${change.name}`));
    case 'destinationRule':
      return change.hosts.some((h) => scopes.some((s) => importsHost(s, h)));
    case 'services':
      return (
        change.services.some((svc) => scopes.some((s) => indexOf(s).hostnames.has(svc.hostname))) ||
        ownService(proxy, change.services)
      );
    case 'namespaced':
      return change.namespace === proxy.namespace || change.namespace === root;
  }
}

function routerDepends(change: Resolved, proxy: Proxy, scopes: readonly SidecarScope[]): boolean {
  switch (change.type) {
    case 'sidecar':
      return false;
    case 'services':
      // Gateways have default scopes: a service they cannot see (before or after) does not concern them.
      return (
        change.services.some((svc) => scopes.some((s) => indexOf(s).hostnames.has(svc.hostname))) ||
        ownService(proxy, change.services)
      );
    default:
      return true;
  }
}

export interface ScopedRequest {
  forced: boolean;
  configsUpdated: ReadonlySet<string>;
  push: PushContext;
  previous?: PushContext;
}

/** Whether a push request concerns the proxy (istiod's ProxyNeedsPush). */
export function proxyNeedsPush(proxy: Proxy, req: ScopedRequest): boolean {
  if (req.forced || req.configsUpdated.size === 0) return true;
  const changes = resolveChanges(req.configsUpdated, req.push, req.previous);
  const scopes = [sidecarScopeFor(req.push, proxy)];
  if (req.previous) scopes.push(sidecarScopeFor(req.previous, proxy));
  const root =
    typeof req.push.snapshot.mesh.rootNamespace === 'string' ? req.push.snapshot.mesh.rootNamespace : '';
  for (const change of changes) {
    const depends =
      proxy.type === 'router'
        ? routerDepends(change, proxy, scopes)
        : sidecarDepends(change, proxy, scopes, root);
    if (depends) return true;
  }
  return false;
}
