/**
 * Network filters for VirtualService `tcp` and `tls` routes (networkfilter.go buildOutboundNetworkFilters,
 * tls.go matchTCP/matchTLS, route.GetDestinationCluster), shared by sidecar outbound listeners and gateway
 * TCP/TLS servers: one destination becomes a tcp_proxy to its cluster (stat prefix = cluster name),
 * several become weighted clusters (stat prefix `<vs name>.<vs namespace>`).
 */
import type { Service } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { outboundClusterName } from './clusters.js';
import { destinationRuleFor } from './destination-rule.js';
import type { ListenerClass, ListenerProxy } from './listener-filters.js';
import {
  accessLogs,
  isRecord,
  proxyIdleTimeout,
  stringLabels,
  strings,
  tcpMetadataExchangeFilter,
  tcpProxyFilter,
} from './listener-filters.js';
import type { PushContext } from './push-context.js';
import { normalizeDuration } from './clusters.js';
import type { VirtualServiceConfig } from './route-virtual-services.js';
import { resolveShortname } from './route-virtual-services.js';

export const UNKNOWN_SERVICE = 'UnknownService';

export interface TcpRouteContext {
  push: PushContext;
  proxy: ListenerProxy;
  cls: ListenerClass;
}

/** One `route` entry of a tcp/tls rule: its destination (host already an FQDN) and weight. */
export interface RouteDestination {
  destination: Record<string, unknown>;
  weight: number;
}

/** A VirtualService `tcp` or `tls` rule, names resolved in the VirtualService's namespace. */
export interface L4Rule {
  match: Record<string, unknown>[];
  route: RouteDestination[];
}

function rules(vs: VirtualServiceConfig, key: 'tcp' | 'tls', domainSuffix: string): L4Rule[] {
  const spec = vs.resource?.object['spec'];
  const list = isRecord(spec) && Array.isArray(spec[key]) ? spec[key] : [];
  const out: L4Rule[] = [];
  for (const rule of list) {
    if (!isRecord(rule)) continue;
    const match = Array.isArray(rule['match']) ? rule['match'].filter(isRecord) : [];
    const route: RouteDestination[] = [];
    for (const r of Array.isArray(rule['route']) ? rule['route'] : []) {
      if (!isRecord(r) || !isRecord(r['destination'])) continue;
      const d = r['destination'];
      const host =
        typeof d['host'] === 'string' ? resolveShortname(d['host'], vs.namespace, domainSuffix) : '';
      const weight = typeof r['weight'] === 'number' && Number.isInteger(r['weight']) ? r['weight'] : 0;
      route.push({ destination: { ...d, host }, weight });
    }
    if (route.length === 0) continue;
    out.push({ match, route });
  }
  return out;
}

export function tcpRules(vs: VirtualServiceConfig, domainSuffix: string): L4Rule[] {
  return rules(vs, 'tcp', domainSuffix);
}

export function tlsRules(vs: VirtualServiceConfig, domainSuffix: string): L4Rule[] {
  return rules(vs, 'tls', domainSuffix);
}

/** GetDestinationCluster: the destination's port, else the service's only port, else the listener's. */
export function destinationCluster(
  destination: Record<string, unknown>,
  service: Service | undefined,
  listenerPort: number,
): string {
  const host = typeof destination['host'] === 'string' ? destination['host'] : '';
  if (host === '') return UNKNOWN_SERVICE;
  let port = listenerPort;
  const selector = destination['port'];
  if (isRecord(selector) && typeof selector['number'] === 'number') port = selector['number'];
  else if (service && service.ports.length === 1) port = service.ports[0]?.port ?? listenerPort;
  const subset = typeof destination['subset'] === 'string' ? destination['subset'] : '';
  return outboundClusterName(port, subset, host);
}

/**
 * matchTCP / matchTLS: the static predicates of an L4 match (gateways, source labels, port, source
 * namespace), evaluated for this proxy and listener port.
 */
export function l4MatchApplies(
  match: Record<string, unknown>,
  proxy: ListenerProxy,
  gateways: ReadonlySet<string>,
  port: number,
): boolean {
  const matchGateways = strings(match['gateways']);
  const gatewayOk = matchGateways.length === 0 || matchGateways.some((g) => gateways.has(g));
  const sourceLabels = stringLabels(match['sourceLabels']);
  const labelOk = Object.entries(sourceLabels).every(([k, v]) => proxy.labels[k] === v);
  const matchPort = typeof match['port'] === 'number' ? match['port'] : 0;
  const portOk = matchPort === 0 || matchPort === port;
  const ns = typeof match['sourceNamespace'] === 'string' ? match['sourceNamespace'] : '';
  const nsOk = ns === '' || ns === proxy.namespace;
  return gatewayOk && labelOk && portOk && nsOk;
}

function serviceFor(ctx: TcpRouteContext, host: string): Service | undefined {
  return ctx.push.registry.serviceByHost(host, ctx.proxy.namespace);
}

