import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import type { ServiceEntryLike, ServiceHostMap } from './util.js';
import {
  asArray,
  asObject,
  asString,
  destinationHostPath,
  lookupDestinationHost,
  mirrorDestinations,
  routeDestinations,
  serviceHostMap,
} from './util.js';

/**
 * Every route and mirror destination host must be a Service or ServiceEntry visible from the VirtualService,
 * with a port that exists (or no port when the service has only one). Also warns when a gateway-bound
 * VirtualService routes without a subset to a host that another VirtualService splits into subsets:
 * the gateway does not apply the other VirtualService's subset routing.
 */
export const vsDestinationHostAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationHostAnalyzer',
  description: 'Checks the destination hosts associated with each virtual service',
  inputs: [KIND.ServiceEntry, KIND.VirtualService, KIND.Service],
  analyze(ctx) {
    const hosts = serviceHostMap(ctx.snapshot);
    const virtualServices = ctx.snapshot.list(KIND.VirtualService);
    const subsetRoutes = subsetRoutesByHost(virtualServices);
    for (const vs of virtualServices) {
      checkDestinations(ctx, vs, hosts);
      checkSubsetsIgnoredByGateway(ctx, vs, subsetRoutes);
    }
  },
};

function checkDestinations(ctx: AnalysisContext, vs: Resource, hosts: ServiceHostMap): void {
  const spec = specOf(vs);
  const ns = vs.metadata.namespace ?? '';
  const exportTo = asArray(spec['exportTo']);
  for (const d of routeDestinations(vs)) {
    const host = asString(d.destination['host']);
    const path = destinationHostPath(d);
    const service = lookupDestinationHost(ns, exportTo, host, hosts);
    if (!service) ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, vs, ['host', host], path);
    else checkPort(ctx, vs, d.destination, service, path);
  }
  for (const m of mirrorDestinations(vs)) {
    const host = asString(m.destination['host']);
    const service = lookupDestinationHost(ns, exportTo, host, hosts);
    if (!service) ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, vs, ['mirror host', host], m.path);
    else checkPort(ctx, vs, m.destination, service, m.path);
  }
}

/** A destination without a port is ambiguous for a multi-port service; one with a port must name an existing one. */
function checkPort(
  ctx: AnalysisContext,
  vs: Resource,
  destination: JsonObject,
  service: ServiceEntryLike,
  path: string,
): void {
  const host = asString(destination['host']);
  const port = asObject(destination['port']);
  if (!port) {
    if (service.ports.length > 1) {
      ctx.report(
        MESSAGE_TYPES.VirtualServiceDestinationPortSelectorRequired,
        vs,
        [host, service.ports.map((p) => p.number)],
        path,
      );
    }
    return;
  }
  const number = typeof port['number'] === 'number' ? port['number'] : 0;
  if (!service.ports.some((p) => p.number === number)) {
    ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, vs, ['host:port', `${host}:${number}`], path);
  }
}

/**
 * Destination host -> the full name of the VirtualService of each http route destination that names a
 * subset of one of its own hosts, in VirtualService and route order (repeated for each own host it equals).
 */
function subsetRoutesByHost(virtualServices: readonly Resource[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const vs of virtualServices) {
    const spec = specOf(vs);
    const ownHosts = asArray(spec['hosts']);
    for (const rule of asArray(spec['http'])) {
      for (const route of asArray(asObject(rule)?.['route'])) {
        const destination = asObject(asObject(route)?.['destination']);
        if (!destination || asString(destination['subset']) === '') continue;
        const host = asString(destination['host']);
        for (const h of ownHosts) {
          if (host !== h) continue;
          const list = out.get(host);
          if (list) list.push(fullName(vs));
          else out.set(host, [fullName(vs)]);
        }
      }
    }
  }
  return out;
}

function checkSubsetsIgnoredByGateway(
  ctx: AnalysisContext,
  vs: Resource,
  subsetRoutes: Map<string, string[]>,
): void {
  const spec = specOf(vs);
  if (asArray(spec['gateways']).length === 0) return;
  asArray(spec['http']).forEach((r, ruleIndex) => {
    const rule = asObject(r);
    // Istio builds this path from the rule's `name` where `http` belongs, so it resolves only for a rule
    // that happens to be named `http`; an unnamed rule gets the resource's line.
    const ruleName = asString(rule?.['name']);
    const pathOf = (routeIndex: number): string | undefined =>
      ruleName === '' ? undefined : `{.spec.${ruleName}[${ruleIndex}].route[${routeIndex}].destination.host}`;
    asArray(rule?.['route']).forEach((route, routeIndex) => {
      const destination = asObject(asObject(route)?.['destination']);
      if (!destination || asString(destination['subset']) !== '') return;
      for (const subsetVs of subsetRoutes.get(asString(destination['host'])) ?? []) {
        ctx.report(
          MESSAGE_TYPES.IngressRouteRulesNotAffected,
          vs,
          [subsetVs, fullName(vs)],
          pathOf(routeIndex),
        );
      }
    });
  });
}
