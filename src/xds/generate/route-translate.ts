/**
 * One VirtualService's HTTP routes in Envoy v3 form, as Istio 1.17 translates them (pilot/pkg/networking/
 * core/v1alpha3/route/route.go BuildHTTPRoutesForVirtualService, translateRoute, translateRouteMatch,
 * applyHTTPRouteDestination, applyRedirect, translateFault, translateCORSPolicy; route/retry/retry.go),
 * written in proto3 JSON with keys in proto field order, the way `istioctl proxy-config routes -o json`
 * prints them. Gateways and sidecars both call this; what differs between them (the listener port, the
 * gateway names, how a destination host finds its service) comes in through RouteContext.
 *
 * Istio 1.17 facts this follows that later versions changed: CORS lives in `route.cors` (not the
 * typedPerFilterConfig of the cors filter), header options carry `append` (not `appendAction`), regexes
 * carry no `googleRe2`, the default retry policy lists status code 503, `totalWeight` is always written
 * for weighted clusters, and an exact-match `rewrite.uri` is a plain `prefixRewrite`.
 */
import type { Service } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { normalizeDuration, outboundClusterName } from './clusters.js';
import type { VirtualServiceConfig } from './route-virtual-services.js';
import { isRecord, records, recordField, strings, stringField, uintField } from './route-values.js';

/** What a route translation needs to know about the proxy. `Proxy` and `GatewayProxyInfo` both fit. */
export interface RouteProxy {
  namespace: string;
  labels: Record<string, string>;
  /** The ISTIO_VERSION the proxy reports; '' or absent means "latest" as istiod assumes. */
  istioVersion?: string;
  /** Node metadata; `GENERATOR: grpc` marks a proxyless gRPC client. */
  metadata?: Record<string, unknown>;
}

export interface RouteContext {
  proxy: RouteProxy;
  /** The sidecar listener port, or the Gateway server port. */
  listenPort: number;
  /** The gateways routes are built for: `ns/name` for a gateway server, `mesh` for sidecars. */
  gatewayNames: ReadonlySet<string>;
  /** The service behind a (resolved) destination host, for the single-port default. */
  serviceFor(host: string): Service | undefined;
  /** The hash policy a DestinationRule's consistent hash gives a destination, if any. */
  hashPolicyFor?(destination: Record<string, unknown>): Json | undefined;
  /** MeshConfig.defaultHttpRetryPolicy; undefined means Istio's built-in default policy. */
  meshRetryPolicy?: unknown;
}

export const TYPE_HTTP_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
const TYPE_PREVIOUS_HOSTS =
  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';
const TYPE_PREVIOUS_PRIORITIES =
  'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig';
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
const JWT_CLAIM_HEADER_PREFIX = '@request.auth.claims.';
const AUTHN_FILTER_NAME = 'istio_authn';
const UNKNOWN_SERVICE = 'UnknownService';
/** Matches an optional `/...` after a path (route.go prefixMatchRegex, for pre-1.14 proxies). */
const PREFIX_MATCH_REGEX = '((\\/).*)?';

/** Status codes Go's net/http knows (http.StatusText non-empty): retryOn numbers must be one of them. */
const GO_HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** pkg/util/grpc SupportedGRPCStatus; an unknown name maps to 0 as a Go map lookup does. */
const GRPC_STATUS_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

