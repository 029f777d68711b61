import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { LabelIndex } from './label-index.js';
import {
  MESH_GATEWAY,
  asArray,
  asObject,
  fullNameString,
  selectorMatches,
  shortOrFullName,
  stringMap,
  workloads,
} from './util.js';

/** Header names that route on a validated JWT claim. */
const JWT_CLAIM_HEADER_PREFIX = '@request.auth.claims.';

/** Istio looks for RequestAuthentications here and in the pod's namespace; it is not the mesh root namespace. */
const ISTIO_SYSTEM_NAMESPACE = 'istio-system';

/**
 * Routing on `@request.auth.claims.*` headers only works when a RequestAuthentication validates the JWT on the
 * gateway's pods; each selected pod without one is reported.
 *
 * Deliberate deviation: workloads include Deployment pod templates when no Pods are given (offline
 * manifests); the message then names the Deployment where Istio names a pod.
 */
export const vsJwtClaimRouteAnalyzer: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description:
    'Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication',
  inputs: [KIND.VirtualService, KIND.RequestAuthentication, KIND.Gateway, KIND.Pod],
  analyze(ctx) {
    const authnSelectors = new Map<string, Record<string, string>[]>();
    for (const ra of ctx.snapshot.list(KIND.RequestAuthentication)) {
      const ns = ra.metadata.namespace ?? '';
      const selector = stringMap(asObject(asObject(specOf(ra)['selector'])?.['matchLabels']));
      const list = authnSelectors.get(ns);
      if (list) list.push(selector);
      else authnSelectors.set(ns, [selector]);
    }
    const all = new LabelIndex(workloads(ctx.snapshot), (w) => w.labels);

    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      const claimKey = jwtClaimRouteKey(vs);
      if (claimKey === undefined) continue;
      const ns = vs.metadata.namespace ?? '';
      for (const g of asArray(specOf(vs)['gateways'])) {
        if (typeof g !== 'string' || g === MESH_GATEWAY) continue;
        const gwName = shortOrFullName(ns, g);
        // A missing gateway is virtualservice.GatewayAnalyzer's to report.
        const gw = ctx.snapshot.get(KIND.Gateway, gwName.namespace, gwName.name);
        if (!gw) continue;
        const gwSelector = stringMap(asObject(specOf(gw)['selector']));
        for (const w of all.matching(gwSelector)) {
          const candidates = [
            ...(authnSelectors.get(ISTIO_SYSTEM_NAMESPACE) ?? []),
            ...(authnSelectors.get(w.namespace) ?? []),
          ];
          if (candidates.some((s) => selectorMatches(s, w.labels))) continue;
          ctx.report(MESSAGE_TYPES.JwtClaimBasedRoutingWithoutRequestAuthN, vs, [
            claimKey,
            fullNameString(gwName),
            w.name,
          ]);
        }
      }
    }
  },
};

/** The first `headers` / `withoutHeaders` match key routing on a JWT claim, in document order. */
function jwtClaimRouteKey(vs: Resource): string | undefined {
  for (const rule of asArray(specOf(vs)['http'])) {
    for (const m of asArray(asObject(rule)?.['match'])) {
      const match = asObject(m);
      for (const field of ['headers', 'withoutHeaders']) {
        const key = Object.keys(asObject(match?.[field]) ?? {}).find((k) =>
          k.startsWith(JWT_CLAIM_HEADER_PREFIX),
        );
        if (key !== undefined) return key;
      }
    }
  }
  return undefined;
}
