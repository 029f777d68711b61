/**
 * Spec types for Istio 1.17's networking.istio.io kinds, in the JSON (camelCase) shape of the istio/api
 * protos. v1alpha3, v1beta1 and v1 share these protos, so one set of types serves every version.
 *
 * proto3 has no required fields on the wire, so nearly everything is optional; a field is required here
 * only when Istio's validation rejects an object without it (a destination's `host`, a server's `port`).
 * These types describe data after validation: they are a cast, not a check (see `typedSpec`).
 */

/**
 * A `google.protobuf.Duration` as written in YAML: a string that Istio decodes with Go's
 * `time.ParseDuration` (`"0.5s"`, `"500ms"`, `"1h30m"`). The CRD schema refuses bare numbers.
 */
export type Duration = string;

/** Label key to value. */
export type Labels = Record<string, string>;

/** `istio.type.v1beta1.WorkloadSelector`, used by DestinationRule, ProxyConfig and the security kinds. */
export interface MatchLabelsWorkloadSelector {
  /** Empty or absent selects every workload in the namespace (the root namespace: the whole mesh). */
  matchLabels?: Labels;
}

/** networking's own `WorkloadSelector` (Sidecar, ServiceEntry): note `labels`, not `matchLabels`. */
export interface WorkloadSelector {
  labels?: Labels;
}

/** `istio.networking.v1alpha3.Percent`. */
export interface Percent {
  /** 0 to 100; fractions are allowed (0.0001 is the smallest non-zero value Istio accepts). */
  value?: number;
}

/* ---------------------------------------------------------------- VirtualService */

export interface VirtualServiceSpec {
  /** Hosts the routes apply to: short names are resolved in the VirtualService's namespace. */
  hosts?: string[];
  /** `ns/name` or `name` (same namespace); the reserved `mesh` means every sidecar. Absent means `mesh`. */
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  /** `.` (own namespace), `*` (all) or namespace names. */
  exportTo?: string[];
}

export interface HTTPRoute {
  /** Joined with each match's name into the Envoy route name, which access logs show. */
  name?: string;
  /** Conditions within one entry are ANDed; the entries are ORed. */
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  /** Hands matching requests to another VirtualService, which must have no `hosts` of its own. */
  delegate?: Delegate;
  rewrite?: HTTPRewrite;
  timeout?: Duration;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  /** Deprecated integer form of `mirrorPercentage`. */
  mirrorPercent?: number;
  /** Absent means 100% of traffic is mirrored once `mirror` is set. */
  mirrorPercentage?: Percent;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

/**
 * Exactly one of the three (the `never` members make a literal with two of them a type error); a regex
 * uses RE2 syntax and must match the whole value.
 */
export type StringMatch =
  | { exact: string; prefix?: never; regex?: never }
  | { prefix: string; exact?: never; regex?: never }
  | { regex: string; exact?: never; prefix?: never };

/** `{}` in a header map: matches on the header's presence (or absence, in `withoutHeaders`) alone. */
export type PresenceMatch = Record<string, never>;

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** Header names in lower case. */
  headers?: Record<string, StringMatch | PresenceMatch>;
  port?: number;
  sourceLabels?: Labels;
  /** Overrides the VirtualService's `gateways` for this match only. */
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch | PresenceMatch>;
  sourceNamespace?: string;
  statPrefix?: string;
}

export interface Destination {
  /** A registry name; short names are resolved in the namespace of the rule that refers to it. */
  host: string;
  /** Must name a subset of a DestinationRule for the host, or traffic gets no cluster (503 NC). */
  subset?: string;
  /** Required when the host exposes more than one port. */
  port?: PortSelector;
}

export interface PortSelector {
  /** Validation rejects 0 in a route destination, but not in `portLevelSettings`. */
  number?: number;
}