const REDIRECT_CODES: Record<number, string | undefined> = {
  0: undefined,
  301: undefined, // MOVED_PERMANENTLY is the enum's zero value: proto3 JSON leaves it out
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

// ---- versions and proxy kinds ----

/** ParseIstioVersion + IsIstioVersionGE1xx: unparseable or empty versions count as the latest. */
export function istioVersionAtLeast(version: string | undefined, minor: number): boolean {
  const m = /^([1-9]+)\.([0-9]+)/.exec((version ?? '').replace(/^release-/, ''));
  if (!m) return true;
  const major = Number(m[1]);
  const min = Number(m[2]);
  return major > 1 || (major === 1 && min >= minor);
}

export function isProxylessGrpc(proxy: RouteProxy): boolean {
  return proxy.metadata?.['GENERATOR'] === 'grpc';
}

// ---- string and header matchers ----

/** util.ConvertToEnvoyMatch: exact / prefix / regex (RE2, no engine field in 1.17); undefined otherwise. */
export function convertStringMatch(m: unknown): Json | undefined {
  if (!isRecord(m)) return undefined;
  if (typeof m['exact'] === 'string') return { exact: m['exact'] };
  if (typeof m['prefix'] === 'string') return { prefix: m['prefix'] };
  if (typeof m['regex'] === 'string') return { safeRegex: { regex: m['regex'] } };
  return undefined;
}

/** translateHeaderMatch: a missing match or the regex `*` means "present". */
function translateHeaderMatch(name: string, m: unknown): Json {
  if (!isRecord(m) || m['regex'] === '*') return { name, presentMatch: true };
  const sm = convertStringMatch(m);
  return sm ? { name, stringMatch: sm } : { name };
}

/** `@request.auth.claims.a.b` headers match JWT claims in istio_authn dynamic metadata instead. */
function translateJwtClaimMatch(name: string, m: unknown): Json | undefined {
  if (!name.toLowerCase().startsWith(JWT_CLAIM_HEADER_PREFIX)) return undefined;
  const claims = name.slice(JWT_CLAIM_HEADER_PREFIX.length).split('.');
  return {
    filter: AUTHN_FILTER_NAME,
    path: ['request.auth.claims', ...claims].map((key) => ({ key })),
    value: { listMatch: { oneOf: { stringMatch: convertStringMatch(m) ?? {} } } },
  };
}

function translateQueryParamMatch(name: string, m: unknown): Json {
  const r = isRecord(m) ? m : {};
  if (typeof r['exact'] === 'string') return { name, stringMatch: { exact: r['exact'] } };
  if (typeof r['regex'] === 'string') return { name, stringMatch: { safeRegex: { regex: r['regex'] } } };
  return { name };
}

/** Go's regexp.QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export interface MatchOptions {
  /** Gateway API routes: a prefix matches whole path segments. */
  gatewaySemantics?: boolean;
  proxyVersion?: string;
}

/** translateRouteMatch: no match means every path (`prefix: /`). */
export function translateRouteMatch(
  match: Record<string, unknown> | undefined,
  opts: MatchOptions = {},
): Json {
  if (!match) return { prefix: '/' };
  const headers: Json[] = [];
  const dynamicMetadata: Json[] = [];
  for (const [name, m] of Object.entries(recordField(match, 'headers') ?? {})) {
    const claim = translateJwtClaimMatch(name, m);
    if (claim) dynamicMetadata.push(claim);
    else headers.push(translateHeaderMatch(name, m));
  }
  for (const [name, m] of Object.entries(recordField(match, 'withoutHeaders') ?? {})) {
    const claim = translateJwtClaimMatch(name, m);
    if (claim) dynamicMetadata.push({ ...claim, invert: true });
    else headers.push({ ...translateHeaderMatch(name, m), invertMatch: true });
  }
  headers.sort((a, b) =>
    String(a['name']) < String(b['name']) ? -1 : String(a['name']) > String(b['name']) ? 1 : 0,
  );

  const out: Json = pathSpecifier(recordField(match, 'uri'), opts);
  out['caseSensitive'] = match['ignoreUriCase'] !== true;
  for (const [field, header] of [
    ['method', ':method'],
    ['authority', ':authority'],
    ['scheme', ':scheme'],
  ] as const) {
    if (match[field] !== undefined && match[field] !== null)
      headers.push(translateHeaderMatch(header, match[field]));
  }
  if (headers.length > 0) out['headers'] = headers;
  const query = Object.entries(recordField(match, 'queryParams') ?? {}).map(([n, m]) =>
    translateQueryParamMatch(n, m),
  );
  if (query.length > 0) out['queryParameters'] = query;
  if (dynamicMetadata.length > 0) out['dynamicMetadata'] = dynamicMetadata;
  return out;
}

function pathSpecifier(uri: Record<string, unknown> | undefined, opts: MatchOptions): Json {
  if (!uri) return { prefix: '/' };
  if (typeof uri['exact'] === 'string') return { path: uri['exact'] };
  if (typeof uri['prefix'] === 'string') {
    const prefix = uri['prefix'];
    if (opts.gatewaySemantics && prefix !== '/') {
      const path = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
      if (istioVersionAtLeast(opts.proxyVersion, 14)) return { pathSeparatedPrefix: path };
      return { safeRegex: { regex: quoteMeta(path) + PREFIX_MATCH_REGEX } };
    }
    return { prefix };
  }
  if (typeof uri['regex'] === 'string') return { safeRegex: { regex: uri['regex'] } };
  return { prefix: '/' };
}

