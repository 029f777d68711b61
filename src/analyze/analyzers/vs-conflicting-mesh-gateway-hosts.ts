import type { Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { HostIndex } from './host-index.js';
import { MESH_GATEWAY, asArray, hostMatches, hostToFqdn, isExportToAll } from './util.js';

/**
 * VirtualServices bound to the `mesh` gateway (explicitly, or by listing no gateways) that define the same
 * host for the same audience make sidecar routing undefined. Hosts are keyed `scope/fqdn`, the scope being
 * `*` (exported everywhere) or a namespace; a namespace-scoped host also clashes with matching `*`-scoped ones.
 * Each VirtualService is reported once, for the first clash found; Istio walks a Go map there, so which
 * clash it names when there are several is not deterministic in istioctl; skiff takes input order.
 */
export const vsConflictingMeshGatewayHostsAnalyzer: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  inputs: [KIND.VirtualService],
  analyze(ctx) {
    const byScopedHost = meshGatewayHosts(ctx.snapshot.list(KIND.VirtualService));
    const exportedToAll = exportedToAllHosts(byScopedHost);
    const reported = new Set<Resource>();
    for (const [scopedHost, list] of byScopedHost) {
      const { scope, host } = splitScopedHost(scopedHost);
      const clashing = [...list];
      if (scope !== '*') {
        for (const other of exportedToAll.candidates([host])) {
          if (hostMatches(host, other.host)) clashing.push(...other.virtualServices);
        }
      }
      if (clashing.length < 2) continue;
      const names = clashing.map(fullName).join(',');
      for (const vs of clashing) {
        if (reported.has(vs)) continue;
        reported.add(vs);
        ctx.report(
          MESSAGE_TYPES.ConflictingMeshGatewayVirtualServiceHosts,
          vs,
          [names, scopedHost],
          '{.metadata.name}',
        );
      }
    }
  },
};

/** `scope/fqdn` -> the mesh-bound VirtualServices defining that host for that scope, in input order. */
function meshGatewayHosts(virtualServices: readonly Resource[]): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const vs of virtualServices) {
    const spec = specOf(vs);
    const gateways = asArray(spec['gateways']);
    if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) continue;
    const ns = vs.metadata.namespace ?? '';
    const exportTo = asArray(spec['exportTo']);
    const scopes = isExportToAll(exportTo)
      ? ['*']
      : [...new Set(exportTo.map((e) => (e === '.' ? ns : String(e))))];
    for (const scope of scopes) {
      for (const h of asArray(spec['hosts'])) {
        if (typeof h !== 'string') continue;
        const key = `${scope}/${hostToFqdn(ns, h)}`;
        const list = out.get(key);
        if (list) list.push(vs);
        else out.set(key, [vs]);
      }
    }
  }
  return out;
}

/** The `*`-scoped hosts, in map order, indexed by host: a namespace-scoped host also clashes with these. */
function exportedToAllHosts(
  byScopedHost: Map<string, Resource[]>,
): HostIndex<{ host: string; virtualServices: Resource[] }> {
  const entries: { host: string; virtualServices: Resource[] }[] = [];
  for (const [key, virtualServices] of byScopedHost) {
    const { scope, host } = splitScopedHost(key);
    if (scope === '*') entries.push({ host, virtualServices });
  }
  return new HostIndex(entries, (e) => [e.host]);
}

function splitScopedHost(key: string): { scope: string; host: string } {
  const slash = key.indexOf('/');
  return { scope: key.slice(0, slash), host: key.slice(slash + 1) };
}
