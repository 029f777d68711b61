/**
 * What the control plane lists and watches on a Kubernetes API server: the core kinds the service registry
 * reads, the mesh config ConfigMap, and Istio's (and the Gateway API's) CRDs. Each kind names the versions to
 * try in order: the first one the server serves is watched, so clusters with older or newer Istio CRDs work.
 */
import type { KindInfo } from '../api/index.js';
import { kindInfo } from '../api/index.js';

export interface KubeKind {
  info: KindInfo;
  /** Served versions to try, preferred first. */
  versions: readonly string[];
  /** A CRD that may not be installed: a 404 makes the kind empty (with one warning) instead of an error. */
  optional: boolean;
  /** Watch only this namespace. */
  namespace?: string;
  fieldSelector?: string;
}

/** istiod's mesh config ConfigMap and its key (`istio-system/istio`, `mesh`). */
export const MESH_CONFIGMAP = { namespace: 'istio-system', name: 'istio', key: 'mesh' } as const;

/**
 * Secrets istiod's credential controller skips: Helm release records and service-account tokens
 * (pilot/pkg/credentials/kube/secrets.go), which are many and never gateway credentials.
 */
const SECRETS_FIELD_SELECTOR = 'type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token';

const NETWORKING = ['v1beta1', 'v1alpha3', 'v1'] as const;
const SECURITY = ['v1beta1', 'v1'] as const;
const GATEWAY_API = ['v1beta1', 'v1', 'v1alpha2'] as const;

function kind(
  group: string,
  name: string,
  versions: readonly string[],
  extra: Partial<Omit<KubeKind, 'info' | 'versions'>> = {},
): KubeKind {
  const info = kindInfo(group, name);
  if (!info) throw new Error(`unknown kind ${group}/${name}`);
  return { info, versions, optional: group !== '', ...extra };
}

/** The kinds a KubeConfigSource watches, with the mesh ConfigMap in `meshNamespace`. */
export function watchedKinds(meshNamespace: string = MESH_CONFIGMAP.namespace): KubeKind[] {
  return [
    kind('', 'Namespace', ['v1']),
    kind('', 'Service', ['v1']),
    // The registry builds endpoints from Pods; Endpoints changes only trigger EDS pushes, as istiod's
    // endpoint controller would. (istiod 1.17 reads EndpointSlices on new clusters; skiff's lab writes
    // Endpoints, and watching both would announce every change twice.)
    kind('', 'Endpoints', ['v1']),
    kind('', 'Pod', ['v1']),
    kind('', 'Secret', ['v1'], { fieldSelector: SECRETS_FIELD_SELECTOR }),
    kind('', 'ConfigMap', ['v1'], {
      namespace: meshNamespace,
      fieldSelector: `metadata.name=${MESH_CONFIGMAP.name}`,
    }),
    kind('networking.istio.io', 'Gateway', NETWORKING),
    kind('networking.istio.io', 'VirtualService', NETWORKING),
    kind('networking.istio.io', 'DestinationRule', NETWORKING),
    kind('networking.istio.io', 'ServiceEntry', NETWORKING),
    kind('networking.istio.io', 'Sidecar', NETWORKING),
    kind('networking.istio.io', 'WorkloadEntry', NETWORKING),
    kind('networking.istio.io', 'WorkloadGroup', NETWORKING),
    kind('networking.istio.io', 'EnvoyFilter', ['v1alpha3']),
    kind('networking.istio.io', 'ProxyConfig', ['v1beta1']),
    kind('security.istio.io', 'PeerAuthentication', SECURITY),
    kind('security.istio.io', 'AuthorizationPolicy', SECURITY),
    kind('security.istio.io', 'RequestAuthentication', SECURITY),
    kind('telemetry.istio.io', 'Telemetry', ['v1alpha1', 'v1']),
    kind('extensions.istio.io', 'WasmPlugin', ['v1alpha1']),
    kind('gateway.networking.k8s.io', 'GatewayClass', GATEWAY_API),
    kind('gateway.networking.k8s.io', 'Gateway', GATEWAY_API),
    kind('gateway.networking.k8s.io', 'HTTPRoute', GATEWAY_API),
    kind('gateway.networking.k8s.io', 'ReferenceGrant', ['v1beta1', 'v1alpha2']),
  ];
}

/** The REST path of a kind's collection at `version` (`/api/v1/services`, `/apis/<group>/<version>/...`). */
export function collectionPath(k: KubeKind, version: string): string {
  const base = k.info.group === '' ? `/api/${version}` : `/apis/${k.info.group}/${version}`;
  const ns =
    k.namespace !== undefined && k.info.namespaced ? `/namespaces/${encodeURIComponent(k.namespace)}` : '';
  return `${base}${ns}/${k.info.plural}`;
}

/** `Service`, `networking.istio.io/VirtualService`: how a kind is named in log lines. */
export function kindLabel(k: KubeKind): string {
  return k.info.group === '' ? k.info.kind : `${k.info.group}/${k.info.kind}`;
}
