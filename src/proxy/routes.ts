/**
 * Route configurations (config.route.v3.RouteConfiguration) compiled into matchers, and the pure lookups
 * Envoy's HCM does per request: the virtual host by `:authority`, then the first matching route.
 */
import type { RE2JS } from 're2js';
import { ConfigError } from './errors.js';
import type { CorsPolicy, FaultConfig, MirrorPolicy } from './filters.js';
import {
  compileCors,
  compileFault,
  compileMirrors,
  CORS_FILTER,
  FAULT_FILTER,
  perFilterConfig,
} from './filters.js';
import type { HashPolicy } from './hash-lb.js';
import { compileHashPolicies } from './hash-lb.js';
import type { HeaderMutation } from './headers.js';
import { compileMutation } from './headers.js';
import type { JsonObject } from './json.js';
import { bool, durationMs, isRecord, num, record, records, str, strings, unwrap } from './json.js';
import type { HeaderPredicate, MatchInput, QueryPredicate } from './matchers.js';
import { compileHeaderMatcher, compileQueryMatcher, compileRegex, parseQuery } from './matchers.js';
import type { RetryPolicy } from './retry.js';
import { compileRetryPolicy } from './retry.js';
import type { LegacyGrpcTimeout, MaxStreamDuration } from './stream-duration.js';
import { compileLegacyGrpcTimeout, compileMaxStreamDuration } from './stream-duration.js';

/** Envoy's route timeout when the route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export interface WeightedCluster {
  name: string;
  weight: number;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
}

export interface RegexRewrite {
  re: RE2JS;
  /** The substitution with `\N` group references turned into re2js's `$N`. */
  substitution: string;
}

export interface ForwardAction {
  kind: 'forward';
  cluster?: string;
  clusterHeader?: string;
  weighted?: { clusters: WeightedCluster[]; total: number };
  /** 0 disables the route timeout. */
  timeoutMs: number;
  prefixRewrite?: string;
  regexRewrite?: RegexRewrite;
  hostRewriteLiteral?: string;
  retry?: RetryPolicy;
  hashPolicies: HashPolicy[];
  mirrors: MirrorPolicy[];
  /** RouteAction.cors (Istio 1.17 puts the VirtualService corsPolicy here). */
  cors?: CorsPolicy;
  /**
   * RouteAction.max_stream_duration: when set, Envoy's "new timeouts" apply (the HCM's duration timer,
   * and no route timeout in the router).
   */
  maxStreamDuration?: MaxStreamDuration;
  /** The deprecated max_grpc_timeout / grpc_timeout_offset (only without maxStreamDuration). */
  legacyGrpcTimeout?: LegacyGrpcTimeout;
}

