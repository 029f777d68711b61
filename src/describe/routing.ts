/**
 * The DestinationRule and VirtualService sections of `istioctl x describe` (Istio 1.17
 * istioctl/cmd/describe.go printDestinationRule, printVirtualService, httpRouteMatchSvc, tcpRouteMatchSvc,
 * renderMatch): which subsets select the pods, the traffic policy, and whether the routes reach the pods.
 */
import type { Resource } from '../api/index.js';
import { arrAt, goQuote, isObj, objAt, selectorMatches, strAt, stringMap } from './kube.js';
import type { Obj } from './kube.js';
import { messageText } from './prototext.js';
import { serviceFqdn } from './proxy-dump.js';

export interface SubsetMatch {
  matching: string[];
  nonMatching: string[];
}

/** getDestRuleSubsets: subsets whose labels select any of the pods, and the others. */
export function destinationRuleSubsets(dr: Resource, podsLabels: Record<string, string>[]): SubsetMatch {
  const out: SubsetMatch = { matching: [], nonMatching: [] };
  for (const subset of arrAt(dr.object, 'spec', 'subsets')) {
    if (!isObj(subset)) continue;
    const labels = stringMap(subset['labels']);
    const name = strAt(subset, 'name');
    if (podsLabels.some((l) => selectorMatches(labels, l))) out.matching.push(name);
    else out.nonMatching.push(name);
  }
  return out;
}

export function printDestinationRule(
  dr: Resource,
  podsLabels: Record<string, string>[],
  kname: (r: Resource) => string,
): string {
  let out = `DestinationRule: ${kname(dr)} for ${goQuote(strAt(dr.object, 'spec', 'host'))}\n`;
  const { matching, nonMatching } = destinationRuleSubsets(dr, podsLabels);
  if (matching.length !== 0 || nonMatching.length !== 0) {
    if (matching.length === 0) {
      out += `  WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets ${nonMatching.join(',')})\n`;
    }
    out += `   Matching subsets: ${matching.join(',')}\n`;
    if (nonMatching.length > 0) out += `      (Non-matching subsets ${nonMatching.join(',')})\n`;
  }
  // Load balancer, connection pool, outlier detection and port settings are only named, as istioctl does.
  const policy = objAt(dr.object, 'spec', 'trafficPolicy');
  if (!policy) {
    out += '   No Traffic Policy\n';
    return out;
  }
  const tls = policy['tls'];
  if (tls !== undefined && tls !== null) {
    // An unset enum prints as its zero value.
    const mode = strAt(tls, 'mode') || 'DISABLE';
    out += `   Traffic Policy TLS Mode: ${mode}\n`;
  }
  const extra: string[] = [];
  const present = (k: string) => policy[k] !== undefined && policy[k] !== null;
  if (present('loadBalancer')) extra.push('load balancer');
  if (present('connectionPool')) extra.push('connection pool');
  if (present('outlierDetection')) extra.push('outlier detection');
  if (present('portLevelSettings')) extra.push('port level settings');
  if (extra.length > 0) out += `   ${extra.join('/')}\n`;
  return out;
}

/** model.ResolveShortnameToFQDN with only the namespace, then extendFQDN. */
function destinationFqdn(host: string, vsNamespace: string): string {
  if (host === '') return '';
  let out = host;
  if (host !== '*' && !isIPAddress(host) && !host.includes('.') && vsNamespace !== '') {
    out = `${host}.${vsNamespace}`;
  }
  if (out.startsWith('*') || out.endsWith('.svc.cluster.local')) return out;
  return `${out}.svc.cluster.local`;
}

function isIPAddress(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
}

function renderStringMatch(sm: unknown): string {
  if (!isObj(sm)) return '';
  if (typeof sm['exact'] === 'string') return sm['exact'];
  if (typeof sm['prefix'] === 'string') return `${sm['prefix']}*`;
  return messageText(sm);
}

export function renderMatch(match: unknown): string {
  let out = '';
  if (!isObj(match)) return out;
  if (match['uri'] !== undefined && match['uri'] !== null) {
    out += renderStringMatch(match['uri']);
    if (match['ignoreUriCase'] === true) out += ' uncased';
  }
  const headers = objAt(match, 'headers');
  if (headers && Object.keys(headers).length > 0) {
    // Go iterates the header map in random order; skiff keeps the config's order.
    const conds = Object.entries(headers).map(([k, v]) => `${k}=${renderStringMatch(v)}`);
    out += ` when headers are ${conds.join('; ')}`;
  }
  return out.trim();
}

