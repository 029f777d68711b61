/**
 * The admin `/config_dump` of a running skiff proxy: the snapshot the engine serves, laid out by
 * `buildConfigDump` (src/xds) in Envoy's admin spelling (proto field names), plus Envoy's query options:
 * `?include_eds` adds the EndpointsConfigDump, `?resource=<repeated field>` lists that field's entries as
 * their own typed configs, and `?mask=<paths>` trims every config (or resource) to the given field paths.
 */
import type { Json, Proxy } from '../xds/index.js';
// The config-dump layout alone, not the xds index (which would load the generators and the ADS server
// into every proxy process; see the exception in eslint.config.js).
import { buildConfigDump, camelFieldName } from '../xds/generate/config-dump.js';
import type { ProxySnapshot } from './config.js';
import type { PeerInfo } from './peer-metadata.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

type SectionKind = 'clusters' | 'endpoints' | 'listeners' | 'routes' | 'secrets';

/**
 * The repeated fields `?resource=` accepts: the message type of their entries, the snapshot lists the
 * field is built from (endpoint configs include non-EDS clusters' own), and where an entry holds its
 * resource (proto field names) for the fields whose resources a mask may trim before conversion.
 */
const RESOURCE_FIELDS: Record<string, { type: string; from: SectionKind[]; resourceAt?: string[] }> = {
  static_clusters: { type: 'ClustersConfigDump.StaticCluster', from: ['clusters'], resourceAt: ['cluster'] },
  dynamic_active_clusters: {
    type: 'ClustersConfigDump.DynamicCluster',
    from: ['clusters'],
    resourceAt: ['cluster'],
  },
  dynamic_warming_clusters: {
    type: 'ClustersConfigDump.DynamicCluster',
    from: ['clusters'],
    resourceAt: ['cluster'],
  },
  static_listeners: { type: 'ListenersConfigDump.StaticListener', from: ['listeners'] },
  dynamic_listeners: {
    type: 'ListenersConfigDump.DynamicListener',
    from: ['listeners'],
    resourceAt: ['active_state.listener', 'warming_state.listener', 'draining_state.listener'],
  },
  static_route_configs: { type: 'RoutesConfigDump.StaticRouteConfig', from: ['routes'] },
  dynamic_route_configs: {
    type: 'RoutesConfigDump.DynamicRouteConfig',
    from: ['routes'],
    resourceAt: ['route_config'],
  },
  static_scoped_route_configs: { type: 'ScopedRoutesConfigDump.InlineScopedRouteConfigs', from: ['routes'] },
  dynamic_scoped_route_configs: {
    type: 'ScopedRoutesConfigDump.DynamicScopedRouteConfigs',
    from: ['routes'],
  },
  static_secrets: { type: 'SecretsConfigDump.StaticSecret', from: ['secrets'] },
  dynamic_active_secrets: {
    type: 'SecretsConfigDump.DynamicSecret',
    from: ['secrets'],
    resourceAt: ['secret'],
  },
  dynamic_warming_secrets: { type: 'SecretsConfigDump.DynamicSecret', from: ['secrets'] },
  static_endpoint_configs: {
    type: 'EndpointsConfigDump.StaticEndpointConfig',
    from: ['endpoints', 'clusters'],
  },
  dynamic_endpoint_configs: {
    type: 'EndpointsConfigDump.DynamicEndpointConfig',
    from: ['endpoints', 'clusters'],
  },
};

/**
 * The resource fields a masked `?resource=` answer can show: a mask path into the resource keeps its first
 * field; a path stopping at or above the resource keeps all of it (undefined). Converting only those
 * fields to Envoy's spelling is what makes a masked poll cheap; the mask itself still trims the result.
 */
function keptFields(
  resource: string,
  mask: readonly string[],
): { kind: SectionKind; fields: Set<string> } | undefined {
  const where = RESOURCE_FIELDS[resource];
  const paths = where?.resourceAt;
  if (!where || !paths || mask.length === 0) return undefined;
  const fields = new Set<string>(['name']);
  for (const path of mask) {
    for (const prefix of paths) {
      if (prefix === path || prefix.startsWith(`${path}.`)) return undefined;
      if (path.startsWith(`${prefix}.`)) {
        const field = path.slice(prefix.length + 1).split('.')[0] ?? '';
        fields.add(camelFieldName(field)).add(field);
      }
    }
  }
  return { kind: where.from[0] as SectionKind, fields };
}

function pickFields(resource: Json, fields: ReadonlySet<string>): Json {
  const out: Json = {};
  for (const f of fields) if (resource[f] !== undefined) out[f] = resource[f];
  return out;
}

