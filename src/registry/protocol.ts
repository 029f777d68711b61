/**
 * Istio's port protocols (pkg/config/protocol) and how a port's protocol is chosen from a Kubernetes
 * Service port (pkg/config/kube ConvertProtocol) or a ServiceEntry / Gateway port (protocol.Parse).
 */

/** The protocol names as Istio spells them (they show up in generated config and CLI output). */
export const PROTOCOL = {
  GRPC: 'GRPC',
  GRPCWeb: 'GRPC-Web',
  HTTP: 'HTTP',
  HTTPProxy: 'HTTP_PROXY',
  HTTP2: 'HTTP2',
  HTTPS: 'HTTPS',
  TCP: 'TCP',
  TLS: 'TLS',
  UDP: 'UDP',
  Mongo: 'Mongo',
  Redis: 'Redis',
  MySQL: 'MySQL',
  /** No protocol could be read: Istio sniffs the traffic (protocol auto-detection). */
  Unsupported: 'UnsupportedProtocol',
} as const;

export type Protocol = (typeof PROTOCOL)[keyof typeof PROTOCOL];

const BY_LOWER_NAME: ReadonlyMap<string, Protocol> = new Map<string, Protocol>([
  ['tcp', PROTOCOL.TCP],
  ['udp', PROTOCOL.UDP],
  ['grpc', PROTOCOL.GRPC],
  ['grpc-web', PROTOCOL.GRPCWeb],
  ['http', PROTOCOL.HTTP],
  ['http_proxy', PROTOCOL.HTTPProxy],
  ['http2', PROTOCOL.HTTP2],
  ['https', PROTOCOL.HTTPS],
  ['tls', PROTOCOL.TLS],
  ['mongo', PROTOCOL.Mongo],
  ['redis', PROTOCOL.Redis],
  ['mysql', PROTOCOL.MySQL],
]);

/** A protocol name, case-insensitively; anything else (including '') is Unsupported. */
export function parseProtocol(name: unknown): Protocol {
  if (typeof name !== 'string') return PROTOCOL.Unsupported;
  return BY_LOWER_NAME.get(name.toLowerCase()) ?? PROTOCOL.Unsupported;
}

/**
 * Ports whose unnamed traffic Istio treats as TCP instead of sniffing it, because sniffing would break
 * server-first protocols: SMTP, DNS, MySQL, MongoDB.
 */
const WELL_KNOWN_TCP_PORTS: ReadonlySet<number> = new Set([25, 53, 3306, 27017]);

const GRPC_WEB_PREFIX = 'grpc-web';

/**
 * The protocol of a Kubernetes Service port. UDP wins; otherwise `appProtocol` (when present, even if
 * empty) or else the port name is read as `<protocol>[-<suffix>]`, case-insensitively. `grpc-web` is matched
 * as a prefix before the name is cut at its first `-` (so `grpc-web-x` and even `grpc-webx` are gRPC-Web).
 * An unrecognised name means auto-detection, except on the well-known TCP ports.
 */
export function kubePortProtocol(
  port: unknown,
  portName: unknown,
  l4Protocol: unknown,
  appProtocol?: unknown,
): Protocol {
  if (l4Protocol === 'UDP') return PROTOCOL.UDP;
  let name = typeof appProtocol === 'string' ? appProtocol : typeof portName === 'string' ? portName : '';
  if (
    name.length >= GRPC_WEB_PREFIX.length &&
    name.slice(0, GRPC_WEB_PREFIX.length).toLowerCase() === GRPC_WEB_PREFIX
  ) {
    return PROTOCOL.GRPCWeb;
  }
  const dash = name.indexOf('-');
  if (dash >= 0) name = name.slice(0, dash);
  const protocol = parseProtocol(name);
  if (protocol === PROTOCOL.Unsupported && typeof port === 'number' && WELL_KNOWN_TCP_PORTS.has(port)) {
    return PROTOCOL.TCP;
  }
  return protocol;
}

/** Protocols carried over HTTP (Envoy's HTTP connection manager handles them). */
export function isHTTPProtocol(p: Protocol): boolean {
  return (
    p === PROTOCOL.HTTP ||
    p === PROTOCOL.HTTP2 ||
    p === PROTOCOL.HTTPProxy ||
    p === PROTOCOL.GRPC ||
    p === PROTOCOL.GRPCWeb
  );
}

/** Protocols whose upstream connection speaks HTTP/2. */
export function isHTTP2Protocol(p: Protocol): boolean {
  return p === PROTOCOL.HTTP2 || p === PROTOCOL.GRPC || p === PROTOCOL.GRPCWeb;
}

/** Protocols proxied as opaque TCP (including TLS and the L7 protocols Envoy only filters). */
export function isTCPProtocol(p: Protocol): boolean {
  return (
    p === PROTOCOL.TCP ||
    p === PROTOCOL.HTTPS ||
    p === PROTOCOL.TLS ||
    p === PROTOCOL.Mongo ||
    p === PROTOCOL.Redis ||
    p === PROTOCOL.MySQL
  );
}

export function isTLSProtocol(p: Protocol): boolean {
  return p === PROTOCOL.HTTPS || p === PROTOCOL.TLS;
}
