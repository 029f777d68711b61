/**
 * The RBAC filters Istio 1.17 puts on a proxy for the AuthorizationPolicies that select it
 * (pilot/pkg/model/authorization.go ListAuthorizationPolicies, pilot/pkg/networking/plugin/authz,
 * pilot/pkg/security/authz/builder/builder.go):
 *
 * - policies come from the root namespace (mesh-wide) and the proxy's namespace, oldest first, and apply
 *   when their `selector.matchLabels` is a subset of the workload's labels (none: the whole namespace);
 * - one filter per action, in the order AUDIT (`LOG`), DENY, ALLOW; each policy rule is the Envoy policy
 *   `ns[<ns>]-policy[<name>]-rule[<i>]`, a policy without rules one that never matches;
 * - `istio.io/dry-run: "true"` policies go to `shadowRules` (stat prefix `istio_dry_run_allow_`/`_deny_`);
 * - HTTP filters go into inbound and gateway connection managers (not sidecar outbound); TCP chains get
 *   `envoy.filters.network.rbac` with the stat prefix `tcp.`;
 * - CUSTOM (ext_authz) is not supported by skiff: such policies are skipped with a warning log line.
 *
 * An ALLOW filter whose policies all dropped out still denies everything, which is Istio's default deny.
 */
import type { Resource } from '../../api/index.js';
import { KIND } from '../../api/index.js';
import { labelsMatch } from '../../registry/index.js';
import type { Json } from './clusters.js';
import type { ListenerClass, ListenerProxy } from './listener-filters.js';
import { isRecord, istioVersionAtLeast, stringLabels, strings } from './listener-filters.js';
import type { RbacAction } from './authz-model.js';
import { buildModel, generatePolicy, policyMatchNever } from './authz-model.js';
import type { PushContext } from './push-context.js';
import { memoized } from './push-context.js';

export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';
export const TYPE_HTTP_RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const TYPE_NETWORK_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
export const RBAC_TCP_STAT_PREFIX = 'tcp.';
const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const SHADOW_STAT_PREFIX: Partial<Record<RbacAction, string>> = {
  ALLOW: 'istio_dry_run_allow_',
  DENY: 'istio_dry_run_deny_',
};

/** One AuthorizationPolicy as the builder sees it (model.AuthorizationPolicy). */
export interface AuthzPolicy {
  name: string;
  namespace: string;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
}

export interface AuthzPoliciesResult {
  custom: AuthzPolicy[];
  deny: AuthzPolicy[];
  allow: AuthzPolicy[];
  audit: AuthzPolicy[];
}

/** Where generator warnings go (istiod's `authorization` scope); tests and the pilot may replace it. */
let logSink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

export function setAuthzLogSink(sink: (line: string) => void): void {
  logSink = sink;
}

/** Logs a line once per push (generation runs per proxy; the warning is about the config). */
function warnOnce(push: PushContext, message: string): void {
  const seen = memoized(push, 'authz-warned', () => new Set<string>());
  if (seen.has(message)) return;
  seen.add(message);
  logSink(`${new Date().toISOString()}\twarn\tauthorization\t${message}`);
}

