/**
 * Spec types for Istio 1.17's security.istio.io, telemetry.istio.io and extensions.istio.io kinds, in the
 * JSON (camelCase) shape of the istio/api protos (v1beta1 and v1 of the security kinds share their protos).
 * As in types-networking.ts, a field is required only when Istio's validation rejects its absence.
 */
import type { Duration, MatchLabelsWorkloadSelector } from './types-networking.js';

/* ---------------------------------------------------------------- PeerAuthentication */

/** UNSET inherits from the parent scope (workload → namespace → mesh); the mesh default is PERMISSIVE. */
export type MutualTLSMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  /** Absent means the whole namespace (the whole mesh in the root namespace). */
  selector?: MatchLabelsWorkloadSelector;
  mtls?: { mode?: MutualTLSMode };
  /**
   * Keyed by the workload's port (the Service's targetPort, not its port). Only allowed with a selector,
   * since a port means nothing at namespace or mesh scope.
   */
  portLevelMtls?: Record<string, { mode?: MutualTLSMode }>;
}

/* ---------------------------------------------------------------- AuthorizationPolicy */

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationPolicySpec {
  selector?: MatchLabelsWorkloadSelector;
  /** Absent with ALLOW denies everything; `[{}]` matches every request. DENY and CUSTOM need rules. */
  rules?: Rule[];
  /** Absent means ALLOW (the enum's zero value). */
  action?: AuthorizationAction;
  /** The mesh config `extensionProviders` entry that decides; only with CUSTOM. */
  provider?: { name?: string };
}

/** Matches when one `from` entry, one `to` entry and every `when` condition match (absent lists match). */
export interface Rule {
  from?: { source: Source }[];
  to?: { operation: Operation }[];
  when?: Condition[];
}

/** At least one field must be set. */
export interface Source {
  /** `<trust domain>/ns/<namespace>/sa/<service account>`; needs mTLS to be known. */
  principals?: string[];
  notPrincipals?: string[];
  /** `<iss>/<sub>` of a JWT validated by a RequestAuthentication. */
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  /** The peer's namespace, taken from its mTLS certificate. */
  namespaces?: string[];
  notNamespaces?: string[];
  /** The direct peer's IP or CIDR. */
  ipBlocks?: string[];
  notIpBlocks?: string[];
  /** The original client IP, from X-Forwarded-For or the proxy protocol. */
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

/**
 * At least one field must be set. `hosts`, `methods` and `paths` exist only for HTTP: on a TCP port an
 * ALLOW rule using them never matches, while a DENY rule is applied without them (so it denies more).
 */
export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  /** Ports as strings: the proto field is a string list. */
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface Condition {
  /** An attribute such as `request.headers[x-user]`, `source.ip` or `request.auth.claims[groups]`. */
  key: string;
  /** At least one of `values` and `notValues` must be set. */
  values?: string[];
  notValues?: string[];
}

/* ---------------------------------------------------------------- RequestAuthentication */

export interface RequestAuthenticationSpec {
  selector?: MatchLabelsWorkloadSelector;
  /**
   * A request with a token that fails every rule is rejected, but a request without a token is let
   * through; pair with an AuthorizationPolicy to require one.
   */
  jwtRules?: JWTRule[];
}

export interface JWTRule {
  issuer: string;
  /** Absent accepts tokens whose audience is the service's name. */
  audiences?: string[];
  /** Optional when the issuer supports OpenID discovery; exclusive with `jwks`. */
  jwksUri?: string;
  /** An inline JSON Web Key Set (a JSON document in a string). */
  jwks?: string;
  /** Absent means `Authorization: Bearer` and then the `access_token` query parameter. */
  fromHeaders?: { name: string; prefix?: string }[];
  fromParams?: string[];
  /** Header that receives the verified payload, base64-encoded. */
  outputPayloadToHeader?: string;
  /** Keeps the token on the request forwarded upstream; by default it is removed. */
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: { header: string; claim: string }[];
}

/* ---------------------------------------------------------------- Telemetry */

/** Which side of a connection a setting applies to. */
export type WorkloadMode = 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER';

/** Names a mesh config `extensionProviders` entry; the provider's own settings live there. */
export interface ProviderRef {
  name: string;
}

export interface TelemetrySpec {
  selector?: MatchLabelsWorkloadSelector;
  /** More than one entry is not supported (validation warns). */
  tracing?: Tracing[];
  metrics?: Metrics[];
  accessLogging?: AccessLogging[];
}

export interface Tracing {
  match?: { mode?: WorkloadMode };
  /** Only one provider is supported (validation warns on more). */
  providers?: ProviderRef[];
  /** 0 to 100. */
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, CustomTag>;
  useRequestIdForTraceSampling?: boolean;
}

/** Exactly one of the three sources. */
export interface CustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
}