export interface ConfigDumpQuery {
  includeEds: boolean;
  resource?: string;
  mask?: string;
}

export type DumpResult = { status: 200; body: Json } | { status: 400 | 404; error: string };

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isRecord) : []);

/** A `Proxy` for the dump's node when no bootstrap is given, from what the proxy knows of itself. */
function proxyOf(peer: PeerInfo | undefined): Proxy {
  const podName = peer?.name ?? 'skiff-proxy';
  const namespace = peer?.namespace ?? 'default';
  return {
    id: peer?.nodeId ?? `sidecar~127.0.0.1~${podName}.${namespace}~${namespace}.svc.cluster.local`,
    type: 'sidecar',
    ipAddresses: [],
    name: `${podName}.${namespace}`,
    podName,
    namespace,
    dnsDomain: `${namespace}.svc.cluster.local`,
    labels: peer?.labels ?? {},
    clusterId: peer?.clusterId ?? 'Kubernetes',
    istioVersion: '',
    workloadName: peer?.workloadName ?? podName,
    metadata: {},
  };
}

/** Trims a message to the dotted field paths (FieldMaskUtil::TrimMessage); repeated fields per element. */
export function applyMask(value: Json, paths: readonly string[]): Json {
  type Tree = Map<string, Tree>;
  const tree: Tree = new Map();
  for (const path of paths) {
    let node = tree;
    for (const part of path.split('.').filter((p) => p !== '')) {
      let next = node.get(part);
      if (!next) {
        next = new Map();
        node.set(part, next);
      }
      node = next;
    }
  }
  const trim = (obj: Json, node: Tree): Json => {
    const out: Json = {};
    if (typeof obj['@type'] === 'string') out['@type'] = obj['@type'];
    for (const [key, sub] of node) {
      const v = obj[key];
      if (v === undefined) continue;
      if (sub.size === 0) out[key] = v;
      else if (Array.isArray(v)) {
        const items = v.filter(isRecord).map((item) => trim(item, sub));
        if (items.length > 0) out[key] = items;
      } else if (isRecord(v)) {
        const inner = trim(v, sub);
        if (Object.keys(inner).some((k) => k !== '@type')) out[key] = inner;
      }
    }
    return out;
  };
  return trim(value, tree);
}

export function adminConfigDump(
  snapshot: ProxySnapshot | undefined,
  opts: { bootstrap?: Json; peer?: PeerInfo; lastUpdated?: Date },
  query: ConfigDumpQuery,
): DumpResult {
  // `?resource=` reads one section: the others are laid out empty, not converted and then dropped (a
  // sidecar with 1,000 services spent most of a poll converting listeners and routes nobody asked for).
  const fromLists = query.resource ? RESOURCE_FIELDS[query.resource]?.from : undefined;
  const needed = fromLists ? new Set(fromLists) : undefined;
  const from = (kind: SectionKind): Json[] =>
    needed === undefined || needed.has(kind) ? list(snapshot?.[kind]) : [];
  const mask = (query.mask ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const kept = query.resource ? keptFields(query.resource, mask) : undefined;
  const trimmed = (kind: SectionKind): Json[] => {
    const items = from(kind);
    return kept && kept.kind === kind ? items.map((r) => pickFields(r, kept.fields)) : items;
  };
  const resources = {
    clusters: trimmed('clusters'),
    endpoints: from('endpoints'),
    listeners: trimmed('listeners'),
    routes: trimmed('routes'),
    secrets: trimmed('secrets'),
  };
  const options: Parameters<typeof buildConfigDump>[2] = {
    versionInfo: snapshot?.version ?? '',
    lastUpdated: (opts.lastUpdated ?? new Date()).toISOString(),
    snakeCase: true,
    includeEds: query.includeEds || query.resource?.endsWith('endpoint_configs') === true,
  };
  if (opts.bootstrap) options.bootstrap = opts.bootstrap;
  const dump = buildConfigDump(proxyOf(opts.peer), resources, options);
  let configs = list(dump['configs']);
  if (query.resource !== undefined && query.resource !== '') {
    const type = RESOURCE_FIELDS[query.resource]?.type;
    if (type === undefined) return { status: 404, error: `${query.resource} not found in config dump` };
    configs = configs.flatMap((c) =>
      list(c[query.resource ?? '']).map((item) => ({ '@type': ADMIN + type, ...item })),
    );
  }
  if (mask.length > 0) configs = configs.map((c) => applyMask(c, mask));
  return { status: 200, body: { configs } };
}
