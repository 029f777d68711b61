import type { Resource } from '../../api/index.js';
import { KIND } from '../../api/index.js';
import type { Analyzer, AnalysisContext } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { lookupAnnotation } from './annotations-table.js';
import { annotationValueError } from './annotations-validate.js';

const SIDECAR_INJECT = 'sidecar.istio.io/inject';

/** Extra words for IST0135 on annotations that have a named replacement. */
const DEPRECATION_EXTRA: Readonly<Record<string, string>> = {
  [SIDECAR_INJECT]: ' in favor of the "sidecar.istio.io/inject" label',
};

/** Istio's istioAnnotation: in an `*istio.io` domain, plus the documented Kubernetes ingress class. */
export function isIstioAnnotation(name: string): boolean {
  if (name === 'kubernetes.io/ingress.class') return true;
  return (name.split('/')[0] ?? '').endsWith('istio.io');
}

/**
 * Messages point at the resource's first line: Istio computes `{.metadata.annotations.<name>}`'s line but sets it
 * on a copy of the message (util.AddLineNumber takes the message by value), so it never shows.
 */
function checkAnnotations(ctx: AnalysisContext, r: Resource, kind: string): void {
  const annotations = r.metadata.annotations;
  if (!annotations || typeof annotations !== 'object') return;
  for (const [name, rawValue] of Object.entries(annotations)) {
    if (!isIstioAnnotation(name)) continue;
    const def = lookupAnnotation(name);
    if (!def) {
      ctx.report(MESSAGE_TYPES.UnknownAnnotation, r, [name]);
      continue;
    }
    if (def.deprecated) {
      // Keeping the deprecated annotation next to its replacement label is deliberate; Istio stays quiet.
      const hasReplacement = name === SIDECAR_INJECT && r.metadata.labels?.[SIDECAR_INJECT] !== undefined;
      if (!hasReplacement) {
        ctx.report(MESSAGE_TYPES.DeprecatedAnnotation, r, [name, DEPRECATION_EXTRA[name] ?? '']);
      }
    }
    if (def.resources.includes('Any')) continue;
    if (!(def.resources as readonly string[]).includes(kind)) {
      ctx.report(MESSAGE_TYPES.MisplacedAnnotation, r, [name, def.resources.join(', ')]);
      continue;
    }
    const problem = annotationValueError(name, typeof rawValue === 'string' ? rawValue : String(rawValue));
    if (problem !== undefined) ctx.report(MESSAGE_TYPES.InvalidAnnotation, r, [name, problem]);
  }
}

/** Unknown, deprecated, misplaced and invalid Istio annotations on Namespaces, Services, Pods and Deployments. */
export const annotationsK8sAnalyzer: Analyzer = {
  name: 'annotations.K8sAnalyzer',
  description: 'Checks for misplaced and invalid Istio annotations in Kubernetes resources',
  inputs: [KIND.Namespace, KIND.Service, KIND.Pod, KIND.Deployment],
  analyze(ctx) {
    const kinds = [
      [KIND.Namespace, 'Namespace'],
      [KIND.Service, 'Service'],
      [KIND.Pod, 'Pod'],
      [KIND.Deployment, 'Deployment'],
    ] as const;
    for (const [key, kind] of kinds) {
      for (const r of ctx.snapshot.list(key)) checkAnnotations(ctx, r, kind);
    }
  },
};
