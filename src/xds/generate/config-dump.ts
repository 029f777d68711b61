/**
 * The Envoy admin `/config_dump` a proxy would show once it has applied a set of generated resources:
 * `envoy.admin.v3.ConfigDump{configs}` with one typed section per kind, in the order Envoy writes them
 * (bootstrap, clusters, endpoints, listeners, scoped routes, routes, secrets). The bootstrap's static
 * resources appear as the static entries of their sections, as in a real Envoy's dump.
 *
 * The JSON is camelCase by default (what `istioctl proxy-config -o json` and istiod's debug dump print);
 * `snakeCase` gives what Envoy's admin endpoint serves (it keeps the proto field names). Either way the
 * keys of maps and `google.protobuf.Struct` values are data and stay as they are.
 */
import { TYPE } from '../protos.js';
import type { Json } from './clusters.js';
import type { ProxyResources } from './generate.js';
import type { Proxy } from './proxy.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

export const CONFIG_DUMP_TYPE = {
  bootstrap: `${ADMIN}BootstrapConfigDump`,
  clusters: `${ADMIN}ClustersConfigDump`,
  endpoints: `${ADMIN}EndpointsConfigDump`,
  listeners: `${ADMIN}ListenersConfigDump`,
  scopedRoutes: `${ADMIN}ScopedRoutesConfigDump`,
  routes: `${ADMIN}RoutesConfigDump`,
  secrets: `${ADMIN}SecretsConfigDump`,
} as const;

export interface ConfigDumpOptions {
  /**
   * The proxy's `envoy.config.bootstrap.v3.Bootstrap` (proto3 JSON). Without one the bootstrap section
   * carries only the node Envoy would identify itself with.
   */
  bootstrap?: Json;
  /** The xDS version the dynamic resources were received at (istiod's push version). */
  versionInfo: string;
  /** RFC 3339 time the resources were applied. */
  lastUpdated: string;
  /** Envoy admin's own spelling (proto field names) instead of proto3 JSON names. */
  snakeCase?: boolean;
  /** Add the EndpointsConfigDump, as `/config_dump?include_eds` does. */
  includeEds?: boolean;
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const records = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isRecord) : []);
const nameOf = (r: Json): string => (typeof r['name'] === 'string' ? r['name'] : '');

/** `{'@type': url, ...json}` with any `@type` already there replaced, so the URL comes first. */
function typed(typeUrl: string, json: Json): Json {
  const rest = Object.fromEntries(Object.entries(json).filter(([k]) => k !== '@type'));
  return { '@type': typeUrl, ...rest };
}

/** A proto3 repeated field: left out when empty. */
function repeated(key: string, items: readonly Json[]): Json {
  return items.length > 0 ? { [key]: items } : {};
}

/** The node a proxy announces (`Bootstrap.node`), for dumps built without the full bootstrap. */
function nodeOf(proxy: Proxy): Json {
  const workload = proxy.workloadName || proxy.podName;
  return {
    id: proxy.id,
    cluster: `${workload}.${proxy.namespace}`,
    metadata: proxy.metadata,
    userAgentName: 'envoy',
  };
}

export function buildConfigDump(proxy: Proxy, resources: ProxyResources, options: ConfigDumpOptions): Json {
  const { versionInfo: version, lastUpdated } = options;
  const bootstrap = options.bootstrap ?? { node: nodeOf(proxy) };
  const statics = isRecord(bootstrap['staticResources']) ? bootstrap['staticResources'] : {};
  const staticClusters = records(statics['clusters']);
  const dynamicVersion = (items: readonly unknown[]): Json =>
    items.length > 0 ? { versionInfo: version } : {};

  const configs: Json[] = [
    { '@type': CONFIG_DUMP_TYPE.bootstrap, bootstrap, lastUpdated },
    {
      '@type': CONFIG_DUMP_TYPE.clusters,
      ...dynamicVersion(resources.clusters),
      ...repeated(
        'staticClusters',
        staticClusters.map((c) => ({ cluster: typed(TYPE.Cluster, c), lastUpdated })),
      ),
      ...repeated(
        'dynamicActiveClusters',
        resources.clusters.map((c) => ({
          versionInfo: version,
          cluster: typed(TYPE.Cluster, c),
          lastUpdated,
        })),
      ),
    },
  ];
  if (options.includeEds) configs.push(endpointsSection(staticClusters, resources));
  configs.push(
    {
      '@type': CONFIG_DUMP_TYPE.listeners,
      ...dynamicVersion(resources.listeners),
      ...repeated(
        'staticListeners',
        records(statics['listeners']).map((l) => ({ listener: typed(TYPE.Listener, l), lastUpdated })),
      ),
      ...repeated(
        'dynamicListeners',
        resources.listeners.map((l) => ({
          name: nameOf(l),
          activeState: { versionInfo: version, listener: typed(TYPE.Listener, l), lastUpdated },
        })),
      ),
    },
    // Envoy always registers the scoped-routes tracker; Istio never sends scoped routes.
    { '@type': CONFIG_DUMP_TYPE.scopedRoutes },
    {
      '@type': CONFIG_DUMP_TYPE.routes,
      ...repeated(
        'dynamicRouteConfigs',
        resources.routes.map((r) => ({
          versionInfo: version,
          routeConfig: typed(TYPE.RouteConfiguration, r),
          lastUpdated,
        })),
      ),
    },
    {
      '@type': CONFIG_DUMP_TYPE.secrets,
      ...repeated(
        'staticSecrets',
        records(statics['secrets']).map((s) => ({
          name: nameOf(s),
          lastUpdated,
          secret: typed(TYPE.Secret, s),
        })),
      ),
      ...repeated(
        'dynamicActiveSecrets',
        resources.secrets.map((s) => ({
          name: nameOf(s),
          versionInfo: version,
          lastUpdated,
          secret: typed(TYPE.Secret, s),
        })),
      ),
    },
  );
  const dump: Json = { configs };
  return options.snakeCase ? (toEnvoyAdminJson(dump) as Json) : dump;
}

