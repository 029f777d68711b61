/**
 * The VirtualServices of one push as Istio 1.17's PushContext.initVirtualServices prepares them
 * (pilot/pkg/model/push_context.go, virtualservice.go, config.go): sorted by creation time then
 * `name.namespace`, short names resolved to FQDNs in each VirtualService's own namespace (hosts,
 * destinations, mirrors, gateways), delegates (VirtualServices without hosts) merged into the routes of the
 * roots that delegate to them, and indexed by gateway and exportTo visibility. The VirtualServices istiod
 * generates from Gateway API HTTPRoutes (route-gateway-api.ts) are indexed with them. Built once per push.
 */
import type { Resource } from '../../api/index.js';
import { KIND, isValidIP, typedSpec } from '../../api/index.js';
import type { PushContext } from './push-context.js';
import { gatewayApiVirtualServices } from './route-gateway-api.js';
import { memoized } from './push-context.js';
import {
  configInfoPath,
  isRecord,
  records,
  recordField,
  sortByCreation,
  strings,
  stringField,
} from './route-values.js';

export const MESH_GATEWAY = 'mesh';

/** One VirtualService ready for route translation. */
export interface VirtualServiceConfig {
  name: string;
  namespace: string;
  /** The resource it came from (for a root with delegates, the root). */
  resource?: Resource;
  /** RFC 3339, '' when unknown. */
  creationTimestamp: string;
  /** Resolved to FQDNs (wildcards and IPs as written). */
  hosts: string[];
  /** `ns/name` or `mesh`; `mesh` when the VirtualService names none. */
  gateways: string[];
  /** The http routes with names resolved and delegates merged in; never the input objects themselves. */
  http: Record<string, unknown>[];
  exportTo: string[];
  /** What route metadata `filterMetadata.istio.config` names. */
  configPath: string;
  /** Generated from a Gateway API route: Istio applies "gateway semantics" to it. */
  gatewaySemantics: boolean;
}

export interface VirtualServiceIndex {
  /** Every VirtualService after delegate merging, delegates themselves excluded, in Istio's order. */
  readonly all: readonly VirtualServiceConfig[];
  /** PushContext.VirtualServicesForGateway: private, then exported-to, then public ones. */
  forGateway(proxyNamespace: string, gateway: string): VirtualServiceConfig[];
  /** The prepared form of a VirtualService resource (undefined for delegates and unknown ones). */
  forResource(resource: Resource): VirtualServiceConfig | undefined;
}

/** The per-push index (computed once per push, shared by every proxy). */
export function virtualServiceIndex(push: PushContext): VirtualServiceIndex {
  return memoized(push, 'route-virtual-service-index', () =>
    buildVirtualServiceIndex(
      [
        ...push.snapshot.list(KIND.VirtualService).map((r) => fromResource(r, push.registry.domainSuffix)),
        // istiod lists the VirtualServices it generates from Gateway API routes with the others.
        ...gatewayApiVirtualServices(push),
      ],
      exportDefaults(push.snapshot.mesh['defaultVirtualServiceExportTo']),
    ),
  );
}

/** model.ResolveShortnameToFQDN: a name without dots is a Kubernetes Service in `namespace`. */
export function resolveShortname(host: string, namespace: string, domainSuffix: string): string {
  if (host === '' || host === '*' || isValidIP(host) || host.includes('.')) return host;
  let out = host;
  if (namespace !== '') out += `.${namespace}`;
  if (domainSuffix !== '') out += `.svc.${domainSuffix}`;
  return out;
}

/** model.resolveGatewayName: `name` → `ns/name`, `./name` → `ns/name`, legacy `name.ns.svc...` → `ns/name`. */
export function resolveGatewayName(gateway: string, namespace: string): string {
  if (gateway === MESH_GATEWAY) return gateway;
  const slash = gateway.indexOf('/');
  if (slash < 0) {
    const dot = gateway.indexOf('.');
    if (dot < 0) return `${namespace}/${gateway}`;
    const rest = gateway.slice(dot + 1);
    const next = rest.indexOf('.');
    return `${next < 0 ? rest : rest.slice(0, next)}/${gateway.slice(0, dot)}`;
  }
  return gateway.slice(0, slash) === '.' ? `${namespace}/${gateway.slice(slash + 1)}` : gateway;
}

