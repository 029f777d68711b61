import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { gatewaySelector } from './gateway-selector.js';
import { LabelIndex } from './label-index.js';
import { asArray, asObject, asString, shortOrFullName, workloads } from './util.js';

/**
 * A server's `tls.credentialName` must name a Secret in the namespace of the gateway's workload (not of the
 * Gateway object); a Gateway selecting no workload is reported instead.
 *
 * Deliberate deviation: workloads include Deployment pod templates when no Pods are given (offline manifests).
 */
export const gatewaySecretAnalyzer: Analyzer = {
  name: 'gateway.SecretAnalyzer',
  description: "Checks a gateway's referenced secrets for correctness",
  inputs: [KIND.Gateway, KIND.Pod, KIND.Secret],
  analyze(ctx) {
    const all = new LabelIndex(workloads(ctx.snapshot), (w) => w.labels);
    for (const gw of ctx.snapshot.list(KIND.Gateway)) {
      const selector = gatewaySelector(gw);
      // Istio takes the first selected pod's namespace, assuming a gateway's pods share one.
      const workloadNamespace = all.first(selector.labels)?.namespace ?? '';
      if (workloadNamespace === '') {
        ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, gw, ['selector', selector.text], selector.path);
        continue;
      }
      asArray(specOf(gw)['servers']).forEach((s, i) => {
        const credentialName = asString(asObject(asObject(s)?.['tls'])?.['credentialName']);
        if (credentialName === '') return;
        const secret = shortOrFullName(workloadNamespace, credentialName);
        if (!ctx.snapshot.get(KIND.Secret, secret.namespace, secret.name)) {
          ctx.report(
            MESSAGE_TYPES.ReferencedResourceNotFound,
            gw,
            ['credentialName', credentialName],
            `{.spec.servers[${i}].tls.credentialName}`,
          );
        }
      });
    }
  },
};
