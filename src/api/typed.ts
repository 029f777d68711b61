/**
 * Typed views of a Resource: which spec (or top-level body) type each kind has, and accessors that hand
 * out a Resource's data under that type after checking the Resource's kind.
 *
 * The view is a cast, not a check: the data is typed as the validated shape, and the validators
 * (validation.ts) remain where wrong shapes are caught. Code that reads objects that failed validation
 * must still expect anything.
 */
import type { KindKey } from './kinds.js';
import { groupKindKey, KIND } from './kinds.js';
import type { ObjectMeta, Resource } from './resource.js';
import { friendlyName, specOf } from './resource.js';
import type {
  ConfigMapBody,
  DeploymentSpec,
  DeploymentStatus,
  EndpointSliceBody,
  EndpointsBody,
  GatewayClassSpec,
  HTTPRouteSpec,
  KubeGatewaySpec,
  NamespaceSpec,
  NamespaceStatus,
  PodSpec,
  PodStatus,
  ReferenceGrantSpec,
  ReplicaSetSpec,
  SecretBody,
  ServiceAccountBody,
  ServiceSpec,
  ServiceStatus,
  WebhookConfigurationBody,
} from './types-kube.js';
import type {
  DestinationRuleSpec,
  EnvoyFilterSpec,
  GatewaySpec,
  ProxyConfigSpec,
  ServiceEntrySpec,
  SidecarSpec,
  VirtualServiceSpec,
  WorkloadEntrySpec,
  WorkloadGroupSpec,
} from './types-networking.js';
import type {
  AuthorizationPolicySpec,
  PeerAuthenticationSpec,
  RequestAuthenticationSpec,
  TelemetrySpec,
  WasmPluginSpec,
} from './types-security.js';

/** The spec type of every kind that has a `spec`, by `KIND` key. */
export interface KindSpecs {
  [KIND.Namespace]: NamespaceSpec;
  [KIND.Service]: ServiceSpec;
  [KIND.Pod]: PodSpec;
  [KIND.Deployment]: DeploymentSpec;
  [KIND.ReplicaSet]: ReplicaSetSpec;
  [KIND.Gateway]: GatewaySpec;
  [KIND.VirtualService]: VirtualServiceSpec;
  [KIND.DestinationRule]: DestinationRuleSpec;
  [KIND.ServiceEntry]: ServiceEntrySpec;
  [KIND.Sidecar]: SidecarSpec;
  [KIND.WorkloadEntry]: WorkloadEntrySpec;
  [KIND.WorkloadGroup]: WorkloadGroupSpec;
  [KIND.EnvoyFilter]: EnvoyFilterSpec;
  [KIND.ProxyConfig]: ProxyConfigSpec;
  [KIND.PeerAuthentication]: PeerAuthenticationSpec;
  [KIND.AuthorizationPolicy]: AuthorizationPolicySpec;
  [KIND.RequestAuthentication]: RequestAuthenticationSpec;
  [KIND.Telemetry]: TelemetrySpec;
  [KIND.WasmPlugin]: WasmPluginSpec;
  [KIND.GatewayClass]: GatewayClassSpec;
  [KIND.KubeGateway]: KubeGatewaySpec;
  [KIND.HTTPRoute]: HTTPRouteSpec;
  [KIND.ReferenceGrant]: ReferenceGrantSpec;
}

/** Keys of the kinds that have a spec. */
export type SpecKindKey = keyof KindSpecs;

/** `SpecOf<typeof KIND.VirtualService>` is `VirtualServiceSpec`. */
export type SpecOf<K extends SpecKindKey> = KindSpecs[K];

/** The status types skiff reads; every other kind's status is left unknown. */
export interface KindStatuses {
  [KIND.Namespace]: NamespaceStatus;
  [KIND.Service]: ServiceStatus;
  [KIND.Pod]: PodStatus;
  [KIND.Deployment]: DeploymentStatus;
}

/** The top-level fields of the kinds without a spec. */
export interface KindBodies {
  [KIND.ServiceAccount]: ServiceAccountBody;
  [KIND.ConfigMap]: ConfigMapBody;
  [KIND.Secret]: SecretBody;
  [KIND.Endpoints]: EndpointsBody;
  [KIND.EndpointSlice]: EndpointSliceBody;
  [KIND.MutatingWebhookConfiguration]: WebhookConfigurationBody;
  [KIND.ValidatingWebhookConfiguration]: WebhookConfigurationBody;
}

/** Every catalogue kind must have either a spec or a body type; this fails to compile otherwise. */
type _EveryKindTyped = AssertNever<Exclude<KindKey, SpecKindKey | keyof KindBodies>>;
type AssertNever<T extends never> = T;

/** The object fields besides apiVersion, kind and metadata. */
export type ObjectBody<K extends KindKey> = K extends SpecKindKey
  ? { spec?: KindSpecs[K]; status?: K extends keyof KindStatuses ? KindStatuses[K] : unknown }
  : K extends keyof KindBodies
    ? KindBodies[K]
    : never;

/** `networking.istio.io/<any version>` for a group, `v1` for the core group (the only version it has). */
export type ApiVersionOf<K extends KindKey> = K extends `/${string}`
  ? 'v1'
  : K extends `${infer Group}/${string}`
    ? `${Group}/${string}`
    : never;

/** `VirtualService` for `networking.istio.io/VirtualService`. */
export type KindNameOf<K extends KindKey> = K extends `${string}/${infer Name}` ? Name : never;

/** A whole object of a kind, as written in a manifest. */
export type TypedObject<K extends KindKey> = {
  apiVersion: ApiVersionOf<K>;
  kind: KindNameOf<K>;
  metadata: ObjectMeta;
} & ObjectBody<K>;

/** Throws unless the Resource is of the given kind; Istio's and the Gateway API's Gateway differ by group. */
function assertKind(r: Resource, kind: KindKey, accessor: string): void {
  const actual = groupKindKey(r.info);
  if (actual !== kind) {
    throw new Error(`${accessor}: expected a ${kind}, got ${friendlyName(r)} (${r.apiVersion})`);
  }
}

/**
 * A Resource's spec typed for its kind. Throws when the Resource is of another kind: that is a
 * programming error, not bad input. An absent spec reads as `{}` (as `specOf` does), so even a
 * field the type calls required may be missing on an object that failed validation.
 */
export function typedSpec<K extends SpecKindKey>(r: Resource, kind: K): KindSpecs[K] {
  assertKind(r, kind, 'typedSpec');
  return specOf(r) as unknown as KindSpecs[K];
}

/**
 * A Resource's whole decoded object typed for its kind, for the kinds without a spec (ConfigMap data,
 * EndpointSlice endpoints ...) and for status. Its `metadata` is as written: `r.metadata` holds the
 * namespace filled in at load time.
 */
export function typedObject<K extends KindKey>(r: Resource, kind: K): TypedObject<K> {
  assertKind(r, kind, 'typedObject');
  return r.object as unknown as TypedObject<K>;
}
