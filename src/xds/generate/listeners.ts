/**
 * The LDS listeners of a gateway (router) proxy as Istio 1.17 builds them (pilot/pkg/networking/core/
 * v1alpha3 gateway.go buildGatewayListeners, listener_builder.go buildHTTPConnectionManager), in proto3
 * JSON: one `<bind>_<port>` listener per Gateway server port, where the port is the gateway Service's
 * targetPort for that server port (80 → 8080 in the lab), and plain HTTP servers get an HTTP connection
 * manager that fetches route `http.<port>` over ADS.
 *
 * The 15021 (health) and 15090 (Prometheus) listeners come from the bootstrap, not LDS, so they are not
 * built here.
 */
import type { Server } from '../../api/index.js';
import { KIND, typedSpec } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { ServiceRegistry } from '../../registry/index.js';
import { buildRegistry, labelsMatch } from '../../registry/index.js';
import type { Json } from './clusters.js';

export interface GatewayProxyInfo {
  /** The gateway workload's namespace. */
  namespace: string;
  /** The gateway workload's pod labels: Gateways select on them. */
  labels: Record<string, string>;
}

const HCM_NAME = 'envoy.filters.network.http_connection_manager';
const TYPE_HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TYPE_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const TYPE_CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const TYPE_ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const WILDCARD_ADDRESS = '0.0.0.0';
const DISABLE_PORT_TRANSLATION_LABEL = 'networking.istio.io/disable-gateway-port-translation';

/** Server protocols served by an HTTP connection manager without TLS termination. */
const PLAIN_HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

interface BoundServer {
  server: Server;
  bind: string;
  port: number;
}

/**
 * The proxy's listeners, sorted by port then bind address. Only plain HTTP servers are built so far;
 * servers of other protocols (HTTPS, TLS, TCP) are skipped rather than guessed.
 */
export function buildGatewayListeners(
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
  registry: ServiceRegistry = buildRegistry(snapshot),
): Json[] {
  const byListener = new Map<string, BoundServer[]>();
  for (const bound of serversForProxy(snapshot, proxy, registry)) {
    const name = `${bound.bind}_${bound.port}`;
    const list = byListener.get(name) ?? [];
    list.push(bound);
    byListener.set(name, list);
  }
  const listeners: { port: number; bind: string; json: Json }[] = [];
  for (const [name, servers] of byListener) {
    const first = servers[0];
    if (!first) continue;
    // Istio serves one protocol per port; HTTP servers on a port share one HCM and one route config.
    if (!servers.some((s) => PLAIN_HTTP_PROTOCOLS.has(serverProtocol(s.server)))) continue;
    listeners.push({ port: first.port, bind: first.bind, json: httpListener(name, first.bind, first.port) });
  }
  listeners.sort((a, b) => a.port - b.port || (a.bind < b.bind ? -1 : a.bind > b.bind ? 1 : 0));
  return listeners.map((l) => l.json);
}

function serverProtocol(server: Server): string {
  return typeof server.port.protocol === 'string' ? server.port.protocol.toUpperCase() : '';
}

/** Every server of every Gateway whose selector matches the proxy, with the port it binds on the proxy. */
function serversForProxy(
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
  registry: ServiceRegistry,
): BoundServer[] {
  const out: BoundServer[] = [];
  for (const gw of snapshot.list(KIND.Gateway)) {
    const spec = typedSpec(gw, KIND.Gateway);
    if (!isRecord(spec)) continue;
    // An absent or empty selector selects every workload, in every namespace (Istio 1.17's default).
    if (!labelsMatch(stringLabels(spec.selector), proxy.labels)) continue;
    const servers = Array.isArray(spec.servers) ? spec.servers : [];
    for (const server of servers) {
      if (!isRecord(server) || !isRecord(server.port)) continue;
      const number = server.port.number;
      if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0) continue;
      // unix:// binds have no TCP port to listen on; not modelled.
      const bind = typeof server.bind === 'string' && server.bind !== '' ? server.bind : WILDCARD_ADDRESS;
      if (bind.startsWith('unix://')) continue;
      out.push({ server, bind, port: targetPortFor(registry, proxy, number) });
    }
  }
  return out;
}

/**
 * The container port the gateway workload listens on for a server port: the targetPort of the proxy's own
 * Service port with that number (a named targetPort through the gateway pods' container ports), else the
 * server port itself.
 */
export function targetPortFor(registry: ServiceRegistry, proxy: GatewayProxyInfo, port: number): number {
  for (const service of registry.services()) {
    if (service.registry !== 'Kubernetes' || service.namespace !== proxy.namespace) continue;
    // Services can opt out of the translation with this label (model/gateway.go resolvePorts).
    if (DISABLE_PORT_TRANSLATION_LABEL in service.labels) continue;
    const selector = service.selector;
    if (!selector || Object.keys(selector).length === 0 || !labelsMatch(selector, proxy.labels)) continue;
    const servicePort = service.ports.find((p) => p.port === port);
    if (!servicePort) continue;
    const target = servicePort.targetPort;
    if (typeof target === 'number' && target > 0) return target;
    if (typeof target === 'string' && target !== '') {
      const named = registry
        .workloads()
        .find((w) => w.namespace === proxy.namespace && labelsMatch(selector, w.labels))?.portMap[target];
      if (named !== undefined) return named;
    }
    return port;
  }
  return port;
}

function httpListener(name: string, bind: string, port: number): Json {
  return {
    name,
    address: { socketAddress: { address: bind, portValue: port } },
    filterChains: [{ filters: [{ name: HCM_NAME, typedConfig: httpConnectionManager(name, port) }] }],
    trafficDirection: 'OUTBOUND',
  };
}

/**
 * The gateway HCM (gateway.go buildGatewayConnectionManager + listener_builder.go): RDS over ADS waiting
 * indefinitely for routes, remote address trusted (gateways are the edge), XFCC sanitized, websocket
 * upgrades, no stream idle timeout, BASE path normalization. Istio 1.17's filter list is
 * istio.metadata_exchange, grpc_stats, istio.alpn, fault, cors, router; only fault, cors and router are
 * written here because the other configs' protos are not loaded and would not round-trip (nor would the
 * UUID request-ID extension). Tracing and access logs depend on mesh config and are not built yet.
 */
function httpConnectionManager(listenerName: string, port: number): Json {
  return {
    '@type': TYPE_HCM,
    statPrefix: `outbound_${listenerName}`,
    rds: {
      configSource: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      routeConfigName: `http.${port}`,
    },
    httpFilters: [
      { name: 'envoy.filters.http.fault', typedConfig: { '@type': TYPE_FAULT } },
      { name: 'envoy.filters.http.cors', typedConfig: { '@type': TYPE_CORS } },
      { name: 'envoy.filters.http.router', typedConfig: { '@type': TYPE_ROUTER } },
    ],
    useRemoteAddress: true,
    forwardClientCertDetails: 'SANITIZE_SET',
    setCurrentClientCertDetails: { subject: true, cert: true, uri: true, dns: true },
    upgradeConfigs: [{ upgradeType: 'websocket' }],
    streamIdleTimeout: '0s',
    normalizePath: true,
    pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
    serverName: 'istio-envoy',
    httpProtocolOptions: {},
  };
}
