import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import {
  findConfigMap,
  INJECTION_ENABLED,
  INJECTION_LABEL,
  injectorConfigMapName,
  injectorValues,
  ISTIO_SYSTEM_NAMESPACE,
  PROXY_CONTAINER,
  REVISION_LABEL,
  SIDECAR_INJECT,
  SYSTEM_NAMESPACES,
} from './injection-common.js';
import { asArray, asObject, asString } from './util.js';

/** `sidecarInjectorWebhook.enableNamespacesByDefault` from an injector ConfigMap's values. */
function enablesNamespacesByDefault(values: Record<string, unknown> | undefined): boolean {
  return asObject(values?.['sidecarInjectorWebhook'])?.['enableNamespacesByDefault'] === true;
}

/**
 * Namespaces without an injection label (IST0102, or IST0148 when the injector enables namespaces by
 * default), namespaces with both labels (IST0123), and Pods in injected namespaces without a proxy (IST0103).
 * Only real Pods are checked: a Deployment template has no injected proxy until the webhook runs.
 */
export const injectionAnalyzer: Analyzer = {
  name: 'injection.Analyzer',
  description: 'Checks conditions related to Istio sidecar injection',
  inputs: [KIND.Namespace, KIND.Pod, KIND.ConfigMap],
  analyze(ctx) {
    const injected = new Set<string>();
    // Istio keeps the last value found across namespaces, so a namespace whose revision has no
    // injector ConfigMap inherits the previous namespace's setting.
    let enableByDefault = false;
    for (const ns of ctx.snapshot.list(KIND.Namespace)) {
      const name = ns.metadata.name;
      if (name === ISTIO_SYSTEM_NAMESPACE || SYSTEM_NAMESPACES.has(name)) continue;
      const labels = ns.metadata.labels ?? {};
      const injectionLabel = labels[INJECTION_LABEL] ?? '';
      const hasRevision = Object.prototype.hasOwnProperty.call(labels, REVISION_LABEL);
      const cm = findConfigMap(ctx.snapshot, injectorConfigMapName(labels[REVISION_LABEL]));
      if (cm) enableByDefault = enablesNamespacesByDefault(injectorValues(cm));

      if (injectionLabel === '' && !hasRevision) {
        if (enableByDefault) {
          ctx.report(MESSAGE_TYPES.NamespaceInjectionEnabledByDefault, ns, []);
        } else {
          ctx.report(MESSAGE_TYPES.NamespaceNotInjected, ns, [name, name], '{.metadata.name}');
        }
        continue;
      }
      if (hasRevision && injectionLabel !== '') {
        ctx.report(MESSAGE_TYPES.NamespaceMultipleInjectionLabels, ns, [name, name], '{.metadata.name}');
        continue;
      }
      // A legacy label other than "enabled" deliberately opts out of injection.
      if (!hasRevision && injectionLabel !== INJECTION_ENABLED) continue;
      injected.add(name);
    }

    for (const pod of ctx.snapshot.list(KIND.Pod)) {
      const ns = pod.metadata.namespace ?? '';
      if (!injected.has(ns)) continue;
      const inject =
        pod.metadata.labels?.[SIDECAR_INJECT] ?? pod.metadata.annotations?.[SIDECAR_INJECT] ?? '';
      if (inject.toLowerCase() === 'false') continue;
      const spec = specOf(pod);
      if (spec['hostNetwork'] === true) continue;
      const proxy = asArray(spec['containers'])
        .map(asObject)
        .find((c) => c?.['name'] === PROXY_CONTAINER);
      if (!proxy || asString(proxy['image']) === '') {
        ctx.report(MESSAGE_TYPES.PodMissingProxy, pod, [`${ns}/${pod.metadata.name}`]);
      }
    }
  },
};
