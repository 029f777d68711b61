import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { gatewaySelector } from './gateway-selector.js';
import { asArray, asObject, asString, selectorMatches, stringMap, workloads } from './util.js';

/**
 * Every Gateway server port must be a TCP port of some Service selecting the gateway's pods; a Gateway
 * selecting no pod at all is reported instead.
 *
 * Deliberate deviations: workloads include Deployment pod templates when no Pods are given (offline
 * manifests), and a Service port without `protocol` counts as TCP, the default the API server fills in.
 */
export const gatewayIngressPortAnalyzer: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: "Checks a gateway's ports against the gateway's Kubernetes service ports",
  inputs: [KIND.Gateway, KIND.Pod, KIND.Service],
  analyze(ctx) {
    const all = workloads(ctx.snapshot);
    const services = ctx.snapshot.list(KIND.Service);
    for (const gw of ctx.snapshot.list(KIND.Gateway)) {
      const selector = gatewaySelector(gw);
      const servicePorts = new Set<number>();
      let selected = 0;
      for (const w of all) {
        if (!selectorMatches(selector.labels, w.labels)) continue;
        selected++;
        for (const svc of services) {
          if ((svc.metadata.namespace ?? '') !== w.namespace) continue;
          const svcSpec = specOf(svc);
          if (!selectorMatches(stringMap(asObject(svcSpec['selector'])), w.labels)) continue;
          for (const p of asArray(svcSpec['ports'])) {
            const port = asObject(p);
            const protocol = port?.['protocol'] === undefined ? 'TCP' : asString(port['protocol']);
            if (protocol === 'TCP' && typeof port?.['port'] === 'number') servicePorts.add(port['port']);
          }
        }
      }
      if (selected === 0) {
        ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, gw, ['selector', selector.text], selector.path);
        continue;
      }
      for (const s of asArray(specOf(gw)['servers'])) {
        const port = asObject(asObject(s)?.['port']);
        if (!port) continue;
        const number = typeof port['number'] === 'number' ? port['number'] : 0;
        if (!servicePorts.has(number)) {
          ctx.report(MESSAGE_TYPES.GatewayPortNotOnWorkload, gw, [selector.text, number], selector.path);
        }
      }
    }
  },
};