/** A VirtualService resource with its names resolved (delegates not merged yet). */
export function fromResource(r: Resource, domainSuffix: string): VirtualServiceConfig {
  const spec: unknown = typedSpec(r, KIND.VirtualService);
  const s = isRecord(spec) ? spec : {};
  const namespace = r.metadata.namespace ?? 'default';
  const gateways = strings(s['gateways']).map((g) => resolveGatewayName(g, namespace));
  return {
    name: r.metadata.name,
    namespace,
    resource: r,
    creationTimestamp: typeof r.metadata.creationTimestamp === 'string' ? r.metadata.creationTimestamp : '',
    hosts: strings(s['hosts']).map((h) => resolveShortname(h, namespace, domainSuffix)),
    gateways: gateways.length > 0 ? gateways : [MESH_GATEWAY],
    http: records(s['http']).map((h) => resolveHttpRoute(h, namespace, domainSuffix)),
    exportTo: strings(s['exportTo']),
    configPath: configInfoPath(
      'networking.istio.io',
      'v1alpha3',
      'VirtualService',
      namespace,
      r.metadata.name,
    ),
    gatewaySemantics: false,
  };
}

function resolveDestination(d: unknown, namespace: string, domainSuffix: string): unknown {
  if (!isRecord(d) || typeof d['host'] !== 'string') return d;
  return { ...d, host: resolveShortname(d['host'], namespace, domainSuffix) };
}

function resolveHttpRoute(
  http: Record<string, unknown>,
  namespace: string,
  domainSuffix: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...http };
  if (Array.isArray(http['match'])) {
    out['match'] = http['match'].map((m: unknown) =>
      isRecord(m) && Array.isArray(m['gateways'])
        ? { ...m, gateways: strings(m['gateways']).map((g) => resolveGatewayName(g, namespace)) }
        : m,
    );
  }
  if (Array.isArray(http['route'])) {
    out['route'] = http['route'].map((w: unknown) =>
      isRecord(w) && 'destination' in w
        ? { ...w, destination: resolveDestination(w['destination'], namespace, domainSuffix) }
        : w,
    );
  }
  if ('mirror' in http) out['mirror'] = resolveDestination(http['mirror'], namespace, domainSuffix);
  return out;
}

interface ExportDefaults {
  private: boolean;
  public: boolean;
  raw: string[];
}

function exportDefaults(v: unknown): ExportDefaults {
  // An empty list decodes to nil in Go, which means the default (`*`).
  const raw = strings(v);
  const list = raw.length > 0 ? raw : ['*'];
  return { private: list.includes('.'), public: list.includes('*'), raw: list };
}

/** Builds the index from prepared VirtualServices (resources and generated ones alike). */
export function buildVirtualServiceIndex(
  configs: VirtualServiceConfig[],
  defaults: ExportDefaults = exportDefaults(undefined),
): VirtualServiceIndex {
  const merged = mergeDelegates(sortByCreation([...configs]), defaults);
  const privateByNsGw = new Map<string, VirtualServiceConfig[]>();
  const exportedByNsGw = new Map<string, VirtualServiceConfig[]>();
  const publicByGw = new Map<string, VirtualServiceConfig[]>();
  const add = (map: Map<string, VirtualServiceConfig[]>, key: string, vs: VirtualServiceConfig): void => {
    const list = map.get(key) ?? [];
    if (!list.includes(vs)) list.push(vs);
    map.set(key, list);
  };
  for (const vs of merged) {
    if (vs.exportTo.length === 0) {
      // Only `.` and `*` of the mesh default are honoured.
      if (defaults.private) for (const gw of vs.gateways) add(privateByNsGw, `${vs.namespace}|${gw}`, vs);
      else if (defaults.public) for (const gw of vs.gateways) add(publicByGw, gw, vs);
      continue;
    }
    const exportTo = new Set(vs.exportTo);
    if (exportTo.has('*')) {
      for (const gw of vs.gateways) add(publicByGw, gw, vs);
    } else if (!exportTo.has('~')) {
      for (const e of exportTo) {
        for (const gw of vs.gateways) {
          if (e === '.' || e === vs.namespace) add(privateByNsGw, `${vs.namespace}|${gw}`, vs);
          else add(exportedByNsGw, `${e}|${gw}`, vs);
        }
      }
    }
  }
  const byResource = new Map<Resource, VirtualServiceConfig>();
  for (const vs of merged) if (vs.resource) byResource.set(vs.resource, vs);
  return {
    all: merged,
    forGateway: (proxyNamespace, gateway) => {
      const out: VirtualServiceConfig[] = [];
      for (const list of [
        privateByNsGw.get(`${proxyNamespace}|${gateway}`),
        exportedByNsGw.get(`${proxyNamespace}|${gateway}`),
        publicByGw.get(gateway),
      ]) {
        for (const vs of list ?? []) out.push(vs);
      }
      return out;
    },
    forResource: (r) => byResource.get(r),
  };
}

