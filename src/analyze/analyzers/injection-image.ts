import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import {
  INJECTION_ENABLED,
  INJECTION_LABEL,
  injectorConfigMapName,
  injectorValues,
  PROXY_CONTAINER,
  REVISION_LABEL,
} from './injection-common.js';
import { asArray, asObject } from './util.js';

/**
 * The proxy image an injector ConfigMap would inject: `global.proxy.image` when it names a repository,
 * else `<hub>/<image>:<tag>`. Values that Go's typed JSON decoding would reject give "".
 */
export function injectorProxyImage(cm: Resource): string {
  const values = injectorValues(cm);
  if (!values) return '';
  const global = values['global'];
  if (global !== undefined && global !== null && !asObject(global)) return '';
  const proxy = asObject(global)?.['proxy'];
  if (proxy !== undefined && proxy !== null && !asObject(proxy)) return '';
  const fields = [asObject(global)?.['hub'], asObject(global)?.['tag'], asObject(proxy)?.['image']];
  if (fields.some((f) => f !== undefined && f !== null && typeof f !== 'string')) return '';
  const [hub, tag, image] = fields.map((f) => (typeof f === 'string' ? f : ''));
  if ((image ?? '').includes('/')) return image ?? '';
  return `${hub}/${image}:${tag}`;
}

/** Pods in injected namespaces whose istio-proxy image differs from what their revision's injector uses. */
export const injectionImageAnalyzer: Analyzer = {
  name: 'injection.ImageAnalyzer',
  description: 'Checks the image of auto-injection configured with the running proxies on pods',
  inputs: [KIND.Namespace, KIND.Pod, KIND.ConfigMap],
  analyze(ctx) {
    const imageByConfigMap = new Map<string, string>();
    for (const cm of ctx.snapshot.list(KIND.ConfigMap)) {
      if (cm.metadata.name.startsWith('istio-sidecar-injector')) {
        imageByConfigMap.set(cm.metadata.name, injectorProxyImage(cm));
      }
    }
    if (imageByConfigMap.size === 0) return;

    const revisionByNamespace = new Map<string, string>();
    for (const ns of ctx.snapshot.list(KIND.Namespace)) {
      const labels = ns.metadata.labels ?? {};
      const revision = labels[REVISION_LABEL];
      if (revision !== undefined) revisionByNamespace.set(ns.metadata.name, revision);
      else if (labels[INJECTION_LABEL] === INJECTION_ENABLED)
        revisionByNamespace.set(ns.metadata.name, 'default');
    }

    for (const pod of ctx.snapshot.list(KIND.Pod)) {
      const revision = revisionByNamespace.get(pod.metadata.namespace ?? '');
      if (revision === undefined) continue;
      // A pod that names its own proxy image overrides the injector.
      if ((pod.metadata.annotations?.['sidecar.istio.io/proxyImage'] ?? '') !== '') continue;
      const expected = imageByConfigMap.get(injectorConfigMapName(revision));
      // Without an injector ConfigMap for the revision there is nothing to compare against.
      if (expected === undefined) continue;
      for (const [i, raw] of asArray(specOf(pod)['containers']).entries()) {
        const container = asObject(raw);
        if (container?.['name'] !== PROXY_CONTAINER) continue;
        const image = typeof container['image'] === 'string' ? container['image'] : '';
        if (image !== expected) {
          ctx.report(
            MESSAGE_TYPES.IstioProxyImageMismatch,
            pod,
            [image, expected],
            `{.spec.containers[${i}].image}`,
          );
        }
      }
    }
  },
};
