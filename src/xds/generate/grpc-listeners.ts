/**
 * LDS for proxyless gRPC clients as Istio 1.17 builds it (pilot/pkg/networking/grpcgen/lds.go): gRPC asks
 * for listeners by the name in its target URI (`xds:///<host>:<port>` → `<host>:<port>`), and each answer is
 * an `api_listener` holding an HttpConnectionManager whose routes come over ADS from RDS
 * `outbound|<port>||<fqdn>`, with the fault and router HTTP filters (the only ones grpc-js knows).
 *
 * Short names resolve as grpcgen's tryFindFQDN does: `name`, `name.<ns>` and `name.<ns>.svc` only in the
 * client's own namespace; any other service must be named by its FQDN. A listener is answered under the
 * name it was requested by (a client may watch both `foo:80` and `foo.ns:80`).
 */
import type { Service } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { outboundClusterName } from './clusters.js';
import type { Proxy } from './proxy.js';

/** Server-side listeners (gRFC A36) are requested with this prefix; grpcgen answers them separately. */
export const GRPC_INBOUND_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';

const TYPE_HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TYPE_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const TYPE_ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** grpcgen's supportedFilters: fault, then the router, which grpc-js requires to be last. */
function grpcHttpFilters(): Json[] {
  return [
    { name: 'envoy.filters.http.fault', typedConfig: { '@type': TYPE_FAULT } },
    { name: 'envoy.filters.http.router', typedConfig: { '@type': TYPE_ROUTER } },
  ];
}

/** net.SplitHostPort, lenient: `[v6]:port` or `host:port` with a numeric port; undefined otherwise. */
export function splitHostPort(name: string): { host: string; port: string } | undefined {
  const v6 = /^\[([^\]]*)\]:(\d+)$/.exec(name);
  if (v6) return { host: v6[1] as string, port: v6[2] as string };
  const i = name.lastIndexOf(':');
  if (i < 0 || name.indexOf(':') !== i) return undefined;
  const port = name.slice(i + 1);
  return /^\d*$/.test(port) ? { host: name.slice(0, i), port } : undefined;
}

/** net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** tryFindFQDN: the FQDN a short name stands for in the client's namespace, or ''. */
export function grpcFqdnFor(name: string, proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>): string {
  if (!name.includes('.')) return `${name}.${proxy.dnsDomain}`;
  for (const suffix of [proxy.namespace, `${proxy.namespace}.svc`]) {
    if (suffix === '' || !name.endsWith(`.${suffix}`)) continue;
    if (proxy.dnsDomain.startsWith(suffix)) return `${name.slice(0, -suffix.length - 1)}.${proxy.dnsDomain}`;
  }
  return '';
}

interface RequestedHost {
  /** The names (as requested, without port) that resolve to this host. */
  requestedNames: Set<string>;
  /** Ports asked for; undefined means every port (a name was requested without one). */
  ports?: Set<string>;
}

/** newListenerNameFilter: requested host → the names it was asked by and the ports wanted. */
export function listenerNameFilter(
  names: readonly string[],
  proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>,
): Map<string, RequestedHost> {
  const filter = new Map<string, RequestedHost>();
  for (const name of names) {
    if (typeof name !== 'string' || name === '' || name.startsWith(GRPC_INBOUND_LISTENER_PREFIX)) continue;
    const split = splitHostPort(name);
    const requested = split ? split.host : name;
    const fqdn = grpcFqdnFor(requested, proxy);
    for (const key of fqdn !== '' ? [requested, fqdn] : [requested]) {
      const known = filter.get(key);
      const entry: RequestedHost = known ?? { requestedNames: new Set() };
      entry.requestedNames.add(requested);
      if (split && (!known || entry.ports !== undefined)) (entry.ports ??= new Set()).add(split.port);
      else if (!split) entry.ports = undefined;
      filter.set(key, entry);
    }
  }
  return filter;
}

/**
 * Every name a client in the proxy's namespace may use for a service (the FQDN, and for services of its
 * own namespace `name`, `name.<ns>`, `name.<ns>.svc`), i.e. what listenerNameFilter resolves to it.
 */
export function grpcNamesForService(
  service: Service,
  proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>,
): string[] {
  const names = [service.hostname];
  const suffix = `.${proxy.dnsDomain}`;
  if (service.hostname.endsWith(suffix)) {
    const short = service.hostname.slice(0, -suffix.length);
    if (!short.includes('.'))
      names.push(short, `${short}.${proxy.namespace}`, `${short}.${proxy.namespace}.svc`);
  }
  return names;
}

function apiListener(name: string, address: string, port: number, routeName: string): Json {
  return {
    name,
    address: { socketAddress: { address, portValue: port } },
    apiListener: {
      apiListener: {
        '@type': TYPE_HCM,
        rds: { configSource: { ads: {} }, routeConfigName: routeName },
        httpFilters: grpcHttpFilters(),
      },
    },
  };
}

/**
 * The client listeners for `services` (the proxy's scope, sorted by hostname). With `requested` names,
 * exactly grpcgen's answer to them; without, one listener per service port under every name a client in
 * the proxy's namespace could request it by (the ADS server then picks the requested ones).
 */
export function buildGrpcListeners(
  services: readonly Service[],
  proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>,
  requested?: readonly string[],
): Json[] {
  const filter = requested ? listenerNameFilter(requested, proxy) : undefined;
  const out: Json[] = [];
  for (const svc of services) {
    let match: RequestedHost | undefined;
    if (filter) {
      match = filter.get(svc.hostname);
      if (!match) continue;
    } else {
      match = { requestedNames: new Set(grpcNamesForService(svc, proxy)) };
    }
    for (const host of [...match.requestedNames].sort()) {
      for (const p of svc.ports) {
        if (match.ports && !match.ports.has(String(p.port))) continue;
        out.push(
          apiListener(
            joinHostPort(host, p.port),
            svc.defaultAddress,
            p.port,
            outboundClusterName(p.port, '', svc.hostname),
          ),
        );
      }
    }
  }
  return out;
}
