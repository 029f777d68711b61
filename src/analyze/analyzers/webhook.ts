import type { JsonObject, Resource } from '../../api/index.js';
import { KIND } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString, labelSelectorMatches } from './util.js';

const REVISION_LABEL = 'istio.io/rev';

interface NamedWebhook {
  /** `<configuration name>/<webhook name>`. */
  key: string;
  config: Resource;
  webhook: JsonObject;
}

/** Revisions a configuration serves: its own label, and istio.io/rev in its webhooks' selectors. */
function revisionsOf(config: Resource, webhooks: readonly JsonObject[]): string[] {
  const out = new Set<string>();
  const own = config.metadata.labels?.[REVISION_LABEL];
  if (own !== undefined) out.add(own);
  for (const wh of webhooks) {
    for (const field of ['namespaceSelector', 'objectSelector']) {
      const selector = asObject(wh[field]);
      if (!selector) continue;
      const matched = asObject(selector['matchLabels'])?.[REVISION_LABEL];
      if (matched !== undefined) out.add(String(matched));
      for (const raw of asArray(selector['matchExpressions'])) {
        const expr = asObject(raw);
        if (expr?.['key'] === REVISION_LABEL) for (const v of asArray(expr['values'])) out.add(String(v));
      }
    }
  }
  return [...out];
}

/** Every namespace-label and object-label combination an injection webhook is expected to decide. */
function labelPermutations(
  base: readonly Record<string, string>[],
  revisions: readonly string[],
): Record<string, string>[] {
  return [...base, ...revisions.flatMap((rev) => base.map((b) => ({ ...b, [REVISION_LABEL]: rev })))];
}

const NAMESPACE_LABELS: readonly Record<string, string>[] = [
  {},
  { 'istio-injection': 'enabled' },
  { 'istio-injection': 'disabled' },
];
const OBJECT_LABELS: readonly Record<string, string>[] = [
  {},
  { 'sidecar.istio.io/inject': 'true' },
  { 'sidecar.istio.io/inject': 'false' },
];

/**
 * Istio's mutating webhooks must select each namespace/pod label combination at most once (else injection
 * may run twice), and each must point at a Service that exists.
 */
export const webhookAnalyzer: Analyzer = {
  name: 'webhook.Analyzer',
  description: 'Checks the validity of Istio webhooks',
  inputs: [KIND.MutatingWebhookConfiguration, KIND.Service],
  analyze(ctx) {
    const hooks: NamedWebhook[] = [];
    const revisions = new Set<string>();
    for (const config of ctx.snapshot.list(KIND.MutatingWebhookConfiguration)) {
      const webhooks = asArray(config.object['webhooks'])
        .map(asObject)
        .filter((w): w is JsonObject => w !== undefined);
      const revs = revisionsOf(config, webhooks);
      const istio = webhooks.some((w) => asString(w['name']).endsWith('istio.io'));
      if (revs.length === 0 && !istio) continue;
      for (const wh of webhooks) {
        hooks.push({ key: `${config.metadata.name}/${asString(wh['name'])}`, config, webhook: wh });
      }
      for (const r of revs) revisions.add(r);
    }

    const revs = [...revisions];
    for (const nsLabels of labelPermutations(NAMESPACE_LABELS, revs)) {
      for (const objectLabels of labelPermutations(OBJECT_LABELS, revs)) {
        const matches = new Map<string, Resource>();
        for (const h of hooks) {
          if (
            labelSelectorMatches(h.webhook['namespaceSelector'], nsLabels) &&
            labelSelectorMatches(h.webhook['objectSelector'], objectLabels)
          ) {
            matches.set(h.key, h.config);
          }
        }
        if (matches.size < 2) continue;
        for (const [key, config] of matches) {
          const others = [...matches.keys()].filter((k) => k !== key).sort();
          ctx.report(MESSAGE_TYPES.InvalidWebhook, config, [
            `Webhook overlaps with others: [${others.join(' ')}]. This may cause injection to occur twice.`,
          ]);
        }
      }
    }

    for (const h of hooks) {
      const service = asObject(asObject(h.webhook['clientConfig'])?.['service']);
      // A webhook reached by URL has no Service to check.
      if (!service) continue;
      const ns = asString(service['namespace']);
      const name = asString(service['name']);
      if (!ctx.snapshot.get(KIND.Service, ns, name)) {
        const fullName = ns === '' ? name : `${ns}/${name}`;
        ctx.report(MESSAGE_TYPES.InvalidWebhook, h.config, [
          `Injector refers to a control plane service that does not exist: ${fullName}.`,
        ]);
      }
    }
  },
};