/** sourceMatchHTTP: match-level gateways, else sourceLabels (a subset of the proxy's) and sourceNamespace. */
function sourceMatches(match: Record<string, unknown> | undefined, ctx: RouteContext): boolean {
  if (!match) return true;
  const gateways = strings(match['gateways']);
  if (gateways.length > 0) return gateways.some((g) => ctx.gatewayNames.has(g));
  const labels = recordField(match, 'sourceLabels') ?? {};
  for (const [k, v] of Object.entries(labels)) if ((ctx.proxy.labels[k] ?? '') !== v) return false;
  const ns = stringField(match, 'sourceNamespace');
  return ns === '' || ns === ctx.proxy.namespace;
}

// ---- header operations ----

interface HeaderOperations {
  requestHeadersToAdd: Json[];
  responseHeadersToAdd: Json[];
  requestHeadersToRemove: string[];
  responseHeadersToRemove: string[];
  /** `:authority` / `host` from request set (preferred) or add: becomes a host rewrite. */
  authority: string;
}

function isAuthorityHeader(key: string): boolean {
  const k = key.toLowerCase();
  return k === ':authority' || k === 'host';
}

/** Pseudo-headers and Host cannot be set or removed through header options. */
function isInternalHeader(key: string): boolean {
  return key.startsWith(':') || key.toLowerCase() === 'host';
}

