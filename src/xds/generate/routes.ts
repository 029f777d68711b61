/**
 * The RDS route configurations of a gateway (router) proxy as Istio 1.17 builds them (pilot/pkg/networking/
 * core/v1alpha3 gateway.go buildGatewayHTTPRouteConfig, route/route.go TranslateRoute), in proto3 JSON as
 * `istioctl proxy-config routes -o json` prints them: one `http.<port>` per plain HTTP server port (the
 * gateway Service's targetPort), one virtual host `<host>:<serverPort>` per VirtualService host that a
 * server of that port accepts, and the VirtualService's http routes translated in order.
 */
import { KIND, typedSpec } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { ServiceRegistry } from '../../registry/index.js';
import { labelsMatch } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { normalizeDuration, outboundClusterName } from './clusters.js';
import type { GatewayProxyInfo } from './listeners.js';
import { targetPortFor } from './listeners.js';

const PLAIN_HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TYPE_PREVIOUS_HOSTS =
  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

interface HttpServer {
  gateway: Resource;
  /** Server hosts with any `namespace/` prefix removed. */
  hosts: string[];
  serverPort: number;
  proxyPort: number;
}

/** Every route configuration of the proxy, sorted by name. */
export function buildGatewayRouteConfigs(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
): Json[] {
  const byPort = new Map<number, HttpServer[]>();
  for (const server of httpServers(registry, snapshot, proxy)) {
    const list = byPort.get(server.proxyPort) ?? [];
    list.push(server);
    byPort.set(server.proxyPort, list);
  }
  const ports = [...byPort.keys()].sort((a, b) => a - b);
  return ports.map((port) => ({
    name: `http.${port}`,
    virtualHosts: virtualHosts(registry, snapshot, byPort.get(port) ?? []),
    validateClusters: false,
    ignorePortInHostMatching: true,
  }));
}

function httpServers(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
): HttpServer[] {
  const out: HttpServer[] = [];
  for (const gw of snapshot.list(KIND.Gateway)) {
    const spec: unknown = typedSpec(gw, KIND.Gateway);
    if (!isRecord(spec)) continue;
    const selector = isRecord(spec['selector']) ? stringMap(spec['selector']) : {};
    if (!labelsMatch(selector, proxy.labels)) continue;
    for (const server of records(spec['servers'])) {
      const port = isRecord(server['port']) ? server['port'] : {};
      const number = port['number'];
      const protocol = typeof port['protocol'] === 'string' ? port['protocol'].toUpperCase() : '';
      if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0) continue;
      if (!PLAIN_HTTP_PROTOCOLS.has(protocol) || isRecord(server['tls'])) continue;
      const hosts = strings(server['hosts']).map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h));
      out.push({ gateway: gw, hosts, serverPort: number, proxyPort: targetPortFor(registry, proxy, number) });
    }
  }
  return out;
}

function stringMap(v: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Whether a host pattern (possibly `*` or `*.suffix`) covers a concrete or wildcard VirtualService host. */
function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return false;
}

/** Whether a VirtualService's `gateways` names this gateway (`ns/name`, or a short name in the VS namespace). */
function boundTo(vs: Resource, gateway: Resource): boolean {
  const spec: unknown = typedSpec(vs, KIND.VirtualService);
  if (!isRecord(spec)) return false;
  const vsNs = vs.metadata.namespace ?? 'default';
  const gwNs = gateway.metadata.namespace ?? 'default';
  return strings(spec['gateways']).some((g) => {
    const [ns, name] = g.includes('/')
      ? [g.slice(0, g.indexOf('/')), g.slice(g.indexOf('/') + 1)]
      : [vsNs, g];
    return name === gateway.metadata.name && ns === gwNs;
  });
}