// ---- delegation (virtualservice.go mergeVirtualServicesIfNeeded) ----

function isRootVirtualService(vs: VirtualServiceConfig): boolean {
  return vs.http.some((h) => isRecord(h['delegate']));
}

/**
 * Normal VirtualServices first, then roots with their delegates' routes inlined; delegates (no hosts)
 * drop out. A delegate that is missing or not exported to the root's namespace drops only the route that
 * names it. Only one level is merged (validation forbids a delegate from delegating again), so a cycle
 * cannot form.
 */
function mergeDelegates(sorted: VirtualServiceConfig[], defaults: ExportDefaults): VirtualServiceConfig[] {
  const delegates = new Map<string, { vs: VirtualServiceConfig; exportTo: Set<string> }>();
  const roots: VirtualServiceConfig[] = [];
  const out: VirtualServiceConfig[] = [];
  for (const vs of sorted) {
    if (vs.hosts.length === 0) {
      const source = vs.exportTo.length === 0 ? defaults.raw : vs.exportTo;
      const exportTo = new Set(source.map((e) => (e === '.' ? vs.namespace : e)));
      delegates.set(`${vs.name}/${vs.namespace}`, { vs, exportTo });
    } else if (isRootVirtualService(vs)) {
      roots.push(vs);
    } else {
      out.push(vs);
    }
  }
  for (const root of roots) {
    const http: Record<string, unknown>[] = [];
    for (const route of root.http) {
      const delegate = recordField(route, 'delegate');
      if (!delegate) {
        http.push(route);
        continue;
      }
      const ns = stringField(delegate, 'namespace') || root.namespace;
      const found = delegates.get(`${stringField(delegate, 'name')}/${ns}`);
      if (!found) continue;
      if (!found.exportTo.has('*') && !found.exportTo.has(root.namespace)) continue;
      const rootRoute: Record<string, unknown> = { ...route };
      delete rootRoute['delegate'];
      for (const sub of found.vs.http) {
        const m = mergeHttpRoute(rootRoute, sub);
        if (m) http.push(m);
      }
    }
    out.push({ ...root, http });
  }
  return out;
}

/** Fields a delegate route inherits from the root route when it does not set them itself. */
const INHERITED_ROUTE_FIELDS = [
  'rewrite',
  'directResponse',
  'timeout',
  'retries',
  'fault',
  'mirror',
  'mirrorPercent',
  'mirrorPercentage',
  'corsPolicy',
  'headers',
];

function mergeHttpRoute(
  root: Record<string, unknown>,
  delegate: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const match = mergeMatches(records(root['match']), records(delegate['match']));
  if (match === undefined) return undefined;
  const out: Record<string, unknown> = { ...delegate };
  if (match.length > 0 || 'match' in delegate) out['match'] = match;
  const rootName = stringField(root, 'name');
  const ownName = stringField(delegate, 'name');
  if (ownName === '') {
    if (rootName !== '') out['name'] = rootName;
  } else if (rootName !== '') {
    out['name'] = `${rootName}-${ownName}`;
  }
  for (const field of INHERITED_ROUTE_FIELDS) {
    if (out[field] === undefined || out[field] === null) {
      if (root[field] !== undefined) out[field] = root[field];
    }
  }
  return out;
}

