import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { gatewaySelector } from './gateway-selector.js';
import { LabelIndex, SelectorIndex, indexByNamespace } from './label-index.js';
import type { Workload } from './util.js';
import { asArray, asObject, asString, stringMap, workloads } from './util.js';

/** What a Service contributes: its selector and the numbers of its TCP ports. */
interface ServiceTcpPorts {
  namespace: string;
  selector: Record<string, string>;
  tcpPorts: number[];
}

/** What a gateway selector reaches: how many workloads, and the TCP ports of the Services selecting them. */
interface SelectorReach {
  selected: number;
  servicePorts: Set<number>;
}

/**
 * Every Gateway server port must be a TCP port of some Service selecting the gateway's pods; a Gateway
 * selecting no pod at all is reported instead.
 *
 * Deliberate deviations: workloads include Deployment pod templates when no Pods are given (offline
 * manifests), and a Service port without `protocol` counts as TCP, the default the API server fills in.
 *
 * Gateways share a handful of selectors, so what a selector reaches is worked out once per distinct selector.
 */
export const gatewayIngressPortAnalyzer: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: "Checks a gateway's ports against the gateway's Kubernetes service ports",
  inputs: [KIND.Gateway, KIND.Pod, KIND.Service],
  analyze(ctx) {
    const workloadIndex = new LabelIndex(workloads(ctx.snapshot), (w) => w.labels);
    const servicesByNamespace = serviceIndexByNamespace(ctx.snapshot.list(KIND.Service));
    const reachBySelector = new Map<string, SelectorReach>();
    for (const gw of ctx.snapshot.list(KIND.Gateway)) {
      const selector = gatewaySelector(gw);
      const key = selectorKey(selector.labels);
      let reach = reachBySelector.get(key);
      if (!reach) {
        reach = selectorReach(workloadIndex.matching(selector.labels), servicesByNamespace);
        reachBySelector.set(key, reach);
      }
      if (reach.selected === 0) {
        ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, gw, ['selector', selector.text], selector.path);
        continue;
      }
      for (const s of asArray(specOf(gw)['servers'])) {
        const port = asObject(asObject(s)?.['port']);
        if (!port) continue;
        const number = typeof port['number'] === 'number' ? port['number'] : 0;
        if (!reach.servicePorts.has(number)) {
          ctx.report(MESSAGE_TYPES.GatewayPortNotOnWorkload, gw, [selector.text, number], selector.path);
        }
      }
    }
  },
};

/** An exact key for a set of labels (the selector text is ambiguous when values hold `,` or `=`). */
function selectorKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function selectorReach(
  selected: readonly Workload[],
  servicesByNamespace: Map<string, SelectorIndex<ServiceTcpPorts>>,
): SelectorReach {
  const servicePorts = new Set<number>();
  for (const w of selected) {
    for (const svc of servicesByNamespace.get(w.namespace)?.selecting(w.labels) ?? []) {
      for (const port of svc.tcpPorts) servicePorts.add(port);
    }
  }
  return { selected: selected.length, servicePorts };
}

/** Services by namespace, indexed by selector (an empty selector selects every workload of its namespace). */
function serviceIndexByNamespace(services: readonly Resource[]): Map<string, SelectorIndex<ServiceTcpPorts>> {
  const entries = services.map((svc) => {
    const spec = specOf(svc);
    return {
      namespace: svc.metadata.namespace ?? '',
      selector: stringMap(asObject(spec['selector'])),
      tcpPorts: tcpPortNumbers(spec['ports']),
    };
  });
  return indexByNamespace(
    entries,
    (s) => s.namespace,
    (group) => new SelectorIndex(group, (s) => s.selector),
  );
}

/** Port numbers of the TCP ports (a port without `protocol` is TCP). */
function tcpPortNumbers(ports: unknown): number[] {
  const out: number[] = [];
  for (const p of asArray(ports)) {
    const port = asObject(p);
    const protocol = port?.['protocol'] === undefined ? 'TCP' : asString(port['protocol']);
    if (protocol === 'TCP' && typeof port?.['port'] === 'number') out.push(port['port']);
  }
  return out;
}
