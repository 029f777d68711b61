import type { Resource } from '../../api/index.js';
import { specOf } from '../../api/index.js';
import { asObject, labelSelectorString, stringMap } from './util.js';

/** A Gateway's workload selector as the gateway analyzers report it. */
export interface GatewaySelector {
  labels: Record<string, string>;
  /** Kubernetes' selector string, `k=v,k2=v2` sorted by key; empty for an empty selector. */
  text: string;
  /**
   * Istio's `{.spec.selector.<first key>}` line reference; undefined for an empty selector, whose path
   * (`{.spec.selector.}`) Istio never finds.
   */
  path: string | undefined;
}

export function gatewaySelector(gw: Resource): GatewaySelector {
  const labels = stringMap(asObject(specOf(gw)['selector']));
  const text = labelSelectorString(labels);
  const eq = text.indexOf('=');
  return { labels, text, path: eq < 0 ? undefined : `{.spec.selector.${text.slice(0, eq)}}` };
}