/** Every delegate match must narrow some root match; undefined means a conflict (the route is dropped). */
function mergeMatches(
  root: Record<string, unknown>[],
  delegate: Record<string, unknown>[],
): Record<string, unknown>[] | undefined {
  if (root.length === 0) return delegate;
  if (delegate.length === 0) return root;
  const out: Record<string, unknown>[] = [];
  for (const sub of delegate) {
    let found = false;
    for (const r of root) {
      if (matchConflict(r, sub)) continue;
      out.push(mergeMatch(r, sub));
      found = true;
    }
    if (!found) return undefined;
  }
  return out.length === 0 ? undefined : out;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function mergeMaps(a: unknown, b: unknown): Record<string, unknown> | undefined {
  const ra = isRecord(a) ? a : {};
  const rb = isRecord(b) ? b : {};
  if (Object.keys(ra).length === 0 && Object.keys(rb).length === 0) return undefined;
  return { ...ra, ...rb };
}

function mergeMatch(
  root: Record<string, unknown>,
  delegate: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...delegate };
  const rootName = stringField(root, 'name');
  const ownName = stringField(delegate, 'name');
  if (ownName === '') {
    if (rootName !== '') out['name'] = rootName;
  } else if (rootName !== '') {
    out['name'] = `${rootName}-${ownName}`;
  }
  for (const field of ['uri', 'scheme', 'method', 'authority']) {
    if (!present(out[field]) && present(root[field])) out[field] = root[field];
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams', 'sourceLabels']) {
    const m = mergeMaps(root[field], delegate[field]);
    if (m) out[field] = m;
  }
  if (!(typeof out['port'] === 'number' && out['port'] !== 0) && root['port'] !== undefined) {
    out['port'] = root['port'];
  }
  if (stringField(out, 'sourceNamespace') === '' && root['sourceNamespace'] !== undefined) {
    out['sourceNamespace'] = root['sourceNamespace'];
  }
  if (strings(out['gateways']).length === 0 && root['gateways'] !== undefined) {
    out['gateways'] = root['gateways'];
  }
  if (stringField(out, 'statPrefix') === '' && root['statPrefix'] !== undefined) {
    out['statPrefix'] = root['statPrefix'];
  }
  return out;
}

function stringMatchOf(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

/** virtualservice.go stringMatchConflict: whether a delegate string match is not inside the root's. */
function stringMatchConflict(rootValue: unknown, leafValue: unknown): boolean {
  const root = stringMatchOf(rootValue);
  const leaf = stringMatchOf(leafValue);
  if (!root || !leaf) return false;
  const rRegex = stringField(root, 'regex');
  const rPrefix = stringField(root, 'prefix');
  const rExact = stringField(root, 'exact');
  const lRegex = stringField(leaf, 'regex');
  const lPrefix = stringField(leaf, 'prefix');
  const lExact = stringField(leaf, 'exact');
  if (rRegex !== '' && (lRegex !== '' || lPrefix !== '' || lExact !== '')) return true;
  if (lRegex !== '' && (rRegex !== '' || rPrefix !== '' || rExact !== '')) return true;
  if (rExact !== '') return lPrefix !== '' || lExact !== rExact;
  if (rPrefix !== '') {
    if (lPrefix !== '') return !lPrefix.startsWith(rPrefix);
    if (lExact !== '') return !lExact.startsWith(rPrefix);
  }
  return true;
}

function matchConflict(root: Record<string, unknown>, leaf: Record<string, unknown>): boolean {
  for (const field of ['uri', 'scheme', 'method', 'authority']) {
    if (stringMatchConflict(root[field], leaf[field])) return true;
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams']) {
    const rootMap = recordField(root, field) ?? {};
    const leafMap = recordField(leaf, field) ?? {};
    for (const [key, value] of Object.entries(leafMap)) {
      if (stringMatchConflict(rootMap[key], value)) return true;
    }
  }
  if ((root['ignoreUriCase'] === true) !== (leaf['ignoreUriCase'] === true)) return true;
  const rootPort = typeof root['port'] === 'number' ? root['port'] : 0;
  const leafPort = typeof leaf['port'] === 'number' ? leaf['port'] : 0;
  if (rootPort > 0 && leafPort > 0 && rootPort !== leafPort) return true;
  const rootNs = stringField(root, 'sourceNamespace');
  if (rootNs !== '' && stringField(leaf, 'sourceNamespace') !== rootNs) return true;
  const rootLabels = recordField(root, 'sourceLabels') ?? {};
  for (const [key, value] of Object.entries(recordField(leaf, 'sourceLabels') ?? {})) {
    if (key in rootLabels && rootLabels[key] !== value) return true;
  }
  const rootGateways = strings(root['gateways']);
  const leafGateways = strings(leaf['gateways']);
  if (rootGateways.length > 0 && leafGateways.length > 0) {
    if (rootGateways.length < leafGateways.length) return true;
    if (leafGateways.some((g) => !rootGateways.includes(g))) return true;
  }
  return false;
}
