/** `proxy-config route`: route configurations, one row per route per virtual host (istioctl 1.17). */
import {
  arrField,
  describeManagement,
  dumpError,
  field,
  goSortSlice,
  objField,
  renderProtoList,
  requireSection,
  SECTION,
  strField,
  strings,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { ISTIOCTL_TABLE, tabulate } from './tabwriter.js';

export interface RouteFilter {
  name: string;
  verbose: boolean;
}

export function routeMatches(filter: RouteFilter, rc: JsonObject): boolean {
  return filter.name === '' || filter.name === strField(rc, 'name');
}

/** A RouteMatch as text: `<prefix>*`, the exact path, `regex <re>`; headers are ignored. */
export function describeMatch(match: unknown): string {
  const conds: string[] = [];
  const prefix = strField(match, 'prefix');
  if (prefix) conds.push(`${prefix}*`);
  const path = strField(match, 'path');
  if (path) conds.push(path);
  const regex = objField(match, 'safe_regex');
  if (regex) conds.push(`regex ${strField(regex, 'regex')}`);
  return conds.join(' ');
}

/** Shortens a vhost's domain list the way istioctl does (no `host:port`, no expanded forms). */
export function describeRouteDomains(domains: string[]): string {
  if (domains.length === 0) return '';
  if (domains.length === 1) return domains[0] ?? '';
  const max = 2;
  const withoutPort = domains.filter((d) => {
    if (!d.includes(':')) return true;
    // Bracketed IPv6 without a port is kept; with a port it is dropped.
    return d.split(':').length - 1 > 2 && d.endsWith(']');
  });
  const shown = unexpandDomains(withoutPort);
  if (shown.length > max) return `${shown.slice(0, max).join(', ')} + ${shown.length - max} more...`;
  return shown.join(', ');
}

function unexpandDomains(domains: string[]): string[] {
  const unique = new Set(domains);
  const drop = new Set<string>();
  for (const h of domains) {
    for (const suffix of ['.svc.cluster.local', '.svc']) {
      const stripped = h.endsWith(suffix) ? h.slice(0, -suffix.length) : h;
      if (stripped !== h && unique.has(stripped)) drop.add(h);
    }
  }
  return domains.filter((h) => !drop.has(h));
}

function isPassthrough(route: unknown): boolean {
  const action = objField(route, 'route');
  return action !== undefined && field(action, 'cluster') === 'PassthroughCluster';
}

/** Dynamic then static route configs; names that are both integers sort numerically. */
export function sortedRouteConfigs(dump: JsonObject): JsonObject[] {
  const section = requireSection(dump, SECTION.routes);
  const routes: JsonObject[] = [];
  for (const key of ['dynamic_route_configs', 'static_route_configs']) {
    for (const entry of arrField(section, key)) {
      const rc = objField(entry, 'route_config');
      if (rc) routes.push(rc);
    }
  }
  if (routes.length === 0) throw dumpError('no routes found');
  const asInt = (s: string) => (/^[+-]?\d+$/.test(s) ? Number(s) : undefined);
  return goSortSlice(routes, (a, b) => {
    const ia = asInt(strField(a, 'name'));
    const ib = asInt(strField(b, 'name'));
    return ia !== undefined && ib !== undefined && ia < ib;
  });
}

export function routeSummary(dump: JsonObject, filter: RouteFilter): string {
  const routes = sortedRouteConfigs(dump);
  let text = filter.verbose ? 'NAME\tDOMAINS\tMATCH\tVIRTUAL SERVICE\n' : 'NAME\tVIRTUAL HOSTS\n';
  for (const rc of routes) {
    if (!routeMatches(filter, rc)) continue;
    const name = strField(rc, 'name');
    const vhosts = arrField(rc, 'virtual_hosts');
    if (!filter.verbose) {
      text += `${name}\t${vhosts.length}\n`;
      continue;
    }
    for (const vh of vhosts) {
      const domains = describeRouteDomains(strings(field(vh, 'domains')));
      const routesOfHost = arrField(vh, 'routes');
      for (const r of routesOfHost) {
        if (isPassthrough(r)) continue;
        text += `${name}\t${domains}\t${describeMatch(field(r, 'match'))}\t${describeManagement(field(r, 'metadata'))}\n`;
      }
      if (routesOfHost.length === 0) text += `${name}\t${domains}\t/*\t404\n`;
    }
  }
  return tabulate(text, ISTIOCTL_TABLE);
}

export function routeDump(dump: JsonObject, filter: RouteFilter, format: DumpFormat): string {
  return renderProtoList(
    sortedRouteConfigs(dump).filter((rc) => routeMatches(filter, rc)),
    format,
  );
}
