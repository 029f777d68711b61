/**
 * Route hash policies from DestinationRule consistent-hash load balancing, as Istio 1.17 derives them
 * (route/route.go consistentHashToHashPolicy, hashForHTTPDestination, hashForService): the subset's
 * port-level setting wins over the subset's, then the rule's port-level setting, then the rule's own.
 */
import { KIND, typedSpec } from '../../api/index.js';
import type { Service } from '../../registry/index.js';
import { isServiceVisibleTo } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { normalizeDuration } from './clusters.js';
import { destinationRuleFor } from './destination-rule.js';
import type { PushContext } from './push-context.js';
import { memoized } from './push-context.js';
import { isRecord, records, recordField, stringField, strings } from './route-values.js';

/** consistentHashToHashPolicy: header, cookie, source IP or query parameter; undefined otherwise. */
export function consistentHashToHashPolicy(consistentHash: unknown): Json | undefined {
  if (!isRecord(consistentHash)) return undefined;
  if (typeof consistentHash['httpHeaderName'] === 'string') {
    return { header: { headerName: consistentHash['httpHeaderName'] } };
  }
  const cookie = recordField(consistentHash, 'httpCookie');
  if (cookie) {
    const out: Json = {};
    if (stringField(cookie, 'name') !== '') out['name'] = cookie['name'];
    const ttl = normalizeDuration(cookie['ttl']);
    if (ttl !== undefined) out['ttl'] = ttl;
    if (stringField(cookie, 'path') !== '') out['path'] = cookie['path'];
    return { cookie: out };
  }
  if (typeof consistentHash['useSourceIp'] === 'boolean') {
    return { connectionProperties: consistentHash['useSourceIp'] ? { sourceIp: true } : {} };
  }
  if (typeof consistentHash['httpQueryParameterName'] === 'string') {
    return { queryParameter: { name: consistentHash['httpQueryParameterName'] } };
  }
  return undefined;
}

function consistentHashOf(policy: unknown): unknown {
  return recordField(recordField(isRecord(policy) ? policy : undefined, 'loadBalancer'), 'consistentHash');
}

/** The first port-level setting for `port` (portLevelSettingsConsistentHash looks no further). */
function portLevelHash(policy: unknown, port: number): unknown {
  const settings = records(isRecord(policy) ? policy['portLevelSettings'] : undefined);
  const setting = settings.find((s) => recordField(s, 'port')?.['number'] === port);
  return setting ? consistentHashOf(setting) : undefined;
}

/** The registry's services by hostname, once per push. */
export function servicesByHostname(push: PushContext): Map<string, Service[]> {
  return memoized(push, 'route-services-by-hostname', () => {
    const map = new Map<string, Service[]>();
    for (const s of push.registry.services()) map.set(s.hostname, [...(map.get(s.hostname) ?? []), s]);
    return map;
  });
}

/** registry.serviceByHost through the hostname index: visible to the namespace, its own namespace first. */
export function serviceForHost(push: PushContext, host: string, namespace: string): Service | undefined {
  const defaultExportTo = strings(push.snapshot.mesh['defaultServiceExportTo']);
  const exportDefault = defaultExportTo.length > 0 ? defaultExportTo : undefined;
  const candidates = (servicesByHostname(push).get(host) ?? []).filter((s) =>
    isServiceVisibleTo(s, namespace, exportDefault),
  );
  return candidates.find((s) => s.namespace === namespace) ?? candidates[0];
}

/**
 * The hosts of DestinationRules that configure a consistent hash anywhere, once per push. A host none of
 * them covers cannot get a hash policy, whichever rule applies to it, so the full rule lookup is skipped.
 */
function consistentHashRuleHosts(push: PushContext): string[] {
  return memoized(push, 'route-hash-rule-hosts', () => {
    const hosts: string[] = [];
    for (const r of push.snapshot.list(KIND.DestinationRule)) {
      const spec: unknown = typedSpec(r, KIND.DestinationRule);
      if (!isRecord(spec) || typeof spec['host'] !== 'string') continue;
      if (!JSON.stringify(spec).includes('"consistentHash"')) continue;
      const host = spec['host'];
      const ns = r.metadata.namespace ?? 'default';
      hosts.push(
        host.startsWith('*') || host.includes('.') ? host : `${host}.${ns}.svc.${push.registry.domainSuffix}`,
      );
    }
    return hosts;
  });
}

function mayHaveHash(push: PushContext, host: string): boolean {
  return consistentHashRuleHosts(push).some(
    (h) => h === host || h === '*' || (h.startsWith('*.') && host.endsWith(h.slice(1))),
  );
}

/** The DestinationRule spec for a host seen from a namespace, when it could carry a consistent hash. */
function ruleFor(
  push: PushContext,
  proxyNamespace: string,
  host: string,
): Record<string, unknown> | undefined {
  if (!mayHaveHash(push, host)) return undefined;
  const cache = memoized(
    push,
    'route-hash-rules',
    () => new Map<string, Record<string, unknown> | undefined>(),
  );
  const key = `${proxyNamespace}|${host}`;
  if (cache.has(key)) return cache.get(key);
  const rule = destinationRuleFor(
    push.snapshot,
    host,
    serviceForHost(push, host, proxyNamespace)?.namespace ?? '',
    proxyNamespace,
    push.registry.domainSuffix,
  );
  const spec = rule && isRecord(rule.spec) ? (rule.spec as unknown as Record<string, unknown>) : undefined;
  cache.set(key, spec);
  return spec;
}

/** hashForHTTPDestination: the hash policy for one VirtualService destination. */
export function hashPolicyForDestination(
  push: PushContext,
  proxyNamespace: string,
  destination: Record<string, unknown>,
): Json | undefined {
  const host = stringField(destination, 'host');
  if (host === '') return undefined;
  const rule = ruleFor(push, proxyNamespace, host);
  if (!rule) return undefined;
  const policy = rule['trafficPolicy'];
  const portSelector = recordField(destination, 'port');
  const port = typeof portSelector?.['number'] === 'number' ? portSelector['number'] : undefined;
  let hash = consistentHashOf(policy);
  const ruleLevelPort = port !== undefined ? portLevelHash(policy, port) : undefined;
  const subsetName = stringField(destination, 'subset');
  const subset = records(rule['subsets']).find((s) => stringField(s, 'name') === subsetName);
  const subsetHash = subset ? consistentHashOf(subset['trafficPolicy']) : undefined;
  const subsetPortHash =
    subset && port !== undefined ? portLevelHash(subset['trafficPolicy'], port) : undefined;
  if (subsetPortHash) hash = subsetPortHash;
  else if (subsetHash) hash = subsetHash;
  else if (ruleLevelPort) hash = ruleLevelPort;
  return consistentHashToHashPolicy(hash);
}

/** hashForService: the hash policy of a service port's default route. */
export function hashPolicyForService(
  push: PushContext,
  proxyNamespace: string,
  service: Service,
  port: number,
): Json | undefined {
  const rule = ruleFor(push, proxyNamespace, service.hostname);
  if (!rule) return undefined;
  const policy = rule['trafficPolicy'];
  let hash = consistentHashOf(policy);
  const settings = records(isRecord(policy) ? policy['portLevelSettings'] : undefined);
  const setting = settings.find((s) => recordField(s, 'port')?.['number'] === port);
  const portHash = setting ? consistentHashOf(setting) : undefined;
  if (portHash) hash = portHash;
  return consistentHashToHashPolicy(hash);
}