function renderMatches(matches: unknown[]): string {
  if (matches.length === 0) return 'everything';
  return matches.map(renderMatch).join(', ');
}

interface RouteFacts {
  match: boolean;
  facts: string[];
}

function httpRouteMatchSvc(
  vs: Resource,
  route: Obj,
  svcHost: string,
  subsets: SubsetMatch,
  dr: Resource | undefined,
  kname: (r: Resource) => string,
): RouteFacts {
  const vsNamespace = vs.metadata.namespace ?? '';
  const facts: string[] = [];
  const mismatch: string[] = [];
  let match = false;
  const matches = arrAt(route, 'match');
  for (const dest of arrAt(route, 'route')) {
    const destination = objAt(dest, 'destination');
    const host = strAt(destination, 'host');
    if (destinationFqdn(host, vsNamespace) !== svcHost) {
      mismatch.push(`Route to ${host}`);
      continue;
    }
    const subset = strAt(destination, 'subset');
    if (subset !== '') {
      if (subsets.nonMatching.includes(subset)) {
        mismatch.push(`Route to non-matching subset ${subset} for (${renderMatches(matches)})`);
        continue;
      }
      if (!subsets.matching.includes(subset)) {
        mismatch.push(
          dr
            ? `Warning: Route to UNKNOWN subset ${subset}; check DestinationRule ${kname(dr)}`
            : `Warning: Route to subset ${subset} but NO DESTINATION RULE defining subsets!`,
        );
        continue;
      }
    }
    match = true;
    const weight = isObj(dest) ? dest['weight'] : undefined;
    if (typeof weight === 'number' && weight > 0) facts.push(`Weight ${weight}%`);
  }
  if (match) {
    const requestFacts: string[] = [];
    const fault = route['fault'];
    if (fault !== undefined && fault !== null)
      requestFacts.push(`Fault injection ${messageText(fault, 'fault')}`);
    for (const m of matches) requestFacts.push(renderMatch(m));
    if (requestFacts.length > 0) facts.push(requestFacts.join(', '));
  }
  if (!match && mismatch.length > 0) facts.push(...mismatch);
  return { match, facts };
}

function tcpRouteMatchSvc(vs: Resource, route: Obj, svcHost: string): RouteFacts {
  const vsNamespace = vs.metadata.namespace ?? '';
  const match = arrAt(route, 'route').some(
    (dest) => destinationFqdn(strAt(dest, 'destination', 'host'), vsNamespace) === svcHost,
  );
  const facts = match ? arrAt(route, 'match').map((m) => messageText(m, 'l4match')) : [];
  return { match, facts };
}

export function printVirtualService(
  vs: Resource,
  svc: Resource,
  subsets: SubsetMatch,
  dr: Resource | undefined,
  kname: (r: Resource) => string,
): string {
  let out = `VirtualService: ${kname(vs)}\n`;
  const svcHost = serviceFqdn(svc.metadata.name, svc.metadata.namespace ?? '');
  const http = arrAt(vs.object, 'spec', 'http').filter(isObj);
  const tcp = arrAt(vs.object, 'spec', 'tcp').filter(isObj);
  const tls = arrAt(vs.object, 'spec', 'tls');
  let matches = 0;
  let facts = 0;
  const mismatch: string[] = [];
  const take = (result: RouteFacts) => {
    if (result.match) {
      matches++;
      for (const fact of result.facts) {
        out += `   ${fact}\n`;
        facts++;
      }
    } else {
      mismatch.push(...result.facts);
    }
  };
  for (const route of http) take(httpRouteMatchSvc(vs, route, svcHost, subsets, dr, kname));
  for (const route of tcp) take(tcpRouteMatchSvc(vs, route, svcHost));

  if (matches === 0) {
    if (http.length > 0)
      out += `   WARNING: No destinations match pod subsets (checked ${http.length} HTTP routes)\n`;
    if (tcp.length > 0)
      out += `   WARNING: No destinations match pod subsets (checked ${tcp.length} TCP routes)\n`;
    for (const note of mismatch) out += `      ${note}\n`;
    return out;
  }
  const possible = http.length + tls.length + tcp.length;
  if (matches < possible) {
    // Earlier match conditions may capture the traffic, so reaching this pod is not certain.
    out += `   ${possible - matches} additional destination(s) that will not reach this pod\n`;
    if (facts === 0) for (const note of mismatch) out += `      ${note}\n`;
    return out;
  }
  if (facts === 0) {
    if (http.length > 0) out += `   ${http.length} HTTP route(s)\n`;
    if (tcp.length > 0) out += `   ${tcp.length} TCP route(s)\n`;
  }
  return out;
}
