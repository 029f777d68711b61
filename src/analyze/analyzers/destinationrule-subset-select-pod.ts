import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { LabelIndex } from './label-index.js';
import type { Workload } from './util.js';
import {
  asArray,
  asObject,
  asString,
  lookupDestinationHost,
  serviceHostMap,
  stringMap,
  workloads,
} from './util.js';

/** The node-name label Istio's AugmentLabels gives every endpoint. */
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/**
 * From later Istio (1.27+): each subset of a DestinationRule whose host resolves to a Service or ServiceEntry
 * must select at least one pod, by its labels merged over the ServiceEntry's workload selector. Like Istio,
 * pods in any namespace count, and a DestinationRule whose host resolves to nothing is skipped (later Istio
 * reports it as IST0174, which 1.17 does not have).
 *
 * Deliberate deviations: workloads include Deployment pod templates when no Pods are given (offline
 * manifests); pod labels are augmented with `kubernetes.io/hostname` from `spec.nodeName` as Istio does, but
 * not with locality labels, which need Node objects skiff does not read.
 */
export const destinationRuleSubsetSelectPodAnalyzer: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: 'Checks if pods are selected by subsets in destination rules.',
  inputs: [KIND.DestinationRule, KIND.Pod, KIND.Service, KIND.ServiceEntry],
  analyze(ctx) {
    const hosts = serviceHostMap(ctx.snapshot);
    const pods = new LabelIndex(workloads(ctx.snapshot).map(augmentedLabels), (labels) => labels);
    for (const dr of ctx.snapshot.list(KIND.DestinationRule)) {
      const spec = specOf(dr);
      const service = lookupDestinationHost(
        dr.metadata.namespace ?? '',
        asArray(spec['exportTo']),
        asString(spec['host']),
        hosts,
      );
      if (!service) continue;
      // Keyed by name as in Istio: a repeated subset name keeps the last definition.
      const selectors = new Map<string, Record<string, string>>();
      for (const s of asArray(spec['subsets'])) {
        const subset = asObject(s);
        const labels = stringMap(asObject(subset?.['labels']));
        selectors.set(asString(subset?.['name']), { ...service.workloadLabels, ...labels });
      }
      for (const [name, selector] of selectors) {
        if (pods.first(selector) !== undefined) continue;
        ctx.report(MESSAGE_TYPES.DestinationRuleSubsetNotSelectPods, dr, [name]);
      }
    }
  },
};

function augmentedLabels(w: Workload): Record<string, string> {
  const nodeName = asString(w.podSpec['nodeName']);
  return nodeName === '' ? w.labels : { ...w.labels, [HOSTNAME_LABEL]: nodeName };
}
