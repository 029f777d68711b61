/**
 * The Gateway servers a gateway proxy serves, merged as Istio 1.17's model.MergeGateways does
 * (pilot/pkg/model/gateway.go): Gateways selecting the proxy, oldest first; server hosts sanitized
 * (`./h` → `<gw ns>/h`, `*\/h` → `h`, `*\/*` → `*`); each server port translated to the gateway Service's
 * targetPort; TLS servers with a host already taken on that port dropped; plain-text HTTP servers on one
 * port merged under `http.<port>`; HTTPS servers given their own `https.<port>.<portName>.<gw>.<ns>`
 * route; servers of conflicting protocols on a port dropped.
 */
import type { Resource } from '../../api/index.js';
import { KIND, typedSpec } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { ServiceRegistry } from '../../registry/index.js';
import { isHTTPProtocol, labelsMatch, parseProtocol, PROTOCOL } from '../../registry/index.js';
import { isRecord, stringLabels, strings } from './listener-filters.js';

/** A gateway proxy as the gateway builders need it; `Proxy` fits. */
export interface GatewayProxyInfo {
  /** The gateway workload's namespace. */
  namespace: string;
  /** The gateway workload's pod labels: Gateways select on them. */
  labels: Record<string, string>;
  istioVersion?: string;
  metadata?: Record<string, unknown>;
  ipAddresses?: string[];
}

export type ServerTlsMode = 'SIMPLE' | 'MUTUAL' | 'PASSTHROUGH' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL';

/** One Gateway server, read defensively. */
export interface GatewayServer {
  /** `ns/name` of its Gateway. */
  gatewayName: string;
  gateway: Resource;
  /** The server's own port number (route names and matches use it). */
  number: number;
  portName: string;
  /** As written (case kept); compare through `parseProtocol`. */
  protocol: string;
  /** Sanitized hosts. */
  hosts: string[];
  bind: string;
  /** Undefined without a `tls` block. */
  tls?: Record<string, unknown>;
  tlsMode?: ServerTlsMode;
  name: string;
  /** For TLS servers: SNI hosts (sorted, namespaces stripped) and the route name (HTTPS). */
  sniHosts: string[];
  routeName: string;
}

export interface MergedServers {
  /** The port the proxy listens on (the targetPort). */
  port: number;
  protocol: string;
  bind: string;
  servers: GatewayServer[];
  /** The route of plain-text HTTP servers on this port. */
  routeName: string;
}

export interface MergedGateway {
  /** In the order servers were first seen. */
  ports: MergedServers[];
  /** Route name → servers serving it (HTTP and terminated HTTPS). */
  serversByRouteName: Map<string, GatewayServer[]>;
  /** Whether any server does AUTO_PASSTHROUGH (the proxy then needs SNI-DNAT clusters). */
  autoPassthrough: boolean;
}

