// Light structural checks for the Kubernetes Gateway API kinds the mesh reads (Gateway, HTTPRoute): the
// CRD OpenAPI schema rules (gateway-api v0.6, the release Istio 1.17 ships) that the API server enforces
// before any webhook sees the object, with its messages. Messages hold the part after `<path>: `.
import type { Obj, Sink } from './validate-networking-common.js';
import { asObj, field, list } from './validate-networking-common.js';
import { invalid, required } from './validate-kube.js';

const LISTENER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LISTENER_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A string property with minLength 1 (and an optional pattern); reports Required when absent. */
function requiredString(v: Sink, path: string, value: unknown, pattern?: [RegExp, string]): void {
  if (value === undefined || value === null) {
    v.error(path, required());
    return;
  }
  if (typeof value !== 'string') return;
  if (value.length === 0) {
    v.error(path, invalid(value, `${path} in body should be at least 1 chars long`));
    return;
  }
  if (pattern && !pattern[0].test(value))
    v.error(path, invalid(value, `${path} in body should match '${pattern[1]}'`));
}

/** An integer property with minimum/maximum; `isRequired` reports a missing value. */
function boundedInt(
  v: Sink,
  path: string,
  value: unknown,
  min: number,
  max: number,
  isRequired: boolean,
): void {
  if (value === undefined || value === null) {
    if (isRequired) v.error(path, required());
    return;
  }
  if (typeof value !== 'number') return;
  if (value < min) v.error(path, invalid(value, `${path} in body should be greater than or equal to ${min}`));
  else if (value > max)
    v.error(path, invalid(value, `${path} in body should be less than or equal to ${max}`));
}

function maxItems(v: Sink, path: string, items: readonly unknown[], max: number): void {
  if (items.length > max) v.error(path, `Too many: ${items.length}: must have at most ${max} items`);
}

/** The spec itself is required by both CRDs. */
function specPresent(object: Obj, v: Sink): boolean {
  const spec = object['spec'];
  if (spec === undefined || spec === null) {
    v.error('spec', required());
    return false;
  }
  return true;
}

/** Gateway API Gateway: class name, at least one listener, listener name/port/protocol, unique names. */
export function validateKubeGateway(spec: Obj, v: Sink, object: Obj): void {
  if (!specPresent(object, v)) return;
  requiredString(v, 'spec.gatewayClassName', field(spec, 'gatewayClassName'));
  const rawListeners = field(spec, 'listeners');
  if (rawListeners === undefined || rawListeners === null) {
    v.error('spec.listeners', required());
    return;
  }
  const listeners = list(spec, 'listeners');
  if (Array.isArray(rawListeners) && listeners.length === 0) {
    v.error('spec.listeners', invalid(0, 'spec.listeners in body should have at least 1 items'));
  }
  maxItems(v, 'spec.listeners', listeners, 64);
  const names = new Set<string>();
  for (const [i, raw] of listeners.entries()) {
    const listener = asObj(raw) ?? {};
    const path = `spec.listeners[${i}]`;
    const name = field(listener, 'name');
    requiredString(v, `${path}.name`, name, [LISTENER_NAME, LISTENER_NAME_PATTERN]);
    if (typeof name === 'string') {
      // listeners is a list-map keyed by name.
      if (names.has(name))
        v.error(path, `Duplicate value: map[string]interface {}{"name":${JSON.stringify(name)}}`);
      names.add(name);
    }
    boundedInt(v, `${path}.port`, field(listener, 'port'), 1, 65535, true);
    requiredString(v, `${path}.protocol`, field(listener, 'protocol'));
  }
}

/** Gateway API HTTPRoute: parentRef names, backendRef names, ports and weights, list sizes. */
export function validateHTTPRoute(spec: Obj, v: Sink, object: Obj): void {
  if (!specPresent(object, v)) return;
  const parentRefs = list(spec, 'parentRefs');
  maxItems(v, 'spec.parentRefs', parentRefs, 32);
  for (const [i, raw] of parentRefs.entries()) {
    requiredString(v, `spec.parentRefs[${i}].name`, field(asObj(raw) ?? {}, 'name'));
  }
  maxItems(v, 'spec.hostnames', list(spec, 'hostnames'), 16);
  const rules = list(spec, 'rules');
  maxItems(v, 'spec.rules', rules, 16);
  for (const [i, rawRule] of rules.entries()) {
    const backendRefs = list(asObj(rawRule) ?? {}, 'backendRefs');
    maxItems(v, `spec.rules[${i}].backendRefs`, backendRefs, 16);
    for (const [j, raw] of backendRefs.entries()) {
      const ref = asObj(raw) ?? {};
      const path = `spec.rules[${i}].backendRefs[${j}]`;
      requiredString(v, `${path}.name`, field(ref, 'name'));
      boundedInt(v, `${path}.port`, field(ref, 'port'), 1, 65535, false);
      boundedInt(v, `${path}.weight`, field(ref, 'weight'), 0, 1000000, false);
    }
  }
}
