import type { JsonObject } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { PROXY_CONTAINER } from './injection-common.js';
import { asArray, asObject, asString, labelSelectorMatches, stringMap } from './util.js';

/** The placeholder image that only the injection webhook replaces. */
const AUTO_IMAGE = 'auto';

function hasAutoImage(podSpec: JsonObject): boolean {
  return asArray(podSpec['containers']).some((raw) => {
    const c = asObject(raw);
    return c?.['name'] === PROXY_CONTAINER && c['image'] === AUTO_IMAGE;
  });
}

/**
 * Pods with an `istio-proxy` container using `image: auto` were never injected (IST0147, whatever the
 * webhooks); Deployments with one warn (IST0146) when no Istio webhook would select their pods.
 */
export const injectionImageAutoAnalyzer: Analyzer = {
  name: 'injection.ImageAutoAnalyzer',
  description: 'Makes sure that Pods and Deployments with `image: auto` are going to be injected',
  inputs: [KIND.Namespace, KIND.Pod, KIND.Deployment, KIND.MutatingWebhookConfiguration],
  analyze(ctx) {
    const istioWebhooks: JsonObject[] = [];
    for (const mwc of ctx.snapshot.list(KIND.MutatingWebhookConfiguration)) {
      for (const raw of asArray(mwc.object['webhooks'])) {
        const wh = asObject(raw);
        if (wh && asString(wh['name']).endsWith('istio.io')) istioWebhooks.push(wh);
      }
    }
    for (const pod of ctx.snapshot.list(KIND.Pod)) {
      if (hasAutoImage(specOf(pod))) {
        ctx.report(MESSAGE_TYPES.ImageAutoWithoutInjectionError, pod, ['Pod', pod.metadata.name]);
      }
    }
    for (const dep of ctx.snapshot.list(KIND.Deployment)) {
      const template = asObject(specOf(dep)['template']);
      if (!hasAutoImage(asObject(template?.['spec']) ?? {})) continue;
      const nsName = dep.metadata.namespace || 'default';
      const nsLabels = ctx.snapshot.get(KIND.Namespace, undefined, nsName)?.metadata.labels ?? {};
      const podLabels = stringMap(asObject(asObject(template?.['metadata'])?.['labels']));
      const injected = istioWebhooks.some(
        (wh) =>
          labelSelectorMatches(wh['namespaceSelector'], nsLabels) &&
          labelSelectorMatches(wh['objectSelector'], podLabels),
      );
      if (!injected) {
        ctx.report(MESSAGE_TYPES.ImageAutoWithoutInjectionWarning, dep, ['Deployment', dep.metadata.name]);
      }
    }
  },
};
