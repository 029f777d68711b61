import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { LabelIndex, indexByNamespace } from './label-index.js';
import { asObject, labelSelectorString, stringMap, workloads } from './util.js';

function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = out.get(k);
    if (group) group.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** More than one Sidecar without a workloadSelector in a namespace: each of them gets IST0111. */
export const sidecarDefaultSelectorAnalyzer: Analyzer = {
  name: 'sidecar.DefaultSelectorAnalyzer',
  description: "Validates that there aren't multiple sidecar resources that have no selector",
  inputs: [KIND.Sidecar],
  analyze(ctx) {
    const selectorless = ctx.snapshot.list(KIND.Sidecar).filter((s) => {
      const selector = specOf(s)['workloadSelector'];
      return selector === undefined || selector === null;
    });
    for (const [ns, sidecars] of groupBy(selectorless, (s) => s.metadata.namespace ?? '')) {
      if (sidecars.length < 2) continue;
      const names = sidecars.map((s) => s.metadata.name);
      for (const s of sidecars)
        ctx.report(MESSAGE_TYPES.MultipleSidecarsWithoutWorkloadSelectors, s, [names, ns]);
    }
  },
};

/**
 * Sidecars whose workloadSelector matches no workload in their namespace (IST0101), and workloads selected
 * by more than one Sidecar (IST0110 on each). Workloads are Pods, or Deployment pod templates when the input
 * has no Pods for them.
 */
export const sidecarSelectorAnalyzer: Analyzer = {
  name: 'sidecar.SelectorAnalyzer',
  description:
    "Validates that sidecars that define a workload selector match at least one pod, and that there aren't multiple sidecar resources that select overlapping pods",
  inputs: [KIND.Sidecar, KIND.Pod],
  analyze(ctx) {
    const workloadsByNamespace = indexByNamespace(
      workloads(ctx.snapshot),
      (w) => w.namespace,
      (group) => new LabelIndex(group, (w) => w.labels),
    );
    const sidecarsByWorkload = new Map<string, { namespace: string; name: string; sidecars: Resource[] }>();
    for (const sidecar of ctx.snapshot.list(KIND.Sidecar)) {
      const labels = stringMap(asObject(asObject(specOf(sidecar)['workloadSelector'])?.['labels']));
      if (Object.keys(labels).length === 0) continue;
      const ns = sidecar.metadata.namespace ?? '';
      const selected = workloadsByNamespace.get(ns)?.matching(labels) ?? [];
      for (const w of selected) {
        const key = `${w.namespace}/${w.name}`;
        const entry = sidecarsByWorkload.get(key) ?? { namespace: w.namespace, name: w.name, sidecars: [] };
        entry.sidecars.push(sidecar);
        sidecarsByWorkload.set(key, entry);
      }
      if (selected.length === 0) {
        const text = labelSelectorString(labels);
        // Istio's `{.spec.workloadSelector.labels.<first key>}`, as segments since label keys hold dots.
        const firstKey = text.slice(0, Math.max(text.indexOf('='), 0));
        ctx.report(
          MESSAGE_TYPES.ReferencedResourceNotFound,
          sidecar,
          ['selector', text],
          ['spec', 'workloadSelector', 'labels', firstKey],
        );
      }
    }
    for (const { namespace, name, sidecars } of sidecarsByWorkload.values()) {
      if (sidecars.length < 2) continue;
      const names = sidecars.map((s) => s.metadata.name);
      for (const s of sidecars) {
        ctx.report(
          MESSAGE_TYPES.ConflictingSidecarWorkloadSelectors,
          s,
          [names, namespace, name],
          '{.metadata.name}',
        );
      }
    }
  },
};
