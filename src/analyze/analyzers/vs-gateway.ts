import type { Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { MESH_GATEWAY, asArray, asObject, fullNameString, hostMatches, shortOrFullName } from './util.js';

/**
 * Each gateway a VirtualService binds to (other than `mesh`) must exist, and at least one of the
 * VirtualService's hosts must match one of the hosts the gateway's servers offer to its namespace.
 * A missing gateway gets both messages, as in Istio.
 */
export const vsGatewayAnalyzer: Analyzer = {
  name: 'virtualservice.GatewayAnalyzer',
  description: 'Checks the gateways associated with each virtual service',
  inputs: [KIND.Gateway, KIND.VirtualService],
  analyze(ctx) {
    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      const spec = specOf(vs);
      const ns = vs.metadata.namespace ?? '';
      const vsHosts = asArray(spec['hosts']).filter((h): h is string => typeof h === 'string');
      asArray(spec['gateways']).forEach((g, i) => {
        if (typeof g !== 'string' || g === MESH_GATEWAY) return;
        const path = `{.spec.gateways[${i}]}`;
        const gwName = shortOrFullName(ns, g);
        const gw = ctx.snapshot.get(KIND.Gateway, gwName.namespace, gwName.name);
        if (!gw) ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, vs, ['gateway', g], path);
        if (!gw || !hostOfferedByGateway(gw, vsHosts, ns)) {
          ctx.report(
            MESSAGE_TYPES.VirtualServiceHostNotFoundInGateway,
            vs,
            [vsHosts, fullName(vs), fullNameString(gwName)],
            path,
          );
        }
      });
    }
  },
};

/** True when a host of the gateway, as visible from `vsNamespace`, matches one of the VirtualService's hosts. */
function hostOfferedByGateway(gw: Resource, vsHosts: readonly string[], vsNamespace: string): boolean {
  const gwNamespace = gw.metadata.namespace ?? '';
  const gatewayHosts: string[] = [];
  for (const s of asArray(specOf(gw)['servers'])) {
    const hosts = asArray(asObject(s)?.['hosts']).filter((h): h is string => typeof h === 'string');
    gatewayHosts.push(...normalizeServerHosts(hosts, gwNamespace));
  }
  const visible = hostsForNamespace(gatewayHosts, vsNamespace);
  return visible.some((gh) => vsHosts.some((vh) => hostMatches(gh, vh)));
}

/**
 * Istio's sanitizeServerHostNamespace: `./host` becomes `<gateway ns>/host`, `*\/host` becomes `host`, and
 * `*\/*` makes the whole server offer just `*`.
 */
function normalizeServerHosts(hosts: readonly string[], gwNamespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    if (!h.includes('/')) {
      out.push(h);
      continue;
    }
    const [prefix = '', rest = ''] = h.split('/');
    if (prefix === '.') out.push(`${gwNamespace}/${rest}`);
    else if (prefix === '*') {
      if (rest === '*') return ['*'];
      out.push(rest);
    } else out.push(h);
  }
  return out;
}

/** Istio's host.NamesForNamespace: `ns/host` entries for another namespace drop out, the prefix is stripped. */
function hostsForNamespace(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    if (!h.includes('/')) {
      out.push(h);
      continue;
    }
    const [prefix = '', rest = ''] = h.split('/');
    if (prefix !== namespace && prefix !== '*') continue;
    out.push(rest);
  }
  return out;
}