function virtualHosts(registry: ServiceRegistry, snapshot: ConfigSnapshot, servers: HttpServer[]): Json[] {
  const byName = new Map<string, Json>();
  for (const vs of snapshot.list(KIND.VirtualService)) {
    const spec: unknown = typedSpec(vs, KIND.VirtualService);
    if (!isRecord(spec)) continue;
    for (const server of servers) {
      if (!boundTo(vs, server.gateway)) continue;
      for (const host of strings(spec['hosts'])) {
        if (!server.hosts.some((p) => hostMatches(p, host))) continue;
        const name = `${host}:${server.serverPort}`;
        if (byName.has(name)) continue;
        byName.set(name, {
          name,
          domains: [host],
          routes: translateRoutes(registry, vs, spec, server.serverPort),
          includeRequestAttemptCount: true,
        });
      }
    }
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

function translateRoutes(
  registry: ServiceRegistry,
  vs: Resource,
  spec: Record<string, unknown>,
  port: number,
): Json[] {
  const out: Json[] = [];
  const ns = vs.metadata.namespace ?? 'default';
  const configPath = `/apis/networking.istio.io/v1alpha3/namespaces/${ns}/virtual-service/${vs.metadata.name}`;
  for (const http of records(spec['http'])) {
    const action = routeAction(registry, ns, http);
    if (!action) continue;
    const matches = records(http['match']);
    for (const match of matches.length > 0 ? matches : [undefined]) {
      const route: Json = {};
      const name = typeof http['name'] === 'string' ? http['name'] : undefined;
      if (name !== undefined) route['name'] = name;
      route['match'] = routeMatch(match);
      route['route'] = action;
      route['metadata'] = { filterMetadata: { istio: { config: configPath } } };
      route['decorator'] = {
        operation: `${vs.metadata.name}:${port}${operationPath(route['match'] as Json)}`,
      };
      out.push(route);
    }
  }
  return out;
}

/** The decorator's path part (route.go getRouteOperation): `<prefix>*`, the exact path, or the regex. */
function operationPath(match: Json): string {
  if (typeof match['prefix'] === 'string') return `${match['prefix']}*`;
  if (typeof match['path'] === 'string') return match['path'];
  const regex = isRecord(match['safeRegex']) ? match['safeRegex']['regex'] : undefined;
  return typeof regex === 'string' ? regex : '/*';
}

function stringMatch(m: Record<string, unknown>): Json | undefined {
  if (typeof m['exact'] === 'string') return { exact: m['exact'] };
  if (typeof m['prefix'] === 'string') return { prefix: m['prefix'] };
  if (typeof m['regex'] === 'string') return { safeRegex: { regex: m['regex'] } };
  return undefined;
}

function routeMatch(match: Record<string, unknown> | undefined): Json {
  const out: Json = {};
  const uri = isRecord(match?.['uri']) ? match['uri'] : undefined;
  if (uri && typeof uri['exact'] === 'string') out['path'] = uri['exact'];
  else if (uri && typeof uri['regex'] === 'string') out['safeRegex'] = { regex: uri['regex'] };
  else out['prefix'] = uri && typeof uri['prefix'] === 'string' ? uri['prefix'] : '/';
  if (match?.['ignoreUriCase'] === true) out['caseSensitive'] = false;
  const headers: Json[] = [];
  const rawHeaders = isRecord(match?.['headers']) ? match['headers'] : {};
  for (const key of Object.keys(rawHeaders).sort()) {
    const value = rawHeaders[key];
    const sm = isRecord(value) ? stringMatch(value) : undefined;
    if (sm) headers.push({ name: key, stringMatch: sm });
  }
  if (headers.length > 0) out['headers'] = headers;
  return out;
}

function clusterFor(
  registry: ServiceRegistry,
  ns: string,
  dest: Record<string, unknown>,
): string | undefined {
  const raw = dest['host'];
  if (typeof raw !== 'string' || raw === '') return undefined;
  const fqdn = raw.includes('.') ? raw : `${raw}.${ns}.svc.${registry.domainSuffix}`;
  const subset = typeof dest['subset'] === 'string' ? dest['subset'] : '';
  const portNumber = isRecord(dest['port']) ? dest['port']['number'] : undefined;
  let port = typeof portNumber === 'number' ? portNumber : undefined;
  if (port === undefined) {
    const ports = registry.serviceByHost(fqdn, ns)?.ports ?? [];
    if (ports.length === 1) port = ports[0]?.port;
  }
  // A destination whose port cannot be resolved gets no cluster; a subset without a DestinationRule still
  // names its (absent) cluster, which is what makes Envoy answer 503 NC.
  return port === undefined ? undefined : outboundClusterName(port, subset, fqdn);
}

function routeAction(registry: ServiceRegistry, ns: string, http: Record<string, unknown>): Json | undefined {
  const destinations = records(http['route']);
  const out: Json = {};
  if (destinations.length === 1) {
    const dest = destinations[0];
    const name = isRecord(dest?.['destination']) ? clusterFor(registry, ns, dest['destination']) : undefined;
    if (name === undefined) return undefined;
    out['cluster'] = name;
  } else if (destinations.length > 1) {
    const clusters: Json[] = [];
    for (const d of destinations) {
      const name = isRecord(d['destination']) ? clusterFor(registry, ns, d['destination']) : undefined;
      const weight = typeof d['weight'] === 'number' ? d['weight'] : 0;
      if (name !== undefined && weight > 0) clusters.push({ name, weight });
    }
    if (clusters.length === 0) return undefined;
    out['weightedClusters'] = { clusters, totalWeight: 100 };
  } else {
    return undefined;
  }
  const timeout = normalizeDuration(http['timeout']) ?? '0s';
  out['timeout'] = timeout;
  const retry = retryPolicy(http['retries']);
  if (retry) out['retryPolicy'] = retry;
  out['maxGrpcTimeout'] = timeout;
  return out;
}

/** Istio's default retry policy, with the VirtualService's attempts/retryOn/perTryTimeout; 0 attempts: none. */
function retryPolicy(retries: unknown): Json | undefined {
  const r = isRecord(retries) ? retries : {};
  const attempts = typeof r['attempts'] === 'number' ? r['attempts'] : 2;
  if (attempts <= 0) return undefined;
  const out: Json = {
    retryOn: typeof r['retryOn'] === 'string' && r['retryOn'] !== '' ? r['retryOn'] : DEFAULT_RETRY_ON,
    numRetries: attempts,
  };
  const perTry = normalizeDuration(r['perTryTimeout']);
  if (perTry !== undefined) out['perTryTimeout'] = perTry;
  out['retryHostPredicate'] = [
    { name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': TYPE_PREVIOUS_HOSTS } },
  ];
  out['hostSelectionRetryMaxAttempts'] = '5';
  out['retriableStatusCodes'] = [503];
  return out;
}