export interface RedirectAction {
  kind: 'redirect';
  status: number;
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  regexRewrite?: RegexRewrite;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body: string;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

type PathMatch =
  | { kind: 'prefix'; value: string }
  | { kind: 'path'; value: string }
  | { kind: 'separated'; value: string }
  | { kind: 'regex'; re: RE2JS; source: string };

export interface CompiledRoute {
  name: string;
  pathMatch: PathMatch;
  caseSensitive: boolean;
  headers: HeaderPredicate[];
  query: QueryPredicate[];
  action: RouteAction;
  decorator?: string;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  /** Per-route filter configs (typedPerFilterConfig) for the fault and CORS filters. */
  fault?: FaultConfig;
  cors?: CorsPolicy;
}

export interface CompiledVirtualHost {
  name: string;
  routes: CompiledRoute[];
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  includeAttemptCount: boolean;
  retry?: RetryPolicy;
  fault?: FaultConfig;
  cors?: CorsPolicy;
}

export interface CompiledRouteConfig {
  name: string;
  ignorePortInHostMatching: boolean;
  exact: Map<string, CompiledVirtualHost>;
  /** `*.x` / `*-x` wildcards as [suffix, vhost], longest suffix first. */
  suffixes: [string, CompiledVirtualHost][];
  /** `x.*` wildcards as [prefix, vhost], longest prefix first. */
  prefixes: [string, CompiledVirtualHost][];
  fallback?: CompiledVirtualHost;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function compileRegexRewrite(v: unknown, where: string): RegexRewrite | undefined {
  const r = record(v);
  const pattern = str(record(r?.['pattern'])?.['regex']);
  if (pattern === undefined) return undefined;
  const raw = str(r?.['substitution']) ?? '';
  // Envoy substitutions use \1; re2js (JS mode) uses $1 and needs literal $ doubled.
  const substitution = raw.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
  return { re: compileRegex(pattern, where), substitution };
}

function compilePathMatch(match: JsonObject, where: string): PathMatch {
  if (typeof match['prefix'] === 'string') return { kind: 'prefix', value: match['prefix'] };
  if (typeof match['path'] === 'string') return { kind: 'path', value: match['path'] };
  if (typeof match['pathSeparatedPrefix'] === 'string')
    return { kind: 'separated', value: match['pathSeparatedPrefix'] };
  const regex = str(record(match['safeRegex'])?.['regex']);
  if (regex !== undefined) return { kind: 'regex', re: compileRegex(regex, where), source: regex };
  throw new ConfigError(`${where}: route match has no path specifier`);
}

function compileAction(route: JsonObject, where: string): RouteAction {
  const direct = record(route['directResponse']);
  if (direct) {
    const body = record(direct['body']);
    let text = str(body?.['inlineString']) ?? '';
    const bytes = str(body?.['inlineBytes']);
    if (bytes !== undefined) text = Buffer.from(bytes, 'base64').toString('latin1');
    return { kind: 'direct', status: num(direct['status']) ?? 200, body: text };
  }
  const redirect = record(route['redirect']);
  if (redirect) {
    const scheme = bool(redirect['httpsRedirect']) === true ? 'https' : str(redirect['schemeRedirect']);
    const out: RedirectAction = {
      kind: 'redirect',
      status: REDIRECT_CODES[str(redirect['responseCode']) ?? 'MOVED_PERMANENTLY'] ?? 301,
      stripQuery: bool(redirect['stripQuery']) === true,
    };
    if (scheme !== undefined) out.scheme = scheme;
    const host = str(redirect['hostRedirect']);
    if (host !== undefined) out.host = host;
    const port = num(redirect['portRedirect']);
    if (port !== undefined) out.port = port;
    const path = str(redirect['pathRedirect']);
    if (path !== undefined) out.path = path;
    const prefixRewrite = str(redirect['prefixRewrite']);
    if (prefixRewrite !== undefined) out.prefixRewrite = prefixRewrite;
    const regexRewrite = compileRegexRewrite(redirect['regexRewrite'], where);
    if (regexRewrite) out.regexRewrite = regexRewrite;
    return out;
  }
  const action = record(route['route']);
  if (!action) throw new ConfigError(`${where}: route has no action`);
  const out: ForwardAction = {
    kind: 'forward',
    timeoutMs: durationMs(action['timeout']) ?? DEFAULT_ROUTE_TIMEOUT_MS,
    hashPolicies: compileHashPolicies(action['hashPolicy']),
    mirrors: compileMirrors(action),
  };
  const cors = compileCors(action['cors'], where);
  if (cors) out.cors = cors;
  const cluster = str(action['cluster']);
  if (cluster !== undefined) out.cluster = cluster;
  const clusterHeader = str(action['clusterHeader']);
  if (clusterHeader !== undefined) out.clusterHeader = clusterHeader.toLowerCase();
  const weighted = record(action['weightedClusters']);
  if (weighted) {
    const clusters: WeightedCluster[] = records(weighted['clusters']).map((c) => ({
      name: str(c['name']) ?? '',
      weight: Math.max(0, num(unwrap(c['weight'])) ?? 0),
      requestHeaders: compileMutation(c, 'requestHeadersToAdd', 'requestHeadersToRemove'),
      responseHeaders: compileMutation(c, 'responseHeadersToAdd', 'responseHeadersToRemove'),
    }));
    const sum = clusters.reduce((a, c) => a + c.weight, 0);
    const total = num(unwrap(weighted['totalWeight'])) ?? sum;
    if (sum === 0) throw new ConfigError(`${where}: weighted clusters have no weight`);
    out.weighted = { clusters, total: Math.max(total, sum) };
  }
  if (out.cluster === undefined && out.clusterHeader === undefined && !out.weighted)
    throw new ConfigError(`${where}: route action names no cluster`);
  const prefixRewrite = str(action['prefixRewrite']);
  if (prefixRewrite !== undefined) out.prefixRewrite = prefixRewrite;
  const regexRewrite = compileRegexRewrite(action['regexRewrite'], where);
  if (regexRewrite) out.regexRewrite = regexRewrite;
  const hostRewrite = str(action['hostRewriteLiteral']);
  if (hostRewrite !== undefined) out.hostRewriteLiteral = hostRewrite;
  const retry = compileRetryPolicy(action['retryPolicy']);
  if (retry) out.retry = retry;
  const maxStreamDuration = compileMaxStreamDuration(action['maxStreamDuration']);
  if (maxStreamDuration) out.maxStreamDuration = maxStreamDuration;
  const legacyGrpcTimeout = compileLegacyGrpcTimeout(action);
  if (legacyGrpcTimeout) out.legacyGrpcTimeout = legacyGrpcTimeout;
  return out;
}

function compileRoute(route: JsonObject, where: string): CompiledRoute {
  const match = record(route['match']) ?? {};
  const out: CompiledRoute = {
    name: str(route['name']) ?? '',
    pathMatch: compilePathMatch(match, where),
    caseSensitive: bool(match['caseSensitive']) !== false,
    headers: records(match['headers']).map((h) => compileHeaderMatcher(h, where)),
    query: records(match['queryParameters']).map((q) => compileQueryMatcher(q, where)),
    action: compileAction(route, where),
    requestHeaders: compileMutation(route, 'requestHeadersToAdd', 'requestHeadersToRemove'),
    responseHeaders: compileMutation(route, 'responseHeadersToAdd', 'responseHeadersToRemove'),
  };
  if (!out.caseSensitive && out.pathMatch.kind !== 'regex')
    out.pathMatch = { ...out.pathMatch, value: out.pathMatch.value.toLowerCase() };
  const operation = str(record(route['decorator'])?.['operation']);
  if (operation !== undefined) out.decorator = operation;
  addFilterConfigs(out, route, where);
  return out;
}

/** Fault and CORS settings of a route or virtual host (typedPerFilterConfig, and the legacy `cors`). */
function addFilterConfigs(
  out: { fault?: FaultConfig; cors?: CorsPolicy },
  obj: JsonObject,
  where: string,
): void {
  const fault = compileFault(perFilterConfig(obj, FAULT_FILTER));
  if (fault) out.fault = fault;
  const cors = compileCors(perFilterConfig(obj, CORS_FILTER) ?? obj['cors'], where);
  if (cors) out.cors = cors;
}

function compileVirtualHost(vh: JsonObject, where: string): CompiledVirtualHost {
  const name = str(vh['name']) ?? '';
  const out: CompiledVirtualHost = {
    name,
    routes: records(vh['routes']).map((r, i) => compileRoute(r, `${where} virtual host ${name} route ${i}`)),
    requestHeaders: compileMutation(vh, 'requestHeadersToAdd', 'requestHeadersToRemove'),
    responseHeaders: compileMutation(vh, 'responseHeadersToAdd', 'responseHeadersToRemove'),
    includeAttemptCount: bool(vh['includeRequestAttemptCount']) === true,
  };
  const retry = compileRetryPolicy(vh['retryPolicy']);
  if (retry) out.retry = retry;
  addFilterConfigs(out, vh, where);
  return out;
}

/** Compiles one RouteConfiguration; throws ConfigError on what Envoy would reject (bad regex, duplicates). */
/**
 * Compiled route configurations by the decoded resource they came from. A proxy compiles a response once
 * to validate it and again to apply it, and every push resends route configurations that did not change:
 * the decoded objects are the same (the ADS client's decode cache hands them out by bytes, read-only), so
 * their compiled form is reused.
 */
const compiledRouteConfigs = new WeakMap<JsonObject, CompiledRouteConfig>();

export function compileRouteConfig(rc: JsonObject): CompiledRouteConfig {
  const known = compiledRouteConfigs.get(rc);
  if (known) return known;
  const compiled = compileRouteConfigAnew(rc);
  compiledRouteConfigs.set(rc, compiled);
  return compiled;
}

function compileRouteConfigAnew(rc: JsonObject): CompiledRouteConfig {
  const name = str(rc['name']) ?? '';
  const where = `route config ${name}`;
  const out: CompiledRouteConfig = {
    name,
    ignorePortInHostMatching: bool(rc['ignorePortInHostMatching']) === true,
    exact: new Map(),
    suffixes: [],
    prefixes: [],
    requestHeaders: compileMutation(rc, 'requestHeadersToAdd', 'requestHeadersToRemove'),
    responseHeaders: compileMutation(rc, 'responseHeadersToAdd', 'responseHeadersToRemove'),
  };
  const seen = new Set<string>();
  for (const raw of records(rc['virtualHosts'])) {
    const vh = compileVirtualHost(raw, where);
    for (const domain of strings(raw['domains'])) {
      const d = domain.toLowerCase();
      if (seen.has(d))
        throw new ConfigError(
          `Only unique values for domains are permitted. Duplicate entry of domain ${d} in route ${name}`,
        );
      seen.add(d);
      if (d === '*') out.fallback = vh;
      else if (d.startsWith('*')) out.suffixes.push([d.slice(1), vh]);
      else if (d.endsWith('*')) out.prefixes.push([d.slice(0, -1), vh]);
      else out.exact.set(d, vh);
    }
  }
  out.suffixes.sort((a, b) => b[0].length - a[0].length);
  out.prefixes.sort((a, b) => b[0].length - a[0].length);
  return out;
}

/** Strips a `:port` from a host (IPv6 literals in brackets keep their colons). */
export function stripPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.endsWith(']')) return host;
  if (host.startsWith('[') && host.lastIndexOf(']') > colon) return host;
  return /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

/**
 * Envoy's virtual host selection: exact domain, then the longest `*suffix` wildcard, then the longest
 * `prefix*` wildcard, then `*`. Wildcards must match at least one character. Case-insensitive.
 */
export function selectVirtualHost(
  rc: CompiledRouteConfig,
  authority: string,
): CompiledVirtualHost | undefined {
  let host = authority.toLowerCase();
  if (rc.ignorePortInHostMatching) host = stripPort(host);
  const exact = rc.exact.get(host);
  if (exact) return exact;
  for (const [suffix, vh] of rc.suffixes) if (host.length > suffix.length && host.endsWith(suffix)) return vh;
  for (const [prefix, vh] of rc.prefixes)
    if (host.length > prefix.length && host.startsWith(prefix)) return vh;
  return rc.fallback;
}

/** The path without its query string and fragment. */
export function pathOnly(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

function pathMatches(route: CompiledRoute, fullPath: string, path: string): boolean {
  const m = route.pathMatch;
  if (m.kind === 'regex') return m.re.matches(path);
  const full = route.caseSensitive ? fullPath : fullPath.toLowerCase();
  const p = route.caseSensitive ? path : path.toLowerCase();
  switch (m.kind) {
    case 'prefix':
      return full.startsWith(m.value);
    case 'path':
      return p === m.value;
    case 'separated':
      return p === m.value || p.startsWith(m.value.endsWith('/') ? m.value : `${m.value}/`);
  }
}

/** The first route of the virtual host matching the request, as Envoy evaluates them: in order. */
export function matchRoute(vh: CompiledVirtualHost, input: MatchInput): CompiledRoute | undefined {
  const path = pathOnly(input.path);
  let query: ReturnType<typeof parseQuery> | undefined;
  for (const route of vh.routes) {
    if (!pathMatches(route, input.path, path)) continue;
    if (route.headers.length > 0 && !route.headers.every((h) => h(input))) continue;
    if (route.query.length > 0) {
      if (query === undefined) {
        const q = input.path.indexOf('?');
        query = parseQuery(q < 0 ? '' : (input.path.slice(q + 1).split('#')[0] ?? ''));
      }
      const params = query;
      if (!route.query.every((m) => m(params))) continue;
    }
    return route;
  }
  return undefined;
}

/** Picks a cluster of a weighted set with a uniform draw in [0, total). */
export function pickWeighted(
  weighted: { clusters: WeightedCluster[]; total: number },
  random: number = Math.random(),
): WeightedCluster | undefined {
  let point = Math.floor(random * weighted.total);
  for (const c of weighted.clusters) {
    if (point < c.weight) return c;
    point -= c.weight;
  }
  return weighted.clusters[weighted.clusters.length - 1];
}

/** The upstream path after a route's prefix or regex rewrite; undefined when unchanged. */
export function rewritePath(route: CompiledRoute, fullPath: string): string | undefined {
  const action = route.action;
  if (action.kind !== 'forward') return undefined;
  return applyPathRewrite(route, fullPath, action.prefixRewrite, action.regexRewrite);
}

function applyPathRewrite(
  route: CompiledRoute,
  fullPath: string,
  prefixRewrite: string | undefined,
  regexRewrite: RegexRewrite | undefined,
): string | undefined {
  if (
    prefixRewrite !== undefined &&
    (route.pathMatch.kind === 'prefix' || route.pathMatch.kind === 'separated')
  ) {
    return prefixRewrite + fullPath.slice(route.pathMatch.value.length);
  }
  if (regexRewrite) {
    const path = pathOnly(fullPath);
    const rest = fullPath.slice(path.length);
    return regexRewrite.re.matcher(path).replaceAll(regexRewrite.substitution) + rest;
  }
  return undefined;
}

/** The Location of a redirect route, from the request's scheme, authority and path. */
export function redirectLocation(
  route: CompiledRoute,
  action: RedirectAction,
  scheme: string,
  authority: string,
  fullPath: string,
): string {
  const newScheme = action.scheme ?? scheme;
  let host = action.host ?? authority;
  if (action.port !== undefined) host = `${stripPort(host)}:${action.port}`;
  else if (newScheme !== scheme) {
    // Envoy drops a port that was the old scheme's default when the scheme changes.
    const port = host.slice(stripPort(host).length + 1);
    if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443'))
      host = stripPort(host);
  }
  let path = fullPath;
  if (action.path !== undefined) {
    const q = fullPath.indexOf('?');
    path = action.path.includes('?') || q < 0 ? action.path : action.path + fullPath.slice(q);
  } else {
    path = applyPathRewrite(route, fullPath, action.prefixRewrite, action.regexRewrite) ?? fullPath;
  }
  if (action.stripQuery) path = pathOnly(path);
  return `${newScheme}://${host}${path}`;
}

export function isForward(action: RouteAction): action is ForwardAction {
  return action.kind === 'forward';
}

/** Guard used by callers that accept an unknown route config entry. */
export function isRouteConfig(v: unknown): v is JsonObject {
  return isRecord(v);
}
