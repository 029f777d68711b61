import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject } from './util.js';

/** The UID the sidecar proxy runs as; applications must not use it. */
const PROXY_UID = 1337;

/** Containers Istio itself runs, which legitimately use the proxy UID. */
const ISTIO_CONTAINERS = new Set(['istio-proxy', 'istio-operator']);

/** Istio's IsIstioControlPlane: an `istio` label, or `release: istio`. */
export function isIstioControlPlane(r: Resource): boolean {
  const labels = r.metadata.labels ?? {};
  return Object.prototype.hasOwnProperty.call(labels, 'istio') || labels['release'] === 'istio';
}

function runsAsProxyUid(holder: unknown): boolean {
  return asObject(asObject(holder)?.['securityContext'])?.['runAsUser'] === PROXY_UID;
}

/**
 * A pod-level or application-container securityContext with the proxy UID. Istio reports each one, but the
 * reports are identical and de-duplicated, so one is enough.
 */
function usesProxyUid(podSpec: JsonObject): boolean {
  if (runsAsProxyUid(podSpec)) return true;
  return asArray(podSpec['containers']).some((raw) => {
    const name = asObject(raw)?.['name'];
    return !(typeof name === 'string' && ISTIO_CONTAINERS.has(name)) && runsAsProxyUid(raw);
  });
}

/** Pods and Deployment pod templates whose securityContext runs as UID 1337. */
export const applicationUidAnalyzer: Analyzer = {
  name: 'applicationUID.Analyzer',
  description: 'Checks invalid application UID',
  inputs: [KIND.Pod, KIND.Deployment],
  analyze(ctx) {
    for (const pod of ctx.snapshot.list(KIND.Pod)) {
      if (isIstioControlPlane(pod)) continue;
      if (usesProxyUid(specOf(pod))) ctx.report(MESSAGE_TYPES.InvalidApplicationUID, pod, []);
    }
    for (const dep of ctx.snapshot.list(KIND.Deployment)) {
      if (isIstioControlPlane(dep)) continue;
      const podSpec = asObject(asObject(specOf(dep)['template'])?.['spec']) ?? {};
      if (usesProxyUid(podSpec)) ctx.report(MESSAGE_TYPES.InvalidApplicationUID, dep, []);
    }
  },
};