/** sortConfigByCreationTime: oldest first, then `<name>.<namespace>`. */
function olderFirst(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.name}.${a.metadata.namespace ?? ''}`;
  const kb = `${b.metadata.name}.${b.metadata.namespace ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** GetAuthorizationPolicies: every policy by namespace, oldest first (computed once per push). */
export function authorizationPolicies(push: PushContext): Map<string, AuthzPolicy[]> {
  return memoized(push, 'authz-policies', () => {
    const byNs = new Map<string, AuthzPolicy[]>();
    for (const r of [...push.snapshot.list(KIND.AuthorizationPolicy)].sort(olderFirst)) {
      const ns = r.metadata.namespace ?? '';
      const spec = r.object['spec'];
      const list = byNs.get(ns) ?? [];
      list.push({
        name: r.metadata.name,
        namespace: ns,
        annotations: stringLabels(r.metadata.annotations),
        spec: isRecord(spec) ? spec : {},
      });
      byNs.set(ns, list);
    }
    return byNs;
  });
}

export function rootNamespace(push: PushContext): string {
  const root = push.snapshot.mesh.rootNamespace;
  return typeof root === 'string' ? root : '';
}

/** ListAuthorizationPolicies: the policies selecting a workload, split by action. */
export function listAuthorizationPolicies(
  push: PushContext,
  namespace: string,
  labels: Record<string, string>,
): AuthzPoliciesResult {
  const out: AuthzPoliciesResult = { custom: [], deny: [], allow: [], audit: [] };
  const root = rootNamespace(push);
  const namespaces = root !== '' ? [root] : [];
  if (namespace !== root) namespaces.push(namespace);
  const all = authorizationPolicies(push);
  for (const ns of namespaces) {
    for (const policy of all.get(ns) ?? []) {
      const selector = isRecord(policy.spec['selector'])
        ? stringLabels(policy.spec['selector']['matchLabels'])
        : {};
      if (!labelsMatch(selector, labels)) continue;
      const action = policy.spec['action'] ?? 'ALLOW';
      if (action === 'ALLOW') out.allow.push(policy);
      else if (action === 'DENY') out.deny.push(policy);
      else if (action === 'AUDIT') out.audit.push(policy);
      else if (action === 'CUSTOM') out.custom.push(policy);
      else {
        warnOnce(
          push,
          `ignored authorization policy ${policy.namespace}.${policy.name} with unsupported action: ${String(action)}`,
        );
      }
    }
  }
  return out;
}

/** strconv.ParseBool of the dry-run annotation; anything else is false (and logged). */
function isDryRun(push: PushContext, policy: AuthzPolicy): boolean {
  const v = policy.annotations[DRY_RUN_ANNOTATION];
  if (v === undefined) return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  warnOnce(
    push,
    `failed to parse the value of ${DRY_RUN_ANNOTATION}: strconv.ParseBool: parsing "${v}": invalid syntax`,
  );
  return false;
}

export function policyName(namespace: string, name: string, rule: number): string {
  return `ns[${namespace}]-policy[${name}]-rule[${rule}]`;
}

function trustDomains(push: PushContext): string[] {
  const mesh = push.snapshot.mesh;
  const td = typeof mesh.trustDomain === 'string' ? mesh.trustDomain : 'cluster.local';
  return [td, ...strings(mesh['trustDomainAliases'])];
}

/** RBAC rules in proto3 JSON: ALLOW is the enum's zero value and is left out; policies sorted by name. */
function rbacJson(action: RbacAction, policies: Map<string, Json>): Json {
  const out: Json = {};
  if (action !== 'ALLOW') out['action'] = action;
  if (policies.size > 0) {
    out['policies'] = Object.fromEntries(
      [...policies.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  }
  return out;
}

interface BuiltRules {
  rules?: Json;
  shadowRules?: Json;
  shadowStatPrefix?: string;
}

/** Builder.build for one action. */
function buildRules(
  push: PushContext,
  policies: AuthzPolicy[],
  action: RbacAction,
  forTCP: boolean,
  useAuthenticated: boolean,
): BuiltRules | undefined {
  if (policies.length === 0) return undefined;
  const enforce = new Map<string, Json>();
  const shadow = new Map<string, Json>();
  let hasEnforce = false;
  let hasShadow = false;
  const options = { forTCP, useAuthenticated, action, trustDomains: trustDomains(push) };
  for (const policy of policies) {
    const dryRun = isDryRun(push, policy);
    const current = dryRun ? shadow : enforce;
    if (dryRun) hasShadow = true;
    else hasEnforce = true;
    const rules = Array.isArray(policy.spec['rules']) ? policy.spec['rules'] : [];
    rules.forEach((rule, i) => {
      const name = policyName(policy.namespace, policy.name, i);
      if (!isRecord(rule)) return; // "skipped nil rule"
      try {
        current.set(name, generatePolicy(buildModel(rule), options));
      } catch {
        // "skipped invalid rule" / "skipped rule on TCP filter chain": a smaller ALLOW.
      }
    });
    if (rules.length === 0) current.set(policyName(policy.namespace, policy.name, 0), policyMatchNever());
  }
  const built: BuiltRules = {};
  if (hasEnforce) built.rules = rbacJson(action, enforce);
  if (hasShadow) {
    built.shadowRules = rbacJson(action, shadow);
    const prefix = SHADOW_STAT_PREFIX[action];
    if (prefix) built.shadowStatPrefix = prefix;
  }
  return built;
}

function httpRbacFilter(b: BuiltRules): Json {
  const config: Json = { '@type': TYPE_HTTP_RBAC };
  if (b.rules) config['rules'] = b.rules;
  if (b.shadowRules) config['shadowRules'] = b.shadowRules;
  if (b.shadowStatPrefix) config['shadowRulesStatPrefix'] = b.shadowStatPrefix;
  return { name: HTTP_RBAC_FILTER, typedConfig: config };
}

function networkRbacFilter(b: BuiltRules): Json {
  const config: Json = { '@type': TYPE_NETWORK_RBAC };
  if (b.rules) config['rules'] = b.rules;
  if (b.shadowRules) config['shadowRules'] = b.shadowRules;
  config['statPrefix'] = RBAC_TCP_STAT_PREFIX;
  if (b.shadowStatPrefix) config['shadowRulesStatPrefix'] = b.shadowStatPrefix;
  return { name: NETWORK_RBAC_FILTER, typedConfig: config };
}

function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function buildFilters(push: PushContext, proxy: ListenerProxy, forTCP: boolean): Json[] {
  const useAuthenticated = !istioVersionAtLeast(proxy.istioVersion, 17);
  const key = `authz-filters|${forTCP ? 'tcp' : 'http'}|${useAuthenticated}|${proxy.namespace}|${labelsKey(proxy.labels)}`;
  return memoized(push, key, () => {
    const policies = listAuthorizationPolicies(push, proxy.namespace, proxy.labels);
    for (const p of policies.custom) {
      warnOnce(
        push,
        `ignored CUSTOM authorization policy ${p.namespace}.${p.name}: the CUSTOM action (ext_authz) is not supported by skiff`,
      );
    }
    const out: Json[] = [];
    for (const [list, action] of [
      [policies.audit, 'LOG'],
      [policies.deny, 'DENY'],
      [policies.allow, 'ALLOW'],
    ] as const) {
      const built = buildRules(push, list, action, forTCP, useAuthenticated);
      if (built) out.push(forTCP ? networkRbacFilter(built) : httpRbacFilter(built));
    }
    return out;
  });
}

/** authz Builder.BuildHTTP: the RBAC HTTP filters for an HCM of this class (none on sidecar outbound). */
export function authzHttpFilters(push: PushContext, proxy: ListenerProxy, cls: ListenerClass): Json[] {
  if (cls === 'sidecar-outbound') return [];
  return buildFilters(push, proxy, false);
}

/** authz Builder.BuildTCP: the RBAC network filters for an inbound or gateway TCP chain. */
export function authzTcpFilters(push: PushContext, proxy: ListenerProxy): Json[] {
  return buildFilters(push, proxy, true);
}
