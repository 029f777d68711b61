import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject } from './util.js';

/**
 * Deprecated fields Istio 1.17 still flags: `fault.delay.percent` in VirtualService HTTP routes and
 * `outboundTrafficPolicy.egressProxy` in Sidecars. (Istio also flags removed rbac.istio.io CRDs; skiff does
 * not load CustomResourceDefinitions, and 1.17 has no deprecated Istio kinds.)
 */
export const deprecationAnalyzer: Analyzer = {
  name: 'deprecation.DeprecationAnalyzer',
  description: 'Checks for deprecated Istio types and fields',
  inputs: [KIND.VirtualService, KIND.Sidecar],
  analyze(ctx) {
    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      for (const rule of asArray(specOf(vs)['http'])) {
        const percent = asObject(asObject(asObject(rule)?.['fault'])?.['delay'])?.['percent'];
        if (typeof percent === 'number' && percent > 0) {
          ctx.report(MESSAGE_TYPES.Deprecated, vs, [
            'HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
          ]);
        }
      }
    }
    for (const sidecar of ctx.snapshot.list(KIND.Sidecar)) {
      const egressProxy = asObject(specOf(sidecar)['outboundTrafficPolicy'])?.['egressProxy'];
      if (egressProxy !== undefined && egressProxy !== null) {
        ctx.report(MESSAGE_TYPES.Deprecated, sidecar, ['OutboundTrafficPolicy.EgressProxy ignored']);
      }
    }
  },
};
