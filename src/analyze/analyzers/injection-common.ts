/** Names and lookups shared by the sidecar-injection analyzers (Istio's analyzers/util constants). */
import type { Resource } from '../../api/index.js';
import { KIND } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import { asObject } from './util.js';

export const INJECTION_LABEL = 'istio-injection';
export const INJECTION_ENABLED = 'enabled';
export const REVISION_LABEL = 'istio.io/rev';
export const SIDECAR_INJECT = 'sidecar.istio.io/inject';
export const PROXY_CONTAINER = 'istio-proxy';

/** Namespaces the injector never touches (Istio 1.17 inject.IgnoredNamespaces). */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'local-path-storage',
]);

export const ISTIO_SYSTEM_NAMESPACE = 'istio-system';

/** The injector ConfigMap of a revision: `istio-sidecar-injector`, or `istio-sidecar-injector-<rev>`. */
export function injectorConfigMapName(revision: string | undefined): string {
  return revision === undefined || revision === '' || revision === 'default'
    ? 'istio-sidecar-injector'
    : `istio-sidecar-injector-${revision}`;
}

/** The injector ConfigMap's `values` key decoded from JSON, or undefined when absent or not JSON. */
export function injectorValues(cm: Resource): Record<string, unknown> | undefined {
  const text = asObject(cm.object['data'])?.['values'];
  if (typeof text !== 'string') return undefined;
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The first ConfigMap (any namespace) with the given name. */
export function findConfigMap(snapshot: ConfigSnapshot, name: string): Resource | undefined {
  return snapshot.list(KIND.ConfigMap).find((cm) => cm.metadata.name === name);
}