export interface HTTPRouteDestination {
  destination: Destination;
  /** Relative share of traffic. Istio's docs ask for a sum of 100, but validation does not enforce it. */
  weight?: number;
  headers?: Headers;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface Delegate {
  name?: string;
  /** Absent means the delegating VirtualService's namespace. */
  namespace?: string;
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HeaderOperations {
  /** Replaces existing values. */
  set?: Record<string, string>;
  /** Appends to existing values. */
  add?: Record<string, string>;
  remove?: string[];
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  /** Exclusive with `derivePort`. */
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  /** Absent means 301. */
  redirectCode?: number;
}

export interface HTTPDirectResponse {
  status: number;
  body?: HTTPBody;
}

/** Exactly one of `string` or `bytes` (base64, as proto JSON encodes bytes). */
export type HTTPBody = { string: string } | { bytes: string };

export interface HTTPRewrite {
  /** Replaces only the part of the path that the match's `uri` prefix matched. */
  uri?: string;
  authority?: string;
}

export interface HTTPRetry {
  /** 0 disables retries, including Istio's default policy of 2 retries that applies when `retries` is absent. */
  attempts?: number;
  perTryTimeout?: Duration;
  /** Envoy retry-on conditions, comma separated with no spaces; known HTTP status codes are allowed too. */
  retryOn?: string;
  retryRemoteLocalities?: boolean;
}

export interface CorsPolicy {
  /** Deprecated exact-match form of `allowOrigins`. */
  allowOrigin?: string[];
  allowOrigins?: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  /** Whole seconds only: the header Envoy sends carries seconds. */
  maxAge?: Duration;
  allowCredentials?: boolean;
}

export interface HTTPFaultInjection {
  delay?: HTTPFaultDelay;
  abort?: HTTPFaultAbort;
}

export interface HTTPFaultDelay {
  /** Deprecated integer form of `percentage`. */
  percent?: number;
  fixedDelay?: Duration;
  /** Declared by the proto but rejected by validation ("not supported yet"). */
  exponentialDelay?: Duration;
  percentage?: Percent;
}

export interface HTTPFaultAbort {
  httpStatus?: number;
  /** A gRPC status name such as `UNAVAILABLE`. */
  grpcStatus?: string;
  /** Declared by the proto but rejected by validation ("not supported yet"). */
  http2Error?: string;
  percentage?: Percent;
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface TLSMatchAttributes {
  /** Matched against the ClientHello's SNI; must be a subset of the VirtualService's hosts. */
  sniHosts: string[];
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Labels;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceSubnet?: string;
  sourceLabels?: Labels;
  gateways?: string[];
  sourceNamespace?: string;
}

/* ---------------------------------------------------------------- DestinationRule */

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  /** Limits the rule to some client workloads; only honoured for rules in the workloads' namespace. */
  workloadSelector?: MatchLabelsWorkloadSelector;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  /** Overrides for traffic to one port of the host. */
  portLevelSettings?: PortTrafficPolicy[];
  tunnel?: TunnelSettings;
}

export interface PortTrafficPolicy {
  port: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TunnelSettings {
  /** `CONNECT` (the default) or `POST`. */
  protocol?: string;
  targetHost: string;
  targetPort: number;
}

export interface Subset {
  /** Referenced by `Destination.subset`; also part of the Envoy cluster name. */
  name: string;
  /** Selects endpoints of the host's service by pod labels, on top of the service's own selector. */
  labels?: Labels;
  /** Overrides the rule's policy for traffic to this subset. */
  trafficPolicy?: TrafficPolicy;
}

export type SimpleLB =
  'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';

export interface LoadBalancerSettings {
  /** Exclusive with `consistentHash`. */
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** Slow start for new endpoints; only applies to ROUND_ROBIN and LEAST_REQUEST. */
  warmupDurationSecs?: Duration;
}

/** One hash key (header, cookie, source IP or query parameter) and at most one hash algorithm. */
export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: HTTPCookie;
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
  /** Deprecated: use `ringHash.minimumRingSize`. */
  minimumRingSize?: number;
}

export interface HTTPCookie {
  name: string;
  path?: string;
  /** Required by validation (`0s` is accepted): Envoy only sets the cookie itself when it has a ttl. */
  ttl: Duration;
}

export interface LocalityLoadBalancerSetting {
  /** Weighted spreading by locality; exclusive with `failover`. Each `to` map's weights sum to 100. */
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  /** Label keys (or well-known topology keys) ordering endpoints for failover. */
  failoverPriority?: string[];
  enabled?: boolean;
}

export interface ConnectionPoolSettings {
  tcp?: TCPSettings;
  http?: HTTPSettings;
}

export interface TCPSettings {
  maxConnections?: number;
  connectTimeout?: Duration;
  tcpKeepalive?: { probes?: number; time?: Duration; interval?: Duration };
  maxConnectionDuration?: Duration;
}

export interface HTTPSettings {
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  /** 1 disables keep-alive. */
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  idleTimeout?: Duration;
  h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  useClientProtocol?: boolean;
}

export interface OutlierDetection {
  /** Deprecated: use `consecutive5xxErrors`. */
  consecutiveErrors?: number;
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  /** 0 turns 5xx-based ejection off (a wrapper type, so 0 differs from absent). */
  consecutive5xxErrors?: number;
  interval?: Duration;
  baseEjectionTime?: Duration;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export type ClientTLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTLSSettings {
  /** Absent means DISABLE (the enum's zero value). */
  mode?: ClientTLSMode;
  /** File paths on the proxy; with `credentialName` the certificates come from a secret instead. */
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  /** A secret name. Sidecars honour it only when the rule has a `workloadSelector`; gateways always do. */
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

/* ---------------------------------------------------------------- Gateway */

export interface GatewaySpec {
  servers: Server[];
  /**
   * Labels of the gateway workloads, searched in every namespace (unless istiod runs with
   * PILOT_SCOPE_GATEWAY_TO_NAMESPACE). Absent selects every workload.
   */
  selector?: Labels;
}

export interface Server {
  port: GatewayPort;
  /** IP or `unix://` path the listener binds to; absent means 0.0.0.0. */
  bind?: string;
  /** `ns/host`, `./host` or `host` (any namespace); restricts which VirtualServices may bind. */
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  /** Names the route configuration for HTTPS servers, which otherwise share one per port. */
  name?: string;
}

/** The port of a Gateway server or Sidecar listener. */
export interface Port {
  /** 0 (or absent) only for listeners bound to a `unix://` socket. */
  number?: number;
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, REDIS, MYSQL, TCP, TLS or UDP, case insensitive. */
  protocol?: string;
  name?: string;
  /** Deprecated and ignored. */
  targetPort?: number;
}

/** A Gateway server's port: unlike a Sidecar's, its protocol and name are required. */
export interface GatewayPort extends Port {
  protocol: string;
  /** Must be unique across the Gateway's servers. */
  name: string;
}

export type ServerTLSMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL';

export type TLSProtocolVersion = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

export interface ServerTLSSettings {
  /** Sends 301 to HTTPS for plain HTTP requests on this server. */
  httpsRedirect?: boolean;
  /** Absent means PASSTHROUGH (the enum's zero value). */
  mode?: ServerTLSMode;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  /** A secret in the gateway workload's namespace (not the Gateway resource's). */
  credentialName?: string;
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TLSProtocolVersion;
  maxProtocolVersion?: TLSProtocolVersion;
  cipherSuites?: string[];
}

/* ---------------------------------------------------------------- ServiceEntry */

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';

export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface ServiceEntrySpec {
  hosts: string[];
  /** VIPs or CIDRs. Without them a TCP port can only be told apart by port number (validation warns). */
  addresses?: string[];
  ports?: ServiceEntryPort[];
  /** Absent means MESH_EXTERNAL (the enum's zero value). */
  location?: ServiceEntryLocation;
  /** Absent means NONE (the enum's zero value): traffic goes to the original destination IP. */
  resolution?: ServiceEntryResolution;
  /** Exclusive with `workloadSelector`. */
  endpoints?: WorkloadEntrySpec[];
  /** Selects Pods and WorkloadEntries as endpoints; only for MESH_INTERNAL entries. */
  workloadSelector?: WorkloadSelector;
  exportTo?: string[];
  subjectAltNames?: string[];
}

/** `ServicePort` in the proto; renamed here so it does not clash with the Kubernetes ServicePort. */
export interface ServiceEntryPort {
  number: number;
  protocol?: string;
  name: string;
  /** Endpoint port when the endpoints do not give their own. */
  targetPort?: number;
}

/* ---------------------------------------------------------------- WorkloadEntry / WorkloadGroup */

export interface WorkloadEntrySpec {
  /** IP, DNS name, or `unix://` path; a DNS name needs DNS resolution on the ServiceEntry. */
  address: string;
  /** Service port name to this endpoint's port; unlisted ports use the service port's targetPort, else its number. */
  ports?: Record<string, number>;
  labels?: Labels;
  /** Endpoints on another network are reached through that network's gateway. */
  network?: string;
  /** `region/zone/subzone`. */
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface WorkloadGroupSpec {
  /** Labels and annotations copied onto each WorkloadEntry created from the group. */
  metadata?: { labels?: Labels; annotations?: Record<string, string> };
  /** The address is filled in per workload when it registers, so the template leaves it out. */
  template: Omit<WorkloadEntrySpec, 'address'> & { address?: string };
  probe?: ReadinessProbe;
}

export interface ReadinessProbe {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  /** Exactly one of `httpGet`, `tcpSocket`, `exec`. */
  httpGet?: {
    path?: string;
    port: number;
    host?: string;
    /** `HTTP` or `HTTPS` in upper case, whatever the validation message says. */
    scheme?: string;
    httpHeaders?: { name?: string; value?: string }[];
  };
  tcpSocket?: { host?: string; port: number };
  exec?: { command?: string[] };
}

/* ---------------------------------------------------------------- Sidecar */

export type CaptureMode = 'DEFAULT' | 'IPTABLES' | 'NONE';

export interface SidecarSpec {
  /** Absent makes this the namespace's default Sidecar; at most one such Sidecar per namespace. */
  workloadSelector?: WorkloadSelector;
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
}

export interface IstioIngressListener {
  port: Port;
  bind?: string;
  captureMode?: CaptureMode;
  /** `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>` or `unix://path`. */
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
}

export interface IstioEgressListener {
  /** Absent means the catch-all listener; it must then be the last entry. */
  port?: Port;
  bind?: string;
  captureMode?: CaptureMode;
  /** `namespace/dnsName`, where either part may be `*`, `.` (own namespace) or `~` (none). */
  hosts: string[];
}

export interface OutboundTrafficPolicy {
  /**
   * Absent means REGISTRY_ONLY (the enum's zero value), even though the mesh default is ALLOW_ANY: the
   * mesh setting only applies when the whole `outboundTrafficPolicy` is absent.
   */
  mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  /** Only allowed with ALLOW_ANY. */
  egressProxy?: Destination;
}

/* ---------------------------------------------------------------- EnvoyFilter */

export type EnvoyFilterApplyTo =
  | 'INVALID'
  | 'LISTENER'
  | 'FILTER_CHAIN'
  | 'NETWORK_FILTER'
  | 'HTTP_FILTER'
  | 'ROUTE_CONFIGURATION'
  | 'VIRTUAL_HOST'
  | 'HTTP_ROUTE'
  | 'CLUSTER'
  | 'EXTENSION_CONFIG'
  | 'BOOTSTRAP'
  | 'LISTENER_FILTER';

export type EnvoyFilterPatchContext = 'ANY' | 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND' | 'GATEWAY';

export type EnvoyFilterPatchOperation =
  'INVALID' | 'MERGE' | 'ADD' | 'REMOVE' | 'INSERT_BEFORE' | 'INSERT_AFTER' | 'INSERT_FIRST' | 'REPLACE';

export interface EnvoyFilterSpec {
  workloadSelector?: WorkloadSelector;
  configPatches: EnvoyConfigObjectPatch[];
  /** 0 by default; patch sets are applied by ascending priority, then creation time, then name. */
  priority?: number;
}

export interface EnvoyConfigObjectPatch {
  applyTo?: EnvoyFilterApplyTo;
  match?: EnvoyConfigObjectMatch;
  patch?: EnvoyFilterPatch;
}

export interface EnvoyConfigObjectMatch {
  context?: EnvoyFilterPatchContext;
  proxy?: { proxyVersion?: string; metadata?: Record<string, string> };
  /** At most one of `listener`, `routeConfiguration`, `cluster`. */
  listener?: ListenerMatch;
  routeConfiguration?: RouteConfigurationMatch;
  cluster?: { portNumber?: number; service?: string; subset?: string; name?: string };
}

export interface ListenerMatch {
  portNumber?: number;
  portName?: string;
  filterChain?: {
    name?: string;
    sni?: string;
    transportProtocol?: string;
    applicationProtocols?: string;
    filter?: { name?: string; subFilter?: { name?: string } };
    destinationPort?: number;
  };
  listenerFilter?: string;
  name?: string;
}

export interface RouteConfigurationMatch {
  portNumber?: number;
  portName?: string;
  gateway?: string;
  vhost?: {
    name?: string;
    route?: { name?: string; action?: 'ANY' | 'ROUTE' | 'REDIRECT' | 'DIRECT_RESPONSE' };
  };
  name?: string;
}

export interface EnvoyFilterPatch {
  operation?: EnvoyFilterPatchOperation;
  /** Envoy configuration in its own proto JSON; left untyped because it depends on `applyTo` and `@type`. */
  value?: Record<string, unknown>;
  filterClass?: 'UNSPECIFIED' | 'AUTHN' | 'AUTHZ' | 'STATS';
}

/* ---------------------------------------------------------------- ProxyConfig */

export interface ProxyConfigSpec {
  selector?: MatchLabelsWorkloadSelector;
  /** Worker threads: absent means 2, 0 means derive it from the container's CPU limit or request. */
  concurrency?: number;
  environmentVariables?: Record<string, string>;
  /** `default`, `debug` or `distroless`. */
  image?: { imageType?: string };
}
