import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import {
  asArray,
  asObject,
  asString,
  destinationHostPath,
  mirrorDestinations,
  resourceNameFromHost,
  routeDestinations,
} from './util.js';

/**
 * A VirtualService destination naming a subset needs a DestinationRule for that host defining the subset.
 * Hosts are compared as Istio 1.17 does: `name.ns.svc.cluster.local` or a short name in the object's own
 * namespace, without wildcard matching, so a subset from a wildcard DestinationRule is still reported.
 */
export const virtualServiceDestinationRuleAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  inputs: [KIND.VirtualService, KIND.DestinationRule],
  analyze(ctx) {
    const hostSubsets = new Set<string>();
    const key = (namespace: string, host: string, subset: string): string => {
      const name = resourceNameFromHost(namespace, host);
      return JSON.stringify([name.namespace, name.name, subset]);
    };
    for (const dr of ctx.snapshot.list(KIND.DestinationRule)) {
      const spec = specOf(dr);
      for (const s of asArray(spec['subsets'])) {
        hostSubsets.add(
          key(dr.metadata.namespace ?? '', asString(spec['host']), asString(asObject(s)?.['name'])),
        );
      }
    }
    const hasSubset = (vsNamespace: string, host: string, subset: string): boolean =>
      subset === '' || hostSubsets.has(key(vsNamespace, host, subset));

    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      const ns = vs.metadata.namespace ?? '';
      for (const d of routeDestinations(vs)) {
        const host = asString(d.destination['host']);
        const subset = asString(d.destination['subset']);
        if (!hasSubset(ns, host, subset)) {
          ctx.report(
            MESSAGE_TYPES.ReferencedResourceNotFound,
            vs,
            ['host+subset in destinationrule', `${host}+${subset}`],
            destinationHostPath(d),
          );
        }
      }
      for (const m of mirrorDestinations(vs)) {
        const host = asString(m.destination['host']);
        const subset = asString(m.destination['subset']);
        if (!hasSubset(ns, host, subset)) {
          ctx.report(
            MESSAGE_TYPES.ReferencedResourceNotFound,
            vs,
            ['mirror+subset in destinationrule', `${host}+${subset}`],
            m.path,
          );
        }
      }
    }
  },
};
