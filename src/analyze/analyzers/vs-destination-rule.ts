import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import {
  asArray,
  asObject,
  asString,
  destinationHostPath,
  hostMatches,
  hostToFqdn,
  mirrorDestinations,
  routeDestinations,
} from './util.js';

/** A VirtualService destination naming a subset needs a DestinationRule for that host defining the subset. */
export const virtualServiceDestinationRuleAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  inputs: [KIND.VirtualService, KIND.DestinationRule],
  analyze(ctx) {
    const subsetsByHost = new Map<string, Set<string>>();
    for (const dr of ctx.snapshot.list(KIND.DestinationRule)) {
      const spec = specOf(dr);
      const host = hostToFqdn(dr.metadata.namespace ?? '', asString(spec['host']));
      let subsets = subsetsByHost.get(host);
      if (!subsets) subsetsByHost.set(host, (subsets = new Set()));
      for (const s of asArray(spec['subsets'])) subsets.add(asString(asObject(s)?.['name']));
    }
    const hasSubset = (vsNamespace: string, host: string, subset: string): boolean => {
      if (subset === '') return true;
      const fqdn = hostToFqdn(vsNamespace, host);
      if (subsetsByHost.get(fqdn)?.has(subset)) return true;
      for (const [drHost, subsets] of subsetsByHost) {
        if (subsets.has(subset) && hostMatches(fqdn, drHost)) return true;
      }
      return false;
    };

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