export type IstioMetric =
  | 'ALL_METRICS'
  | 'REQUEST_COUNT'
  | 'REQUEST_DURATION'
  | 'REQUEST_SIZE'
  | 'RESPONSE_SIZE'
  | 'TCP_OPENED_CONNECTIONS'
  | 'TCP_CLOSED_CONNECTIONS'
  | 'TCP_SENT_BYTES'
  | 'TCP_RECEIVED_BYTES'
  | 'GRPC_REQUEST_MESSAGES'
  | 'GRPC_RESPONSE_MESSAGES';

export interface Metrics {
  providers?: ProviderRef[];
  overrides?: MetricsOverrides[];
  reportingInterval?: Duration;
}

export interface MetricsOverrides {
  /** Absent selects every metric in both modes. */
  match?: {
    /** Exclusive with `customMetric`. */
    metric?: IstioMetric;
    customMetric?: string;
    mode?: WorkloadMode;
  };
  disabled?: boolean;
  /** Tag name to override. An UPSERT (the default) needs a `value`, a CEL expression. */
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

export interface AccessLogging {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  disabled?: boolean;
  /** A CEL expression; only matching requests are logged. */
  filter?: { expression?: string };
}

/* ---------------------------------------------------------------- WasmPlugin */

/** Where in the HTTP filter chain the plugin goes; unspecified means just before the router. */
export type PluginPhase = 'UNSPECIFIED_PHASE' | 'AUTHN' | 'AUTHZ' | 'STATS';

/** Mixed case, as in the proto (these mirror Kubernetes' imagePullPolicy values). */
export type PullPolicy = 'UNSPECIFIED_POLICY' | 'IfNotPresent' | 'Always';

export interface WasmPluginSpec {
  selector?: MatchLabelsWorkloadSelector;
  /** `oci://`, `file://` or `http(s)://`; no scheme means OCI. */
  url: string;
  /** Lower-case hex checksum the downloaded module must match. */
  sha256?: string;
  imagePullPolicy?: PullPolicy;
  /** A pull secret in the WasmPlugin's namespace. */
  imagePullSecret?: string;
  verificationKey?: string;
  /** Passed to the plugin as is; its shape is the plugin's business. */
  pluginConfig?: Record<string, unknown>;
  pluginName?: string;
  phase?: PluginPhase;
  /** Higher runs first within a phase. */
  priority?: number;
  vmConfig?: { env?: WasmEnvVar[] };
  /** Absent applies the plugin to all traffic. */
  match?: { mode?: 'UNDEFINED' | 'CLIENT' | 'SERVER' | 'CLIENT_AND_SERVER'; ports?: { number: number }[] }[];
}

/** `EnvVar` in the proto; renamed so it does not clash with the Kubernetes container EnvVar. */
export interface WasmEnvVar {
  name: string;
  /** HOST reads the variable from the proxy's environment; INLINE (the default) uses `value`. */
  valueFrom?: 'INLINE' | 'HOST';
  value?: string;
}
