/**
 * describe's "Effective PeerAuthentication" section (istioctl/cmd/describe.go describePeerAuthentication
 * with pilot's ComposePeerAuthentication of Istio 1.17): the policies of the root namespace and the
 * workload's namespace whose selector matches the pod (no selector matches every pod), composed mesh →
 * namespace → workload, the oldest policy winning at each level; UNSET inherits.
 */
import type { Resource } from '../api/index.js';
import { KIND } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import { byNamespaceAndName, isObj, objAt, selectorMatches, strAt, stringMap } from './kube.js';

export interface EffectivePeerAuthentication {
  mode: string;
  /** Port → mode, ascending by port. */
  portModes: [number, string][];
}

function modeOf(mtls: unknown): string {
  const mode = strAt(mtls, 'mode');
  return mode === '' ? 'UNSET' : mode;
}

function isUnset(mtls: unknown): boolean {
  return !isObj(mtls) || modeOf(mtls) === 'UNSET';
}

function created(r: Resource): number {
  const t = Date.parse(String(r.metadata.creationTimestamp ?? ''));
  return Number.isFinite(t) ? t : 0;
}

/** The PeerAuthentications that apply to pods with these labels, root namespace's first. */
export function matchedPeerAuthentications(
  snapshot: ConfigSnapshot,
  rootNamespace: string,
  workloadNamespace: string,
  podLabels: Record<string, string>,
): Resource[] {
  const all = [...snapshot.list(KIND.PeerAuthentication)].sort(byNamespaceAndName);
  const inNs = (ns: string) => all.filter((r) => (r.metadata.namespace ?? '') === ns);
  // istioctl lists both namespaces and appends the lists, so a pod in the root namespace sees each twice.
  const candidates = [...inNs(rootNamespace), ...inNs(workloadNamespace)];
  return candidates.filter((r) =>
    selectorMatches(stringMap(objAt(r.object, 'spec', 'selector')?.['matchLabels']), podLabels),
  );
}

export function composePeerAuthentication(
  rootNamespace: string,
  configs: readonly Resource[],
): EffectivePeerAuthentication {
  let mesh: Resource | undefined;
  let namespace: Resource | undefined;
  let workload: Resource | undefined;
  const older = (a: Resource, b: Resource | undefined) => !b || created(a) < created(b);
  for (const cfg of configs) {
    const matchLabels = stringMap(objAt(cfg.object, 'spec', 'selector')?.['matchLabels']);
    const ns = cfg.metadata.namespace ?? '';
    if (Object.keys(matchLabels).length === 0) {
      if (ns === rootNamespace) {
        if (older(cfg, mesh)) mesh = cfg;
      } else if (older(cfg, namespace)) {
        namespace = cfg;
      }
    } else if (ns !== rootNamespace && older(cfg, workload)) {
      workload = cfg;
    }
  }
  let mtls: unknown = { mode: 'PERMISSIVE' };
  for (const level of [mesh, namespace, workload]) {
    const levelMtls = level ? objAt(level.object, 'spec', 'mtls') : undefined;
    if (level && !isUnset(levelMtls)) mtls = levelMtls;
  }
  const portModes: [number, string][] = [];
  const portLevel = workload ? objAt(workload.object, 'spec', 'portLevelMtls') : undefined;
  if (portLevel) {
    for (const [port, portMtls] of Object.entries(portLevel)) {
      const n = Number(port);
      if (!Number.isInteger(n)) continue;
      portModes.push([n, isUnset(portMtls) ? modeOf(mtls) : modeOf(portMtls)]);
    }
    // Go ranges over a map here (random order); ascending ports read best.
    portModes.sort((a, b) => a[0] - b[0]);
  }
  return { mode: modeOf(mtls), portModes };
}

export function printPeerAuthentication(
  effective: EffectivePeerAuthentication,
  matched: readonly Resource[],
): string {
  let out = 'Effective PeerAuthentication:\n';
  out += `   Workload mTLS mode: ${effective.mode}\n`;
  if (effective.portModes.length > 0) {
    out += '   Port Level mTLS mode:\n';
    for (const [port, mode] of effective.portModes) out += `      ${port}: ${mode}\n`;
  }
  if (matched.length > 0) {
    out += 'Applied PeerAuthentication:\n';
    out += `   ${matched.map((r) => `${r.metadata.name}.${r.metadata.namespace ?? ''}`).join(', ')}\n`;
  }
  return out;
}