const DISABLE_PORT_TRANSLATION_LABEL = 'networking.istio.io/disable-gateway-port-translation';
const TLS_MODES = new Set(['SIMPLE', 'MUTUAL', 'PASSTHROUGH', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL']);

export function isPassthroughServer(s: GatewayServer): boolean {
  return s.tls !== undefined && (s.tlsMode === 'PASSTHROUGH' || s.tlsMode === 'AUTO_PASSTHROUGH');
}

/** gateway.IsTLSServer: a non-HTTP server with a TLS block (an HTTP server's tls is only httpsRedirect). */
export function isTlsServer(s: GatewayServer): boolean {
  return s.tls !== undefined && !isHTTPProtocol(parseProtocol(s.protocol));
}

/** gateway.IsHTTPServer: HTTP-family, or HTTPS terminating TLS. */
export function isHttpServer(s: GatewayServer): boolean {
  const p = parseProtocol(s.protocol);
  return isHTTPProtocol(p) || (p === PROTOCOL.HTTPS && s.tls !== undefined && !isPassthroughServer(s));
}

export function isHttpsServerWithTlsTermination(s: GatewayServer): boolean {
  return s.tls !== undefined && parseProtocol(s.protocol) === PROTOCOL.HTTPS && !isPassthroughServer(s);
}

/** gateway.IsTCPServerWithTLSTermination. */
export function isTcpServerWithTlsTermination(s: GatewayServer): boolean {
  if (s.tls === undefined || isPassthroughServer(s)) return false;
  const p = parseProtocol(s.protocol);
  return !isHTTPProtocol(p) && p !== PROTOCOL.HTTPS;
}

/** gatewayRDSRouteName: '' for servers without routes (TCP, TLS, passthrough). */
export function gatewayRdsRouteName(s: Omit<GatewayServer, 'routeName'>, resolvedPort: number): string {
  const suffix = s.bind !== '' ? `.${s.bind}` : '';
  const p = parseProtocol(s.protocol);
  if (isHTTPProtocol(p)) return `http.${resolvedPort}${suffix}`;
  if (
    p === PROTOCOL.HTTPS &&
    s.tls !== undefined &&
    !(s.tlsMode === 'PASSTHROUGH' || s.tlsMode === 'AUTO_PASSTHROUGH')
  ) {
    const ns = s.gateway.metadata.namespace ?? 'default';
    return `https.${s.number}.${s.portName}.${s.gateway.metadata.name}.${ns}${suffix}`;
  }
  return '';
}

/** Gateway server hosts as Istio sanitizes them: a `.` namespace becomes the gateway's, a `*` namespace is dropped. */
export function sanitizeHosts(hosts: string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash < 0) {
      out.push(h);
      continue;
    }
    const ns = h.slice(0, slash);
    const name = h.slice(slash + 1);
    if (ns === '.') out.push(`${namespace}/${name}`);
    else if (ns === '*') {
      if (name === '*') return ['*'];
      out.push(name);
    } else out.push(h);
  }
  return out;
}

