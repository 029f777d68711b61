/**
 * The catalogue of kinds skiff understands: the Kubernetes core subset the mesh reads, Istio's CRDs
 * in every API version Istio 1.17 serves (plus the v1 versions later releases added, so manifests
 * written for newer Istio still load), and the Kubernetes Gateway API kinds.
 */
export interface KindInfo {
  group: string;
  kind: string;
  versions: readonly string[];
  /** Lower-case plural used in REST paths and in Istio's config metadata paths. */
  plural: string;
  namespaced: boolean;
  /** True for kinds whose spec is an Istio API proto (validated by the Istio webhook rules). */
  istio: boolean;
}

const NETWORKING_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'] as const;
const SECURITY_VERSIONS = ['v1beta1', 'v1'] as const;
const GATEWAY_API_VERSIONS = ['v1alpha2', 'v1beta1', 'v1'] as const;

function core(kind: string, plural: string, namespaced = true): KindInfo {
  return { group: '', kind, versions: ['v1'], plural, namespaced, istio: false };
}

function k8s(group: string, kind: string, plural: string, versions: readonly string[] = ['v1']): KindInfo {
  return { group, kind, versions, plural, namespaced: true, istio: false };
}

function istio(group: string, kind: string, plural: string, versions: readonly string[]): KindInfo {
  return { group, kind, versions, plural, namespaced: true, istio: true };
}

export const KINDS: readonly KindInfo[] = [
  core('Namespace', 'namespaces', false),
  core('Service', 'services'),
  core('Pod', 'pods'),
  core('ServiceAccount', 'serviceaccounts'),
  core('ConfigMap', 'configmaps'),
  core('Secret', 'secrets'),
  core('Endpoints', 'endpoints'),
  k8s('apps', 'Deployment', 'deployments'),
  k8s('apps', 'ReplicaSet', 'replicasets'),
  k8s('discovery.k8s.io', 'EndpointSlice', 'endpointslices'),
  {
    ...k8s('admissionregistration.k8s.io', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations'),
    namespaced: false,
  },
  {
    ...k8s(
      'admissionregistration.k8s.io',
      'ValidatingWebhookConfiguration',
      'validatingwebhookconfigurations',
    ),
    namespaced: false,
  },
  istio('networking.istio.io', 'Gateway', 'gateways', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'VirtualService', 'virtualservices', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'DestinationRule', 'destinationrules', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'ServiceEntry', 'serviceentries', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'Sidecar', 'sidecars', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'WorkloadEntry', 'workloadentries', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'WorkloadGroup', 'workloadgroups', NETWORKING_VERSIONS),
  istio('networking.istio.io', 'EnvoyFilter', 'envoyfilters', ['v1alpha3']),
  istio('networking.istio.io', 'ProxyConfig', 'proxyconfigs', ['v1beta1']),
  istio('security.istio.io', 'PeerAuthentication', 'peerauthentications', SECURITY_VERSIONS),
  istio('security.istio.io', 'AuthorizationPolicy', 'authorizationpolicies', SECURITY_VERSIONS),
  istio('security.istio.io', 'RequestAuthentication', 'requestauthentications', SECURITY_VERSIONS),
  istio('telemetry.istio.io', 'Telemetry', 'telemetries', ['v1alpha1', 'v1']),
  istio('extensions.istio.io', 'WasmPlugin', 'wasmplugins', ['v1alpha1']),
  {
    ...k8s('gateway.networking.k8s.io', 'GatewayClass', 'gatewayclasses', GATEWAY_API_VERSIONS),
    namespaced: false,
  },
  k8s('gateway.networking.k8s.io', 'Gateway', 'gateways', GATEWAY_API_VERSIONS),
  k8s('gateway.networking.k8s.io', 'HTTPRoute', 'httproutes', GATEWAY_API_VERSIONS),
  k8s('gateway.networking.k8s.io', 'ReferenceGrant', 'referencegrants', ['v1alpha2', 'v1beta1']),
];

const byGroupKind = new Map<string, KindInfo>(KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export type KindLookup =
  | { ok: true; info: KindInfo; version: string }
  | { ok: false; reason: 'unknown-kind' | 'unknown-version'; info?: KindInfo };

export function lookupKind(apiVersion: string, kind: string): KindLookup {
  const { group, version } = splitApiVersion(apiVersion);
  const info = byGroupKind.get(`${group}/${kind}`);
  if (!info) return { ok: false, reason: 'unknown-kind' };
  if (!info.versions.includes(version)) return { ok: false, reason: 'unknown-version', info };
  return { ok: true, info, version };
}

export function kindInfo(group: string, kind: string): KindInfo | undefined {
  return byGroupKind.get(`${group}/${kind}`);
}

/** A key that tells Istio's `Gateway` from the Gateway API's. */
export function groupKindKey(info: Pick<KindInfo, 'group' | 'kind'>): string {
  return `${info.group}/${info.kind}`;
}

/** Group/kind keys for lookups; Istio's `Gateway` and the Gateway API's differ by group. */
export const KIND = {
  Namespace: '/Namespace',
  Service: '/Service',
  Pod: '/Pod',
  ServiceAccount: '/ServiceAccount',
  ConfigMap: '/ConfigMap',
  Secret: '/Secret',
  Endpoints: '/Endpoints',
  Deployment: 'apps/Deployment',
  ReplicaSet: 'apps/ReplicaSet',
  EndpointSlice: 'discovery.k8s.io/EndpointSlice',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  Gateway: 'networking.istio.io/Gateway',
  VirtualService: 'networking.istio.io/VirtualService',
  DestinationRule: 'networking.istio.io/DestinationRule',
  ServiceEntry: 'networking.istio.io/ServiceEntry',
  Sidecar: 'networking.istio.io/Sidecar',
  WorkloadEntry: 'networking.istio.io/WorkloadEntry',
  WorkloadGroup: 'networking.istio.io/WorkloadGroup',
  EnvoyFilter: 'networking.istio.io/EnvoyFilter',
  ProxyConfig: 'networking.istio.io/ProxyConfig',
  PeerAuthentication: 'security.istio.io/PeerAuthentication',
  AuthorizationPolicy: 'security.istio.io/AuthorizationPolicy',
  RequestAuthentication: 'security.istio.io/RequestAuthentication',
  Telemetry: 'telemetry.istio.io/Telemetry',
  WasmPlugin: 'extensions.istio.io/WasmPlugin',
  GatewayClass: 'gateway.networking.k8s.io/GatewayClass',
  KubeGateway: 'gateway.networking.k8s.io/Gateway',
  HTTPRoute: 'gateway.networking.k8s.io/HTTPRoute',
  ReferenceGrant: 'gateway.networking.k8s.io/ReferenceGrant',
} as const;

export type KindKey = (typeof KIND)[keyof typeof KIND];
