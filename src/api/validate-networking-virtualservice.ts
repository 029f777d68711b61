// VirtualService (networking.istio.io): Istio 1.17's ValidateVirtualService with its TLS and TCP route checks.
// HTTP routes are in validate-networking-http.ts, rule analysis in validate-networking-vs-analysis.ts.
import {
  checkExportTo,
  checkLabels,
  goList,
  goQuote,
  ipSubnetError,
  isValidIP,
  wildcardDomainError,
} from './fields.js';
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  entries,
  errorsOnly,
  field,
  list,
  num,
  reportPort,
  strList,
  validateGatewayNames,
} from './validate-networking-common.js';
import { validateHTTPRoute, validateRouteDestinations } from './validate-networking-http.js';
import { analyzeVirtualServiceRules } from './validate-networking-vs-analysis.js';

/** The special header prefix for routing on JWT claims (only supported on gateways). */
const JWT_CLAIM_HEADER = '@request.auth.claims.';

/** host.Name.Matches: equal, or overlapping through a leading `*`. */
export function hostsMatch(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aWild) return b.endsWith(a.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Name.SubsetOf: every name `a` matches is also matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (aWild) return false;
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

function validateSniHost(v: Sink, path: string, sniHost: string, vsHosts: string[]): void {
  const err = wildcardDomainError(sniHost);
  if (err) {
    if (isValidIP(sniHost)) {
      v.warn(
        path,
        `using an IP address (${goQuote(sniHost)}) goes against SNI spec and most clients do not support this`,
      );
    } else {
      v.error(path, err);
    }
    return;
  }
  if (vsHosts.some((h) => hostSubsetOf(sniHost, h))) return;
  v.error(
    path,
    `SNI host ${goQuote(sniHost)} is not a compatible subset of any of the virtual service hosts: [${vsHosts.join(', ')}]`,
  );
}

/** The fields TLS and TCP matches share: subnets, port, source labels and gateways. */
function validateL4MatchFields(v: Sink, path: string, match: Obj, keepGatewayWarnings: boolean): void {
  for (const [i, subnet] of strList(match, 'destinationSubnets').entries()) {
    const err = ipSubnetError(subnet);
    if (err) v.error(`${path}.destinationSubnets[${i}]`, err);
  }
  const port = num(match, 'port');
  if (port !== 0) reportPort(v, `${path}.port`, port);
  checkLabels(v, `${path}.sourceLabels`, field(match, 'sourceLabels'));
  validateGatewayNames(
    keepGatewayWarnings ? v : errorsOnly(v),
    `${path}.gateways`,
    strList(match, 'gateways'),
  );
}

function validateTLSRoute(v: Sink, path: string, route: Obj, vsHosts: string[]): void {
  const matches = list(route, 'match');
  if (matches.length === 0) v.error(`${path}.match`, 'TLS route must have at least one match condition');
  for (const [i, raw] of matches.entries()) {
    const mp = `${path}.match[${i}]`;
    const match = asObj(raw);
    if (!match) {
      v.error(mp, 'TLS match may not be null');
      continue;
    }
    const sniHosts = strList(match, 'sniHosts');
    if (sniHosts.length === 0) v.error(`${mp}.sniHosts`, 'TLS match must have at least one SNI host');
    for (const [j, sni] of sniHosts.entries()) validateSniHost(v, `${mp}.sniHosts[${j}]`, sni, vsHosts);
    validateL4MatchFields(v, mp, match, true);
  }
  const destinations = list(route, 'route');
  if (destinations.length === 0) v.error(`${path}.route`, 'TLS route is required');
  validateRouteDestinations(v, `${path}.route`, destinations);
}

function validateTCPRoute(v: Sink, path: string, route: Obj): void {
  for (const [i, raw] of list(route, 'match').entries()) {
    const mp = `${path}.match[${i}]`;
    const match = asObj(raw);
    if (!match) {
      v.error(mp, 'tcp match may not be nil');
      continue;
    }
    // Istio appends TCP match results with appendErrors, which drops gateway-name warnings.
    validateL4MatchFields(v, mp, match, false);
  }
  const destinations = list(route, 'route');
  if (destinations.length === 0) v.error(`${path}.route`, 'TCP route is required');
  validateRouteDestinations(v, `${path}.route`, destinations);
}

registerValidator(KIND.VirtualService, (spec, v, r) => {
  const hosts = strList(spec, 'hosts');
  const gateways = strList(spec, 'gateways');
  const http = list(spec, 'http');
  const tls = list(spec, 'tls');
  const tcp = list(spec, 'tcp');

  // A VirtualService without hosts is a delegate: only HTTP routes, bound through its parent.
  if (hosts.length === 0) {
    if (gateways.length !== 0)
      v.error('spec.gateways', 'delegate virtual service must have no gateways specified');
    if (tls.length !== 0) v.error('spec.tls', 'delegate virtual service must have no tls route specified');
    if (tcp.length !== 0) v.error('spec.tcp', 'delegate virtual service must have no tcp route specified');
  }

  let appliesToMesh = gateways.length === 0;
  let appliesToGateway = false;
  if (gateways.length > 0) {
    validateGatewayNames(v, 'spec.gateways', gateways);
    for (const gw of gateways) {
      if (gw === 'mesh') appliesToMesh = true;
      else appliesToGateway = true;
    }
  }

  if (!appliesToGateway) {
    for (const [i, rawRoute] of http.entries()) {
      for (const [j, rawMatch] of list(asObj(rawRoute), 'match').entries()) {
        const match = asObj(rawMatch);
        for (const key of ['headers', 'withoutHeaders']) {
          for (const [name] of entries(match, key)) {
            if (!name.startsWith(JWT_CLAIM_HEADER)) continue;
            v.error(
              `spec.http[${i}].match[${j}].${key}`,
              `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways: ${goList(gateways)}`,
            );
          }
        }
      }
    }
  }

  let allHostsValid = true;
  for (const [i, host] of hosts.entries()) {
    const err = wildcardDomainError(host);
    if (err) {
      if (!isValidIP(host)) {
        v.error(`spec.hosts[${i}]`, err);
        allHostsValid = false;
      }
    } else if (appliesToMesh && host === '*') {
      v.error(
        `spec.hosts[${i}]`,
        'wildcard host * is not allowed for virtual services bound to the mesh gateway',
      );
      allHostsValid = false;
    }
  }
  // Duplicates include wildcard overlaps: `*.foo.com` and `*.com` are duplicates.
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        const a = hosts[i] ?? '';
        const b = hosts[j] ?? '';
        if (hostsMatch(a, b)) v.error(`spec.hosts[${j}]`, `duplicate hosts in virtual service: ${a} & ${b}`);
      }
    }
  }

  if (http.length === 0 && tcp.length === 0 && tls.length === 0) {
    v.error('spec', 'http, tcp or tls must be provided in virtual service');
  }
  for (const [i, raw] of http.entries()) {
    const route = asObj(raw);
    if (!route) v.error(`spec.http[${i}]`, 'http route may not be null');
    else validateHTTPRoute(v, `spec.http[${i}]`, route, hosts.length === 0);
  }
  for (const [i, raw] of tls.entries()) {
    const route = asObj(raw);
    if (route) validateTLSRoute(v, `spec.tls[${i}]`, route, hosts);
  }
  for (const [i, raw] of tcp.entries()) {
    const route = asObj(raw);
    if (route) validateTCPRoute(v, `spec.tcp[${i}]`, route);
  }
  checkExportTo(v, 'spec.exportTo', field(spec, 'exportTo'), r.metadata.namespace ?? '');

  analyzeVirtualServiceRules(v, spec);
});
