// VirtualService rule analysis from Istio 1.17's ValidateVirtualService: rules that can never match
// (VirtualServiceUnreachableRule) and matches already covered by earlier ones (VirtualServiceIneffectiveMatch).
// istioctl analyze reports these as IST0130 / IST0131 instead of schema warnings.
import { goQuote } from './fields.js';
import type { AnalysisAwareIssue, Obj } from './validate-networking-common.js';
import type { AnalysisType } from './validation.js';
import { asObj, entries, field, list, msg, num, str, strList } from './validate-networking-common.js';
import { stringMatch } from './validate-networking-http.js';
import type { IssueCollector } from './validation.js';

const STRING_MATCH_FIELDS = ['uri', 'scheme', 'method', 'authority'];
const STRING_MATCH_MAPS = ['headers', 'queryParams', 'withoutHeaders'];
const HTTP_SCALARS = ['port', 'ignoreUriCase', 'sourceNamespace', 'statPrefix'];
const L4_SCALARS = ['port', 'sourceSubnet', 'sourceNamespace'];
const HTTP_LISTS = ['gateways'];
const L4_LISTS = ['gateways', 'destinationSubnets', 'sniHosts'];

function canonicalStringMatch(raw: unknown): unknown {
  const sm = asObj(raw);
  if (!sm) return null;
  const m = stringMatch(sm);
  return m ? { [m.kind]: m.value } : {};
}

/**
 * A canonical form of a match for comparing matches, as Istio compares their JSON (without the match name):
 * zero values are left out, maps are order-independent, only fields of the API count.
 */