/**
 * Envoy lists the endpoints of every cluster it has: static clusters' `loadAssignment`s, then the dynamic
 * ones (EDS assignments, and the inline assignments of dynamic clusters that are not EDS).
 */
function endpointsSection(staticClusters: readonly Json[], resources: ProxyResources): Json {
  const inline = (clusters: readonly Json[]): Json[] =>
    clusters.flatMap((c) => {
      if (c['type'] === 'EDS' || !isRecord(c['loadAssignment'])) return [];
      return [{ clusterName: nameOf(c), ...c['loadAssignment'] }];
    });
  const entry = (cla: Json): Json => ({ endpointConfig: typed(TYPE.ClusterLoadAssignment, cla) });
  return {
    '@type': CONFIG_DUMP_TYPE.endpoints,
    ...repeated('staticEndpointConfigs', inline(staticClusters).map(entry)),
    ...repeated('dynamicEndpointConfigs', [...resources.endpoints, ...inline(resources.clusters)].map(entry)),
  };
}

// ---- proto3 JSON names ⇄ proto field names ----

/** Field names whose JSON name has a digit right after an underscore, which the generic rule cannot undo. */
const SNAKE_EXCEPTIONS: Record<string, string> = {
  acceptHttp10: 'accept_http_10',
  defaultHostForHttp10: 'default_host_for_http_10',
  consecutive5xx: 'consecutive_5xx',
  enforcingConsecutive5xx: 'enforcing_consecutive_5xx',
  normalizePathRfc3986: 'normalize_path_rfc_3986',
  proxy100Continue: 'proxy_100_continue',
  traceId128bit: 'trace_id_128bit',
};

/** `lowerCamel` JSON name → proto field name. */
export function snakeFieldName(name: string): string {
  return SNAKE_EXCEPTIONS[name] ?? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Proto field name → its JSON name, as protoc derives it. */
export function camelFieldName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Fields whose values are `google.protobuf.Struct`/`Value` (or maps of them) in the Envoy API: their
 * contents are data. Keyed by JSON name; the proto names are matched through `camelFieldName`.
 */
const STRUCT_FIELDS = new Set([
  'filterMetadata', // Metadata: map<string, Struct>
  'staticLayer', // Runtime layer
  'jsonFormat', // SubstitutionFormatString (access log JSON keys)
  'transportSocketMatchCriteria', // HealthCheck
  'defaultSubset', // Cluster.LbSubsetConfig
  'args', // GrpcService.GoogleGrpc.ChannelArgs: map<string, Value>
]);

/** Struct-valued fields whose name is common, so only under these parents (JSON names). */
const STRUCT_FIELDS_BY_PARENT: Record<string, readonly string[]> = {
  metadata: ['node', 'userAgentBuildVersion', 'version'], // Node, BuildVersion
  match: ['transportSocketMatches'], // Cluster.TransportSocketMatch
  config: ['googleGrpc'], // GrpcService.GoogleGrpc
};

/** map<string, Message> fields: the keys are names (filters, policies, providers), the values messages. */
const MAP_FIELDS = new Set([
  'typedFilterMetadata',
  'typedPerFilterConfig',
  'typedExtensionProtocolOptions',
  'namedEndpoints',
  'dynamicParameters',
  'certificateProviderInstances',
  'policies', // RBAC
  'providers', // JWT authn
  'requirementMap', // JWT authn
  'sourceCodes', // Lua
  'filterStateObjects',
  'map', // xds matcher MatchMap
]);

const STRUCT_PAYLOAD = /\.(Struct|Value|ListValue|TypedStruct)$/;

export type KeyStyle = 'snake' | 'camel';

/**
 * Renames every proto field in a JSON-encoded Envoy message (or config dump) to `style`, leaving map
 * keys, Struct contents and `@type` alone. Values are never changed.
 */
export function convertProtoJsonKeys(value: unknown, style: KeyStyle): unknown {
  return convert(value, style, '');
}

/** The config dump (or resource) as Envoy's admin endpoint prints it: proto field names. */
export function toEnvoyAdminJson(value: unknown): unknown {
  return convert(value, 'snake', '');
}

function convert(value: unknown, style: KeyStyle, parentKey: string): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, style, parentKey));
  if (!isRecord(value)) return value;
  const typeUrl = typeof value['@type'] === 'string' ? value['@type'] : '';
  const structPayload = STRUCT_PAYLOAD.test(typeUrl);
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    // Proto field names are lower-case identifiers; anything else (`@type`, data keys) is kept.
    const isField = /^[a-z][A-Za-z0-9_]*$/.test(key);
    const json = isField ? camelFieldName(key) : key;
    const name = !isField ? key : style === 'snake' ? snakeFieldName(json) : json;
    if (isStructField(json, parentKey) || (structPayload && json === 'value')) {
      out[name] = v;
    } else if (MAP_FIELDS.has(json) && isRecord(v)) {
      out[name] = Object.fromEntries(Object.entries(v).map(([k, mv]) => [k, convert(mv, style, json)]));
    } else {
      out[name] = convert(v, style, json);
    }
  }
  return out;
}

function isStructField(jsonName: string, parentKey: string): boolean {
  if (STRUCT_FIELDS.has(jsonName)) return true;
  const parents = STRUCT_FIELDS_BY_PARENT[jsonName];
  return parents !== undefined && parents.includes(camelFieldName(parentKey));
}