function appendHeaders(map: unknown, append: boolean): { options: Json[]; authority: string } {
  let authority = '';
  const options: Json[] = [];
  for (const [key, value] of Object.entries(isRecord(map) ? map : {})) {
    if (typeof value !== 'string') continue;
    if (isAuthorityHeader(key)) authority = value;
    if (isInternalHeader(key)) continue;
    options.push({ header: { key, value }, append });
  }
  options.sort((a, b) => {
    const ka = String((a['header'] as Json)['key']);
    const kb = String((b['header'] as Json)['key']);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return { options, authority };
}

function translateHeaderOperations(headers: unknown): HeaderOperations {
  const request = recordField(isRecord(headers) ? headers : undefined, 'request');
  const response = recordField(isRecord(headers) ? headers : undefined, 'response');
  const reqSet = appendHeaders(request?.['set'], false);
  const reqAdd = appendHeaders(request?.['add'], true);
  const respSet = appendHeaders(response?.['set'], false);
  const respAdd = appendHeaders(response?.['add'], true);
  return {
    requestHeadersToAdd: [...reqSet.options, ...reqAdd.options],
    responseHeadersToAdd: [...respSet.options, ...respAdd.options],
    requestHeadersToRemove: strings(request?.['remove']).filter((k) => !isInternalHeader(k)),
    responseHeadersToRemove: strings(response?.['remove']).filter((k) => !isInternalHeader(k)),
    authority: reqSet.authority !== '' ? reqSet.authority : reqAdd.authority,
  };
}

// ---- retries, timeouts, percentages ----

/** retry.DefaultPolicy. */
export function defaultRetryPolicy(): Json {
  return {
    retryOn: DEFAULT_RETRY_ON,
    numRetries: 2,
    retryHostPredicate: [
      { name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': TYPE_PREVIOUS_HOSTS } },
    ],
    hostSelectionRetryMaxAttempts: '5',
    retriableStatusCodes: [503],
  };
}

/**
 * retry.ConvertPolicy: no policy → the default; `attempts` ≤ 0 (or absent) → none; otherwise the default
 * with attempts, retryOn (numbers that are HTTP status codes move to retriableStatusCodes), perTryTimeout
 * and retryRemoteLocalities applied.
 */
export function convertRetryPolicy(retries: unknown): Json | undefined {
  if (!isRecord(retries)) return defaultRetryPolicy();
  const attempts = typeof retries['attempts'] === 'number' ? Math.trunc(retries['attempts']) : 0;
  if (attempts <= 0) return undefined;
  const base = defaultRetryPolicy();
  let retryOn = String(base['retryOn']);
  let codes: number[] = [503];
  const userRetryOn = stringField(retries, 'retryOn');
  if (userRetryOn !== '') {
    const parsed = parseRetryOn(userRetryOn);
    retryOn = parsed.retryOn;
    codes = parsed.codes;
    if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn += ',retriable-status-codes';
  }
  const out: Json = { retryOn, numRetries: attempts };
  const perTry = normalizeDuration(retries['perTryTimeout']);
  if (perTry !== undefined) out['perTryTimeout'] = perTry;
  if (retries['retryRemoteLocalities'] === true) {
    out['retryPriority'] = {
      name: 'envoy.retry_priorities.previous_priorities',
      typedConfig: { '@type': TYPE_PREVIOUS_PRIORITIES, updateFrequency: 2 },
    };
  }
  out['retryHostPredicate'] = base['retryHostPredicate'];
  out['hostSelectionRetryMaxAttempts'] = base['hostSelectionRetryMaxAttempts'];
  if (codes.length > 0) out['retriableStatusCodes'] = codes;
  return out;
}

function parseRetryOn(retryOn: string): { retryOn: string; codes: number[] } {
  const codes: number[] = [];
  const rest: string[] = [];
  for (const raw of retryOn.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    // strconv.Atoi accepts an optional sign.
    const n = /^[+-]?\d+$/.test(part) ? Number(part) : NaN;
    if (GO_HTTP_STATUS_CODES.has(n)) codes.push(n);
    else rest.push(part);
  }
  return { retryOn: rest.join(','), codes };
}

/** translatePercentToFractionalPercent: a Percent (0–100, fractional) in parts per million. */
function fractionFromPercent(p: Record<string, unknown>): Json {
  const value = typeof p['value'] === 'number' ? p['value'] : 0;
  const numerator = Math.max(0, Math.trunc(value * 10000));
  return numerator > 0 ? { numerator, denominator: 'MILLION' } : { denominator: 'MILLION' };
}

/** translateIntegerToFractionalPercent: parts per hundred (the enum's zero value, so not written). */
function fractionFromInteger(n: number): Json {
  const numerator = Math.max(0, Math.trunc(n));
  return numerator > 0 ? { numerator } : {};
}

function durationSeconds(v: unknown): string | undefined {
  const d = normalizeDuration(v);
  if (d === undefined) return undefined;
  return String(Number.parseInt(d, 10));
}

// ---- fault, CORS, mirror ----

/** translateFault; undefined when neither a fixed delay nor an HTTP/gRPC abort is usable. */
export function translateFault(fault: unknown): Json | undefined {
  if (!isRecord(fault)) return undefined;
  const out: Json = {};
  const delay = recordField(fault, 'delay');
  if (delay) {
    const percentage = recordField(delay, 'percentage');
    const fixed = normalizeDuration(delay['fixedDelay']);
    // Exponential delays are not supported: the whole delay is dropped.
    if (fixed !== undefined) {
      out['delay'] = {
        fixedDelay: fixed,
        percentage: percentage
          ? fractionFromPercent(percentage)
          : fractionFromInteger(typeof delay['percent'] === 'number' ? delay['percent'] : 0),
      };
    }
  }
  const abort = recordField(fault, 'abort');
  if (abort) {
    const a: Json = {};
    if (typeof abort['httpStatus'] === 'number') a['httpStatus'] = Math.trunc(abort['httpStatus']);
    else if (typeof abort['grpcStatus'] === 'string')
      a['grpcStatus'] = GRPC_STATUS_CODES[abort['grpcStatus']] ?? 0;
    const percentage = recordField(abort, 'percentage');
    if (percentage) a['percentage'] = fractionFromPercent(percentage);
    if ('httpStatus' in a || 'grpcStatus' in a) out['abort'] = a;
  }
  return 'delay' in out || 'abort' in out ? out : undefined;
}

/** translateCORSPolicy (RouteAction.cors in 1.17). */
export function translateCorsPolicy(cors: unknown): Json | undefined {
  if (!isRecord(cors)) return undefined;
  const out: Json = {};
  const allowOrigins = Array.isArray(cors['allowOrigins']) ? cors['allowOrigins'] : [];
  const allowOrigin = strings(cors['allowOrigin']);
  if (allowOrigins.length > 0) {
    const matches = allowOrigins.map(convertStringMatch).filter((m): m is Json => m !== undefined);
    if (matches.length > 0) out['allowOriginStringMatch'] = matches;
  } else if (allowOrigin.length > 0) {
    out['allowOriginStringMatch'] = allowOrigin.map((exact) => ({ exact }));
  }
  for (const field of ['allowMethods', 'allowHeaders', 'exposeHeaders']) {
    const joined = strings(cors[field]).join(',');
    if (joined !== '') out[field] = joined;
  }
  const maxAge = durationSeconds(cors['maxAge']);
  if (maxAge !== undefined) out['maxAge'] = maxAge;
  if (typeof cors['allowCredentials'] === 'boolean') out['allowCredentials'] = cors['allowCredentials'];
  out['filterEnabled'] = { defaultValue: { numerator: 100 } };
  return out;
}

/** mirrorPercent: mirrorPercentage, else the integer mirrorPercent, else 100%; an explicit 0 disables. */
function mirrorFraction(http: Record<string, unknown>): Json | undefined {
  const percentage = recordField(http, 'mirrorPercentage');
  if (percentage) {
    const value = typeof percentage['value'] === 'number' ? percentage['value'] : 0;
    return value > 0 ? { defaultValue: fractionFromPercent(percentage) } : undefined;
  }
  const percent = http['mirrorPercent'];
  if (typeof percent === 'number')
    return percent > 0 ? { defaultValue: fractionFromInteger(percent) } : undefined;
  return { defaultValue: { numerator: 100 } };
}

// ---- destinations ----

/**
 * GetDestinationCluster: `outbound|<port>|<subset>|<host>`, the port being the destination's, else the
 * service's only port, else the listener's. An empty host gives `UnknownService`.
 */
export function destinationClusterName(
  destination: Record<string, unknown> | undefined,
  service: Service | undefined,
  listenPort: number,
): string {
  const host = stringField(destination, 'host');
  if (host === '') return UNKNOWN_SERVICE;
  let port = listenPort;
  const portSelector = recordField(destination, 'port');
  if (portSelector) port = uintField(portSelector, 'number');
  else if (service && service.ports.length === 1) port = service.ports[0]?.port ?? listenPort;
  return outboundClusterName(port, stringField(destination, 'subset'), host);
}

/** getRouteOperation: `<host>:<port><path>` for a single cluster, else `<vs name>:<listen port><path>`. */
function routeOperation(match: Json, cluster: string | undefined, vsName: string, port: number): string {
  let path = '/*';
  if (typeof match['prefix'] === 'string') path = `${match['prefix']}*`;
  else if (typeof match['path'] === 'string') path = match['path'];
  else if (isRecord(match['safeRegex'])) path = stringField(match['safeRegex'], 'regex');
  if (cluster !== undefined && cluster.split('|').length === 4) {
    const [, p, , host] = cluster.split('|');
    // strconv.Atoi of a non-number gives 0.
    const n = /^[+-]?\d+$/.test(p ?? '') ? Number(p) : 0;
    return `${host ?? ''}:${n}${path}`;
  }
  return `${vsName}:${port}${path}`;
}

function setTimeouts(action: Json, timeout: unknown, proxy: RouteProxy | undefined): void {
  const t = normalizeDuration(timeout) ?? '0s';
  action['timeout'] = t;
  if (proxy && isProxylessGrpc(proxy)) action['maxStreamDuration'] = { maxStreamDuration: t };
  else action['maxGrpcTimeout'] = t;
}

/** Fields of a RouteAction in proto order, so the JSON reads like istioctl's. */
const ROUTE_ACTION_ORDER = [
  'cluster',
  'weightedClusters',
  'clusterNotFoundResponseCode',
  'prefixRewrite',
  'regexRewrite',
  'hostRewriteLiteral',
  'timeout',
  'retryPolicy',
  'requestMirrorPolicies',
  'hashPolicy',
  'cors',
  'maxGrpcTimeout',
  'maxStreamDuration',
];

function ordered(obj: Json, order: readonly string[]): Json {
  const out: Json = {};
  for (const key of order) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

interface RouteHeaders {
  requestHeadersToAdd: Json[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: Json[];
  responseHeadersToRemove: string[];
}

/** applyHTTPRouteDestination: the RouteAction of a route that forwards (no redirect, no direct response). */
function routeAction(
  ctx: RouteContext,
  vs: VirtualServiceConfig,
  http: Record<string, unknown>,
  headerAuthority: string,
  routeHeaders: RouteHeaders,
): Json {
  const action: Json = {};
  const retries =
    http['retries'] !== undefined && http['retries'] !== null ? http['retries'] : ctx.meshRetryPolicy;
  action['cors'] = translateCorsPolicy(http['corsPolicy']);
  action['retryPolicy'] = convertRetryPolicy(retries);
  setTimeouts(action, http['timeout'], ctx.proxy);
  if (vs.gatewaySemantics && istioVersionAtLeast(ctx.proxy.istioVersion, 15)) {
    action['clusterNotFoundResponseCode'] = 'INTERNAL_SERVER_ERROR';
  }
  let authority = headerAuthority;
  const rewrite = recordField(http, 'rewrite');
  if (rewrite) {
    const uri = stringField(rewrite, 'uri');
    if (vs.gatewaySemantics && uri.startsWith('%FULLREPLACE()%')) {
      action['regexRewrite'] = {
        pattern: { regex: '/.+' },
        substitution: uri.slice('%FULLREPLACE()%'.length),
      };
    } else if (uri !== '') {
      action['prefixRewrite'] = uri;
    }
    if (stringField(rewrite, 'authority') !== '') authority = stringField(rewrite, 'authority');
  }
  if (authority !== '') action['hostRewriteLiteral'] = authority;

  const mirror = recordField(http, 'mirror');
  if (mirror) {
    const fraction = mirrorFraction(http);
    if (fraction) {
      action['requestMirrorPolicies'] = [
        {
          cluster: destinationClusterName(
            mirror,
            ctx.serviceFor(stringField(mirror, 'host')),
            ctx.listenPort,
          ),
          runtimeFraction: fraction,
          traceSampled: false,
        },
      ];
    }
  }

  const destinations = Array.isArray(http['route']) ? http['route'] : [];
  const weighted: Json[] = [];
  const hashPolicy: Json[] = [];
  let totalWeight = 0;
  for (const entry of destinations) {
    const dst = isRecord(entry) ? entry : {};
    let weight = uintField(dst, 'weight');
    if (weight === 0) {
      // A lone destination without a weight takes all traffic; other zero weights are dropped.
      if (destinations.length !== 1) continue;
      weight = 100;
    }
    const destination = recordField(dst, 'destination');
    const cw: Json = {
      name: destinationClusterName(
        destination,
        ctx.serviceFor(stringField(destination, 'host')),
        ctx.listenPort,
      ),
      weight,
    };
    totalWeight += weight;
    if (dst['headers'] !== undefined && dst['headers'] !== null) {
      const ops = translateHeaderOperations(dst['headers']);
      if (ops.requestHeadersToAdd.length > 0) cw['requestHeadersToAdd'] = ops.requestHeadersToAdd;
      if (ops.requestHeadersToRemove.length > 0) cw['requestHeadersToRemove'] = ops.requestHeadersToRemove;
      if (ops.responseHeadersToAdd.length > 0) cw['responseHeadersToAdd'] = ops.responseHeadersToAdd;
      if (ops.responseHeadersToRemove.length > 0) cw['responseHeadersToRemove'] = ops.responseHeadersToRemove;
      if (ops.authority !== '') cw['hostRewriteLiteral'] = ops.authority;
    }
    weighted.push(cw);
    const hash = destination ? ctx.hashPolicyFor?.(destination) : undefined;
    if (hash) hashPolicy.push(hash);
  }
  if (hashPolicy.length > 0) action['hashPolicy'] = hashPolicy;

  const only = weighted.length === 1 ? weighted[0] : undefined;
  if (only) {
    action['cluster'] = only['name'];
    routeHeaders.requestHeadersToAdd.push(...((only['requestHeadersToAdd'] as Json[] | undefined) ?? []));
    routeHeaders.requestHeadersToRemove.push(
      ...((only['requestHeadersToRemove'] as string[] | undefined) ?? []),
    );
    routeHeaders.responseHeadersToAdd.push(...((only['responseHeadersToAdd'] as Json[] | undefined) ?? []));
    routeHeaders.responseHeadersToRemove.push(
      ...((only['responseHeadersToRemove'] as string[] | undefined) ?? []),
    );
    // A route-level authority wins over the destination's, so one and many destinations behave alike.
    if (only['hostRewriteLiteral'] !== undefined && action['hostRewriteLiteral'] === undefined) {
      action['hostRewriteLiteral'] = only['hostRewriteLiteral'];
    }
  } else {
    action['weightedClusters'] = weighted.length > 0 ? { clusters: weighted, totalWeight } : { totalWeight };
  }
  return ordered(action, ROUTE_ACTION_ORDER);
}

/** applyRedirect; undefined (a route without an action) for a redirect code Envoy cannot express. */
function redirectAction(
  redirect: Record<string, unknown>,
  listenPort: number,
  gatewaySemantics: boolean,
): Json | undefined {
  const code = redirect['redirectCode'] === undefined ? 0 : redirect['redirectCode'];
  if (typeof code !== 'number' || !(code in REDIRECT_CODES)) return undefined;
  const out: Json = {};
  if (stringField(redirect, 'scheme') !== '') out['schemeRedirect'] = redirect['scheme'];
  if (stringField(redirect, 'authority') !== '') out['hostRedirect'] = redirect['authority'];
  const derive = redirect['derivePort'];
  if (derive === 'FROM_REQUEST_PORT' || derive === 1) out['portRedirect'] = listenPort;
  else if (uintField(redirect, 'port') > 0) out['portRedirect'] = uintField(redirect, 'port');
  const uri = stringField(redirect, 'uri');
  // The path is a oneof member, so Go's protojson writes it even when empty.
  if (gatewaySemantics && uri.startsWith('%PREFIX()%')) out['prefixRewrite'] = uri.slice('%PREFIX()%'.length);
  else out['pathRedirect'] = uri;
  const responseCode = REDIRECT_CODES[code];
  if (responseCode !== undefined) out['responseCode'] = responseCode;
  return out;
}

function directResponseAction(dr: Record<string, unknown>): Json {
  const out: Json = { status: uintField(dr, 'status') };
  const body = recordField(dr, 'body');
  if (body && typeof body['string'] === 'string') out['body'] = { inlineString: body['string'] };
  else if (body && typeof body['bytes'] === 'string') out['body'] = { inlineBytes: body['bytes'] };
  return out;
}

/**
 * translateRoute: one Envoy route for one HTTPRoute and one of its matches (or none). Undefined when the
 * match is for another port, other source labels/namespace, or other gateways.
 */
export function translateHttpRoute(
  ctx: RouteContext,
  vs: VirtualServiceConfig,
  http: Record<string, unknown>,
  match: Record<string, unknown> | undefined,
): Json | undefined {
  if (match) {
    const port = match['port'];
    if (typeof port === 'number' && port !== 0 && port !== ctx.listenPort) return undefined;
  }
  if (!sourceMatches(match, ctx)) return undefined;

  let name = stringField(http, 'name');
  const matchName = stringField(match, 'name');
  if (matchName !== '') name = `${name}.${matchName}`;
  const routeMatch = translateRouteMatch(match, {
    gatewaySemantics: vs.gatewaySemantics,
    ...(ctx.proxy.istioVersion !== undefined ? { proxyVersion: ctx.proxy.istioVersion } : {}),
  });

  const headers: RouteHeaders = {
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
  let authority = '';
  if (http['headers'] !== undefined && http['headers'] !== null) {
    const ops = translateHeaderOperations(http['headers']);
    headers.requestHeadersToAdd.push(...ops.requestHeadersToAdd);
    headers.requestHeadersToRemove.push(...ops.requestHeadersToRemove);
    headers.responseHeadersToAdd.push(...ops.responseHeadersToAdd);
    headers.responseHeadersToRemove.push(...ops.responseHeadersToRemove);
    authority = ops.authority;
  }

  const out: Json = {};
  if (name !== '') out['name'] = name;
  out['match'] = routeMatch;
  const redirect = recordField(http, 'redirect');
  const directResponse = recordField(http, 'directResponse');
  let cluster: string | undefined;
  if (redirect) {
    const action = redirectAction(redirect, ctx.listenPort, vs.gatewaySemantics);
    if (action) out['redirect'] = action;
  } else if (directResponse) {
    out['directResponse'] = directResponseAction(directResponse);
  } else {
    const action = routeAction(ctx, vs, http, authority, headers);
    out['route'] = action;
    if (typeof action['cluster'] === 'string') cluster = action['cluster'];
  }
  out['metadata'] = { filterMetadata: { istio: { config: vs.configPath } } };
  out['decorator'] = { operation: routeOperation(routeMatch, cluster, vs.name, ctx.listenPort) };
  if (http['fault'] !== undefined && http['fault'] !== null) {
    out['typedPerFilterConfig'] = {
      [FAULT_FILTER_NAME]: { '@type': TYPE_HTTP_FAULT, ...(translateFault(http['fault']) ?? {}) },
    };
  }
  if (headers.requestHeadersToAdd.length > 0) out['requestHeadersToAdd'] = headers.requestHeadersToAdd;
  if (headers.requestHeadersToRemove.length > 0)
    out['requestHeadersToRemove'] = headers.requestHeadersToRemove;
  if (headers.responseHeadersToAdd.length > 0) out['responseHeadersToAdd'] = headers.responseHeadersToAdd;
  if (headers.responseHeadersToRemove.length > 0)
    out['responseHeadersToRemove'] = headers.responseHeadersToRemove;
  const statPrefix = stringField(match, 'statPrefix');
  if (statPrefix !== '') out['statPrefix'] = statPrefix;
  return out;
}

/** isCatchAllRoute: every path, no header / query / metadata condition. */
export function isCatchAllRoute(route: Json): boolean {
  const match = isRecord(route['match']) ? route['match'] : {};
  const regex = isRecord(match['safeRegex']) ? match['safeRegex']['regex'] : undefined;
  const everyPath = match['prefix'] === '/' || match['pathSeparatedPrefix'] === '/' || regex === '*';
  const none = (k: string): boolean => !Array.isArray(match[k]) || match[k].length === 0;
  return everyPath && none('headers') && none('queryParameters') && none('dynamicMetadata');
}

/**
 * BuildHTTPRoutesForVirtualService: the routes of every http entry and match in order, stopping after the
 * first catch-all (nothing after it could match). Empty when no route applies.
 */
export function buildHttpRoutesForVirtualService(ctx: RouteContext, vs: VirtualServiceConfig): Json[] {
  const out: Json[] = [];
  for (const http of vs.http) {
    const matches = records(http['match']);
    let catchAll = false;
    if (matches.length === 0) {
      const r = translateHttpRoute(ctx, vs, http, undefined);
      if (r) out.push(r);
      catchAll = true;
    } else {
      for (const match of matches) {
        const r = translateHttpRoute(ctx, vs, http, match);
        if (!r) continue;
        out.push(r);
        if (isCatchAllRoute(r)) {
          catchAll = true;
          break;
        }
      }
    }
    if (catchAll) break;
  }
  return out;
}

/** SortVHostRoutes: catch-all routes move to the end, the others keep their order. */
export function sortVirtualHostRoutes(routes: readonly Json[]): Json[] {
  return [...routes.filter((r) => !isCatchAllRoute(r)), ...routes.filter(isCatchAllRoute)];
}

/**
 * BuildDefaultHTTPOutboundRoute: the `default` route of a service without a VirtualService: every path
 * to its cluster, no timeout, the mesh's (or Istio's) default retry policy, decorator `<host>:<port>/*`.
 */
export function buildDefaultOutboundRoute(
  cluster: string,
  operation: string,
  meshRetryPolicy?: unknown,
  hashPolicy?: Json,
): Json {
  const action: Json = { cluster, timeout: '0s' };
  const retry = convertRetryPolicy(meshRetryPolicy);
  if (retry) action['retryPolicy'] = retry;
  if (hashPolicy) action['hashPolicy'] = [hashPolicy];
  action['maxGrpcTimeout'] = '0s';
  return { name: 'default', match: { prefix: '/' }, route: action, decorator: { operation } };
}

/** The mesh default retry policy (`defaultHttpRetryPolicy`), when the mesh config sets one. */
export function meshRetryPolicy(mesh: Record<string, unknown>): unknown {
  const policy = mesh['defaultHttpRetryPolicy'];
  return isRecord(policy) ? policy : undefined;
}