/** GetSNIHostsForServer: hosts without namespaces, de-duplicated and sorted. */
function sniHostsFor(hosts: string[]): string[] {
  const set = new Set(hosts.map((h) => (h.includes('/') ? (h.split('/')[1] ?? '') : h)));
  return [...set].sort();
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

function olderFirst(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.name}.${a.metadata.namespace ?? ''}`;
  const kb = `${b.metadata.name}.${b.metadata.namespace ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Gateways whose selector matches the proxy (an absent or empty selector selects every workload). */
export function gatewaysFor(snapshot: ConfigSnapshot, proxy: GatewayProxyInfo): Resource[] {
  return [...snapshot.list(KIND.Gateway)]
    .filter((gw) => {
      const spec: unknown = typedSpec(gw, KIND.Gateway);
      return isRecord(spec) && labelsMatch(stringLabels(spec['selector']), proxy.labels);
    })
    .sort(olderFirst);
}

function readServer(gw: Resource, raw: unknown): Omit<GatewayServer, 'routeName'> | undefined {
  if (!isRecord(raw) || !isRecord(raw['port'])) return undefined;
  const number = raw['port']['number'];
  if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0 || number > 65535)
    return undefined;
  const bind = typeof raw['bind'] === 'string' ? raw['bind'] : '';
  // unix:// binds have no TCP port to listen on; not modelled.
  if (bind.startsWith('unix://')) return undefined;
  const ns = gw.metadata.namespace ?? 'default';
  const tls = isRecord(raw['tls']) ? raw['tls'] : undefined;
  const modeText = tls && typeof tls['mode'] === 'string' ? tls['mode'] : 'PASSTHROUGH';
  const hosts = sanitizeHosts(strings(raw['hosts']), ns);
  const server: Omit<GatewayServer, 'routeName'> = {
    gatewayName: `${ns}/${gw.metadata.name}`,
    gateway: gw,
    number,
    portName: typeof raw['port']['name'] === 'string' ? raw['port']['name'] : '',
    protocol: typeof raw['port']['protocol'] === 'string' ? raw['port']['protocol'] : '',
    hosts,
    bind,
    name: typeof raw['name'] === 'string' ? raw['name'] : '',
    sniHosts: tls ? sniHostsFor(hosts) : [],
  };
  if (tls) {
    server.tls = tls;
    // The mode is an enum whose zero value is PASSTHROUGH.
    server.tlsMode = TLS_MODES.has(modeText) ? (modeText as ServerTlsMode) : 'PASSTHROUGH';
  }
  return server;
}

function canMergeProtocols(incoming: string, current: string): boolean {
  const a = parseProtocol(incoming);
  const b = parseProtocol(current);
  return (isHTTPProtocol(a) || a === b) && isHTTPProtocol(b);
}

/** model.MergeGateways for a proxy selected by the legacy label selector. */
export function mergeGateways(
  snapshot: ConfigSnapshot,
  proxy: GatewayProxyInfo,
  registry: ServiceRegistry,
): MergedGateway {
  const gatewayPorts = new Set<number>();
  const plainText = new Map<number, { port: number; protocol: string; bind: string }>();
  const merged = new Map<string, MergedServers>();
  const ports: MergedServers[] = [];
  const serversByRouteName = new Map<string, GatewayServer[]>();
  const tlsHostsByPort = new Map<number, Map<string, string>>();
  let autoPassthrough = false;
  const keyOf = (p: { port: number; protocol: string; bind: string }): string =>
    `${p.port}|${p.protocol}|${p.bind}`;

  for (const gw of gatewaysFor(snapshot, proxy)) {
    const spec: unknown = typedSpec(gw, KIND.Gateway);
    const servers = isRecord(spec) && Array.isArray(spec['servers']) ? spec['servers'] : [];
    for (const raw of servers) {
      const base = readServer(gw, raw);
      if (!base) continue;
      const resolved = targetPortFor(registry, proxy, base.number);
      const server: GatewayServer = { ...base, routeName: gatewayRdsRouteName(base, resolved) };
      const routeName = server.routeName;
      if (server.tls) {
        // Envoy rejects identical SNI matches, so a TLS host may be served once per port and bind.
        const known = tlsHostsByPort.get(resolved) ?? new Map<string, string>();
        tlsHostsByPort.set(resolved, known);
        if (server.hosts.some((h) => known.get(h) === server.bind)) continue;
        for (const h of server.hosts) known.set(h, server.bind);
        if (server.tlsMode === 'AUTO_PASSTHROUGH') autoPassthrough = true;
      }
      const serverPort = { port: resolved, protocol: server.protocol, bind: server.bind };
      if (gatewayPorts.has(resolved)) {
        const current = plainText.get(resolved);
        if (current) {
          if (!canMergeProtocols(server.protocol, current.protocol) || routeName === '') continue;
          let target = merged.get(keyOf(current.bind !== server.bind ? serverPort : current));
          if (!target) {
            target = { ...serverPort, servers: [], routeName };
            merged.set(keyOf(serverPort), target);
            ports.push(target);
          }
          target.servers.push(server);
          if (current.bind !== server.bind) target.routeName = routeName;
          serversByRouteName.set(routeName, [...(serversByRouteName.get(routeName) ?? []), server]);
        } else {
          if (isHttpServer(server)) {
            // Each HTTPS server needs a route name of its own.
            if (routeName === '' || serversByRouteName.has(routeName)) continue;
            serversByRouteName.set(routeName, [server]);
          }
          if (!server.tls) continue;
          const target = merged.get(keyOf(serverPort));
          if (target) target.servers.push(server);
          else {
            const created = { ...serverPort, servers: [server], routeName: '' };
            merged.set(keyOf(serverPort), created);
            ports.push(created);
          }
        }
        continue;
      }
      gatewayPorts.add(resolved);
      if (!isTlsServer(server)) plainText.set(resolved, serverPort);
      if (isHttpServer(server)) serversByRouteName.set(routeName, [server]);
      const created = { ...serverPort, servers: [server], routeName };
      merged.set(keyOf(serverPort), created);
      ports.push(created);
    }
  }
  return { ports, serversByRouteName, autoPassthrough };
}
