/**
 * Which DestinationRule applies to a service for a proxy, and the traffic policy it gives one cluster
 * (rule level, then the rule's port-level settings, then the subset's policy and its port-level settings),
 * as Istio 1.17's PushContext.destinationRule and MergeTrafficPolicy decide.
 */
import type {
  DestinationRuleSpec,
  PortTrafficPolicy,
  Resource,
  Subset,
  TrafficPolicy,
} from '../../api/index.js';
import { KIND, typedSpec } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';

export interface AppliedRule {
  resource: Resource;
  spec: DestinationRuleSpec;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A DR host as Istio resolves it: short names are relative to the rule's namespace. */
function ruleHostFqdn(host: string, namespace: string, domainSuffix: string): string {
  if (host.startsWith('*') || host.includes('.')) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

function hostMatches(ruleHost: string, serviceHost: string): boolean {
  if (ruleHost === serviceHost) return true;
  if (ruleHost === '*') return true;
  return ruleHost.startsWith('*.') && serviceHost.endsWith(ruleHost.slice(1));
}

function exportedTo(spec: DestinationRuleSpec, ruleNamespace: string, proxyNamespace: string): boolean {
  const exportTo = Array.isArray(spec.exportTo) ? spec.exportTo : [];
  if (exportTo.length === 0) return true;
  return exportTo.some(
    (e) => e === '*' || e === proxyNamespace || (e === '.' && ruleNamespace === proxyNamespace),
  );
}

/**
 * The rule for `hostname` seen from a proxy namespace: rules in the proxy's namespace first, then the
 * service's namespace, then the root namespace, then any other exported rule; within each, an exact host
 * beats a wildcard. Rules with a workloadSelector are skipped (they target sidecars, not gateways).
 */
export function destinationRuleFor(
  snapshot: ConfigSnapshot,
  hostname: string,
  serviceNamespace: string,
  proxyNamespace: string,
  domainSuffix: string,
): AppliedRule | undefined {
  const rootNamespace = typeof snapshot.mesh.rootNamespace === 'string' ? snapshot.mesh.rootNamespace : '';
  let best: { rule: AppliedRule; rank: number } | undefined;
  for (const r of snapshot.list(KIND.DestinationRule)) {
    const spec = typedSpec(r, KIND.DestinationRule);
    if (!isRecord(spec) || typeof spec.host !== 'string' || spec.workloadSelector !== undefined) continue;
    const ns = r.metadata.namespace ?? 'default';
    const host = ruleHostFqdn(spec.host, ns, domainSuffix);
    if (!hostMatches(host, hostname) || !exportedTo(spec, ns, proxyNamespace)) continue;
    const nsRank = ns === proxyNamespace ? 0 : ns === serviceNamespace ? 1 : ns === rootNamespace ? 2 : 3;
    const rank = nsRank * 2 + (host === hostname ? 0 : 1);
    if (!best || rank < best.rank) best = { rule: { resource: r, spec }, rank };
  }
  return best?.rule;
}

/** The subsets of a rule that have a name (nameless ones cannot be routed to). */
export function namedSubsets(spec: DestinationRuleSpec): Subset[] {
  const subsets = Array.isArray(spec.subsets) ? spec.subsets : [];
  return subsets.filter((s): s is Subset => isRecord(s) && typeof s.name === 'string' && s.name !== '');
}

function portLevel(policy: TrafficPolicy | undefined, port: number): PortTrafficPolicy | undefined {
  const settings = Array.isArray(policy?.portLevelSettings) ? policy.portLevelSettings : [];
  return settings.find((p) => isRecord(p) && isRecord(p.port) && p.port.number === port);
}

type PolicyFields = Pick<TrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>;

// Each field replaces the earlier one as a whole, as MergeTrafficPolicy does.
function overlay(base: PolicyFields, top: PolicyFields | undefined): PolicyFields {
  if (!isRecord(top)) return base;
  const out = { ...base };
  if (isRecord(top.loadBalancer)) out.loadBalancer = top.loadBalancer;
  if (isRecord(top.connectionPool)) out.connectionPool = top.connectionPool;
  if (isRecord(top.outlierDetection)) out.outlierDetection = top.outlierDetection;
  if (isRecord(top.tls)) out.tls = top.tls;
  return out;
}

/** The effective policy for one cluster (service port, optional subset). */
export function effectivePolicy(
  spec: DestinationRuleSpec | undefined,
  port: number,
  subset: Subset | undefined,
): PolicyFields {
  if (!spec) return {};
  const rulePolicy = isRecord(spec.trafficPolicy) ? spec.trafficPolicy : undefined;
  let policy = overlay({}, rulePolicy);
  policy = overlay(policy, portLevel(rulePolicy, port));
  const subsetPolicy = isRecord(subset?.trafficPolicy) ? subset.trafficPolicy : undefined;
  policy = overlay(policy, subsetPolicy);
  policy = overlay(policy, portLevel(subsetPolicy, port));
  return policy;
}
