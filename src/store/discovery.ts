// The API's discovery documents (/api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>) and the
// mapping from REST paths to kinds, built from the kind catalogue in src/api.
import type { KindInfo } from '../api/index.js';
import { KINDS } from '../api/index.js';

/** kubectl's short names for the kinds skiff serves (from the API server and Istio's CRDs). */
const SHORT_NAMES: Record<string, readonly string[]> = {
  '/Namespace': ['ns'],
  '/Service': ['svc'],
  '/Pod': ['po'],
  '/ServiceAccount': ['sa'],
  '/ConfigMap': ['cm'],
  '/Endpoints': ['ep'],
  'apps/Deployment': ['deploy'],
  'apps/ReplicaSet': ['rs'],
  'networking.istio.io/Gateway': ['gw'],
  'networking.istio.io/VirtualService': ['vs'],
  'networking.istio.io/DestinationRule': ['dr'],
  'networking.istio.io/ServiceEntry': ['se'],
  'networking.istio.io/WorkloadEntry': ['we'],
  'networking.istio.io/WorkloadGroup': ['wg'],
  'security.istio.io/PeerAuthentication': ['pa'],
  'security.istio.io/RequestAuthentication': ['ra'],
  'gateway.networking.k8s.io/GatewayClass': ['gc'],
  'gateway.networking.k8s.io/Gateway': ['gtw'],
};

export function shortNames(info: Pick<KindInfo, 'group' | 'kind'>): readonly string[] {
  return SHORT_NAMES[`${info.group}/${info.kind}`] ?? [];
}

/** `v1`, `v1beta1`, `v1alpha3` ... sorted as Kubernetes prefers them: GA, then beta, then alpha, newest first. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const [ra, rb] = [rank(a), rank(b)];
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function groupVersion(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** The kind served at /api(s)/<group>/<version>/.../<plural>, if any. */
export function kindForPlural(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of KINDS) {
    if (k.group === '') continue;
    const versions = out.get(k.group) ?? [];
    for (const v of k.versions) if (!versions.includes(v)) versions.push(v);
    out.set(k.group, versions);
  }
  for (const versions of out.values()) versions.sort(compareVersions);
  return out;
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDocument(name: string, versions: readonly string[]): object {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function apiGroupList(): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups()].map(([name, versions]) => groupDocument(name, versions)),
  };
}

export function apiGroup(group: string): object | undefined {
  const versions = groups().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group, versions) } : undefined;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function apiResourceList(group: string, version: string): object | undefined {
  const kinds = KINDS.filter((k) => k.group === group && k.versions.includes(version));
  if (kinds.length === 0) return undefined;
  const resources: object[] = [];
  for (const k of kinds) {
    const names = shortNames(k);
    resources.push({
      name: k.plural,
      singularName: k.kind.toLowerCase(),
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...(names.length > 0 ? { shortNames: names } : {}),
    });
    resources.push({
      name: `${k.plural}/status`,
      singularName: '',
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: ['get', 'patch', 'update'],
    });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
}

export function versionInfo(): object {
  return {
    major: '1',
    minor: '26',
    gitVersion: 'v1.26.0-skiff',
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '',
    goVersion: '',
    compiler: 'skiff',
    platform: `${process.platform}/${process.arch}`,
  };
}