interface RulePolicy {
  maxConnectionDuration?: string;
  hashPolicy?: Json[];
}

/** maybeSetHashPolicy and the rule's TCP maxConnectionDuration, from the DestinationRule of the service. */
function rulePolicy(ctx: TcpRouteContext, service: Service | undefined, subset: string): RulePolicy {
  if (!service) return {};
  const rule = destinationRuleFor(
    ctx.push.snapshot,
    service.hostname,
    service.namespace,
    ctx.proxy.namespace,
    ctx.push.registry.domainSuffix,
  );
  if (!rule) return {};
  const out: RulePolicy = {};
  const tp = isRecord(rule.spec.trafficPolicy) ? (rule.spec.trafficPolicy as Record<string, unknown>) : {};
  const pool = isRecord(tp['connectionPool']) ? tp['connectionPool'] : {};
  const tcp = isRecord(pool['tcp']) ? pool['tcp'] : {};
  const maxDuration = normalizeDuration(tcp['maxConnectionDuration']);
  if (maxDuration) out.maxConnectionDuration = maxDuration;
  const consistentHash = (lb: unknown): Record<string, unknown> | undefined =>
    isRecord(lb) && isRecord(lb['consistentHash']) ? lb['consistentHash'] : undefined;
  let useSourceIp = consistentHash(tp['loadBalancer'])?.['useSourceIp'] === true;
  const subsets = Array.isArray(rule.spec.subsets) ? rule.spec.subsets : [];
  for (const s of subsets) {
    if (!isRecord(s) || s['name'] !== subset) continue;
    const stp = isRecord(s['trafficPolicy']) ? s['trafficPolicy'] : undefined;
    if (stp && isRecord(stp['loadBalancer'])) {
      useSourceIp = consistentHash(stp['loadBalancer'])?.['useSourceIp'] === true;
    }
    break;
  }
  if (useSourceIp) out.hashPolicy = [{ sourceIp: {} }];
  return out;
}

function leadingFilters(ctx: TcpRouteContext): Json[] {
  // Metadata exchange runs on inbound only; outbound relies on the cluster filter.
  return ctx.cls === 'sidecar-inbound' ? [tcpMetadataExchangeFilter()] : [];
}

/** buildOutboundNetworkFiltersWithSingleDestination. */
export function singleDestinationFilters(
  ctx: TcpRouteContext,
  statPrefix: string,
  cluster: string,
  service: Service | undefined,
  subset: string,
): Json[] {
  const policy = rulePolicy(ctx, service, subset);
  const idle = proxyIdleTimeout(ctx.proxy);
  return [
    ...leadingFilters(ctx),
    tcpProxyFilter({
      statPrefix,
      cluster,
      ...(idle ? { idleTimeout: idle } : {}),
      ...(policy.maxConnectionDuration
        ? { maxDownstreamConnectionDuration: policy.maxConnectionDuration }
        : {}),
      ...(policy.hashPolicy ? { hashPolicy: policy.hashPolicy } : {}),
      accessLog: accessLogs(ctx.push.snapshot.mesh),
    }),
  ];
}

/**
 * buildOutboundNetworkFilters: the filters for a rule's destinations on a listener port; undefined when
 * the rule has no usable destination (several routes without weights).
 */
export function outboundNetworkFilters(
  ctx: TcpRouteContext,
  routes: RouteDestination[],
  listenerPort: number,
  vs: { name: string; namespace: string },
): Json[] | undefined {
  const first = routes[0];
  if (!first) return undefined;
  const host = typeof first.destination['host'] === 'string' ? first.destination['host'] : '';
  const service = serviceFor(ctx, host);
  if (routes.length === 1) {
    const cluster = destinationCluster(first.destination, service, listenerPort);
    const subset = typeof first.destination['subset'] === 'string' ? first.destination['subset'] : '';
    return singleDestinationFilters(ctx, cluster, cluster, service, subset);
  }
  const weighted: { name: string; weight: number }[] = [];
  for (const r of routes) {
    if (r.weight <= 0) continue;
    const h = typeof r.destination['host'] === 'string' ? r.destination['host'] : '';
    weighted.push({
      name: destinationCluster(r.destination, serviceFor(ctx, h), listenerPort),
      weight: r.weight,
    });
  }
  if (weighted.length === 0) return undefined;
  const policy = rulePolicy(ctx, service, '');
  const idle = proxyIdleTimeout(ctx.proxy);
  return [
    ...leadingFilters(ctx),
    tcpProxyFilter({
      statPrefix: `${vs.name}.${vs.namespace}`,
      weightedClusters: weighted,
      ...(idle ? { idleTimeout: idle } : {}),
      ...(policy.maxConnectionDuration
        ? { maxDownstreamConnectionDuration: policy.maxConnectionDuration }
        : {}),
      ...(policy.hashPolicy ? { hashPolicy: policy.hashPolicy } : {}),
      accessLog: accessLogs(ctx.push.snapshot.mesh),
    }),
  ];
}