function matchKey(raw: unknown, kind: 'http' | 'l4'): string {
  const match = asObj(raw);
  if (!match) return 'null';
  const out: Record<string, unknown> = {};
  const scalars = kind === 'http' ? HTTP_SCALARS : L4_SCALARS;
  for (const key of scalars) {
    const value = field(match, key);
    if (value !== undefined && value !== null && value !== '' && value !== 0 && value !== false)
      out[key] = value;
  }
  for (const key of kind === 'http' ? HTTP_LISTS : L4_LISTS) {
    const items = strList(match, key);
    if (items.length > 0) out[key] = items;
  }
  const labels = entries(match, 'sourceLabels');
  if (labels.length > 0)
    out['sourceLabels'] = Object.fromEntries([...labels].sort(([a], [b]) => (a < b ? -1 : 1)));
  if (kind === 'http') {
    for (const key of STRING_MATCH_FIELDS) {
      if (msg(match, key)) out[key] = canonicalStringMatch(field(match, key));
    }
    for (const key of STRING_MATCH_MAPS) {
      const items = entries(match, key);
      if (items.length === 0) continue;
      const sorted = [...items].sort(([a], [b]) => (a < b ? -1 : 1));
      out[key] = Object.fromEntries(sorted.map(([k, v]) => [k, canonicalStringMatch(v)]));
    }
  }
  return JSON.stringify(Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** routeName: a named HTTP route is shown quoted, anything else as `#<index>`. */
function routeName(route: Obj | undefined, index: number): string {
  const name = str(route, 'name');
  return name !== '' ? goQuote(name) : `#${index}`;
}

function requestName(match: Obj | undefined, index: number): string {
  const name = str(match, 'name');
  return name !== '' ? goQuote(name) : `#${index}`;
}

/** The fields of a `uri.prefix` match that the overlap check compares (exact/prefix values as `exact:x`). */
interface PrefixMatch {
  path: string;
  routeStr: string;
  matchStr: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  queryParams: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

function exactOrPrefix(raw: unknown): string {
  const m = stringMatch(asObj(raw));
  if (m?.kind === 'exact' && m.value !== '') return `exact:${m.value}`;
  if (m?.kind === 'prefix' && m.value !== '') return `prefix:${m.value}`;
  return '';
}

function prefixMatch(
  path: string,
  route: Obj,
  match: Obj | undefined,
  routeIndex: number,
  matchIndex: number,
): PrefixMatch | undefined {
  if (!match) return undefined;
  const uri = stringMatch(msg(match, 'uri'));
  if (uri?.kind !== 'prefix' || uri.value === '') return undefined;
  const valueMap = (key: string) => new Map(entries(match, key).map(([k, v]) => [k, exactOrPrefix(v)]));
  return {
    path,
    routeStr: routeName(route, routeIndex),
    matchStr: requestName(match, matchIndex),
    prefix: uri.value,
    port: num(match, 'port'),
    // Without a method the request is taken to be a GET.
    method: exactOrPrefix(field(match, 'method')) || 'exact:GET',
    authority: exactOrPrefix(field(match, 'authority')),
    headers: valueMap('headers'),
    queryParams: valueMap('queryParams'),
    withoutHeaders: valueMap('withoutHeaders'),
  };
}

function sameOrNarrower(a: string, b: string): boolean {
  return a === b || a.startsWith(b);
}

function mapCovered(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    const other = b.get(key);
    if (other === undefined || !sameOrNarrower(value, other)) return false;
  }
  return true;
}

/** Istio's coveredValidation: whether the earlier prefix match `a` makes the later match `b` unreachable. */
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  return (
    b.prefix.startsWith(a.prefix) &&
    a.port === b.port &&
    sameOrNarrower(a.method, b.method) &&
    sameOrNarrower(a.authority, b.authority) &&
    mapCovered(a.headers, b.headers) &&
    mapCovered(a.queryParams, b.queryParams) &&
    mapCovered(a.withoutHeaders, b.withoutHeaders)
  );
}

interface Reporter {
  unreachable(path: string, rule: string, reason: string): void;
  ineffective(path: string, rule: string, match: string, dup: string): void;
}

function reporter(v: IssueCollector): Reporter {
  const push = (path: string, type: AnalysisType, message: string, parameters: string[]) => {
    const issue: AnalysisAwareIssue = { level: 'warning', path, message, analysis: { type, parameters } };
    v.issues.push(issue);
  };
  return {
    unreachable: (path, rule, reason) =>
      push(path, 'VirtualServiceUnreachableRule', `virtualService rule ${rule} not used (${reason})`, [
        rule,
        reason,
      ]),
    ineffective: (path, rule, match, dup) =>
      push(
        path,
        'VirtualServiceIneffectiveMatch',
        `virtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup})`,
        [rule, match, dup],
      ),
  };
}

/** analyzeUnreachableHTTPRules / TCP / TLS for one route list. */
function analyzeRoutes(r: Reporter, path: string, routes: unknown[], kind: 'http' | 'l4'): void {
  const seen = new Map<string, number>();
  let catchAllSeen = false;
  const prefixMatches: PrefixMatch[] = [];
  for (const [ri, rawRoute] of routes.entries()) {
    const route = asObj(rawRoute);
    if (!route) continue;
    const rp = `${path}[${ri}]`;
    // TCP and TLS routes have no names.
    const name = kind === 'http' ? routeName(route, ri) : `#${ri}`;
    const matches = list(route, 'match');
    if (matches.length === 0) {
      if (catchAllSeen) r.unreachable(rp, name, 'only the last rule can have no matches');
      catchAllSeen = true;
      continue;
    }
    let duplicates = 0;
    for (const [mi, rawMatch] of matches.entries()) {
      const match = asObj(rawMatch);
      const key = matchKey(rawMatch, kind);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        const earlierRoute = asObj(routes[earlier]);
        const earlierName = kind === 'http' ? routeName(earlierRoute, earlier) : `#${earlier}`;
        const matchName = kind === 'http' ? requestName(match, mi) : `#${mi}`;
        r.ineffective(`${rp}.match[${mi}]`, name, matchName, earlierName);
        duplicates++;
        continue;
      }
      seen.set(key, ri);
      if (kind === 'http') {
        const pm = prefixMatch(`${rp}.match[${mi}]`, route, match, ri, mi);
        if (pm) prefixMatches.push(pm);
      }
    }
    if (duplicates === matches.length) r.unreachable(rp, name, 'all matches used by prior rules');
  }
  for (const [i, a] of prefixMatches.entries()) {
    for (const b of prefixMatches.slice(i + 1)) {
      // Identical prefixes were handled as duplicates above (or differ in other fields).
      if (a.prefix === b.prefix || !covered(a, b)) continue;
      r.ineffective(
        b.path,
        b.routeStr,
        `${b.matchStr} of prefix ${b.prefix}`,
        `${a.matchStr} of prefix ${a.prefix} on ${a.routeStr}`,
      );
    }
  }
}

/** Reports unreachable rules and ineffective matches of a VirtualService spec. */
export function analyzeVirtualServiceRules(v: IssueCollector, spec: Obj): void {
  const r = reporter(v);
  analyzeRoutes(r, 'spec.http', list(spec, 'http'), 'http');
  analyzeRoutes(r, 'spec.tcp', list(spec, 'tcp'), 'l4');
  analyzeRoutes(r, 'spec.tls', list(spec, 'tls'), 'l4');
}
