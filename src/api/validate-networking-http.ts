// VirtualService HTTP routes: Istio 1.17's validateHTTPRoute (virtualservice.go) and the helpers it calls in
// validation.go (header operations, CORS, fault injection, redirect, direct response, retries, rewrite,
// weighted destinations).
import {
  byteLength,
  checkDuration,
  checkLabels,
  goAtoi,
  goFloat,
  goQuote,
  isDns1123Label,
  mapKeyPath,
  regexMatchError,
} from './fields.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  entries,
  errorsOnly,
  field,
  has,
  list,
  msg,
  num,
  reportPort,
  str,
  stringEntries,
  strList,
  validateDestination,
  validateGatewayNames,
  wrapperNumber,
} from './validate-networking-common.js';

// ---- header names and values ----

function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}

function isAuthorityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ':authority' || lower === 'host';
}

/** ValidateHTTPHeaderName. */
function headerNameError(name: string): string | undefined {
  return name === '' ? 'header name cannot be empty' : undefined;
}

/** ValidateHTTPHeaderWithAuthorityOperationName: route-level request add/set. */
function authorityOperationNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternalHeader(name) && !isAuthorityHeader(name)) {
    return `invalid header ${goQuote(name)}: header cannot have ":" prefix`;
  }
  return undefined;
}

/** ValidateHTTPHeaderWithHostOperationName: destination-level request add/set (`:authority` not allowed). */
function hostOperationNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternalHeader(name) && name.toLowerCase() !== 'host') {
    return `invalid header ${goQuote(name)}: header cannot have ":" prefix`;
  }
  return undefined;
}

/** ValidateHTTPHeaderOperationName: request remove and every response operation. */
function operationNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header ${goQuote(name)}: cannot set Host header`;
  if (isInternalHeader(name)) return `invalid header ${goQuote(name)}: header cannot have ":" prefix`;
  return undefined;
}

// Control characters other than TAB are not allowed in header values.
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_CHARS = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

/** ValidateHTTPHeaderValue: no control characters, and Envoy's `%VAR%` / `%VAR(args)%` syntax. */
export function headerValueError(value: string): string | undefined {
  if (!HEADER_VALUE_CHARS.test(value)) return `header value configuration ${value} is invalid`;
  const err = envoyHeaderFormatError(value);
  return err === undefined ? undefined : `header value configuration: ${err}`;
}

/** A port of Envoy's header formatter parser (header_parser.cc), as Istio's validateHeaderValue does it. */
function envoyHeaderFormatError(value: string): string | undefined {
  type State = 'literal' | 'name' | 'array' | 'string' | 'inString' | 'delimiter' | 'argsEnd' | 'varEnd';
  let state: State = 'literal';
  for (let pos = 0; pos < value.length; pos++) {
    const ch = value[pos];
    const hasNext = pos + 1 < value.length;
    switch (state) {
      case 'literal':
        if (ch !== '%') break;
        if (!hasNext) return 'invalid header configuration. Un-escaped %';
        if (value[pos + 1] === '%') pos++;
        else state = 'name';
        break;
      case 'name':
        if (ch === '%') state = 'literal';
        else if (ch === '(') state = 'array';
        break;
      case 'array':
        if (ch === '[') state = 'string';
        else if (ch !== ' ') state = 'inString';
        break;
      case 'delimiter':
        if (ch === ',') state = 'string';
        else if (ch === ']') state = 'argsEnd';
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case 'string':
        if (ch === '"') state = 'inString';
        else if (ch !== ' ') return `invalid header configuration. Expecting '"'`;
        break;
      case 'inString':
        if (ch === '\\') {
          if (!hasNext) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++;
        } else if (ch === ')') state = 'varEnd';
        else if (ch === '"') state = 'delimiter';
        break;
      case 'argsEnd':
        if (ch === ')') state = 'varEnd';
        else if (ch !== ' ') {
          return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        }
        break;
      case 'varEnd':
        if (ch === '%') state = 'literal';
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  if (state !== 'literal')
    return `invalid header configuration. Un-terminated variable expression '${value}'`;
  return undefined;
}

type NameCheck = (name: string) => string | undefined;

/**
 * Header operations (`headers.request` / `headers.response`). Request add/set names follow the rule of their
 * level (route or destination); removals and every response operation use the strict rule.
 */
function validateHeaderOperations(
  v: Sink,
  path: string,
  headers: Obj | undefined,
  requestAddSet: NameCheck,
): void {
  validateOperations(v, `${path}.request`, msg(headers, 'request'), requestAddSet);
  validateOperations(v, `${path}.response`, msg(headers, 'response'), operationNameError);
}

function validateOperations(v: Sink, path: string, ops: Obj | undefined, addSetName: NameCheck): void {
  for (const kind of ['add', 'set'] as const) {
    for (const [name, value] of stringEntries(ops, kind)) {
      const at = mapKeyPath(`${path}.${kind}`, name);
      report(v, at, addSetName(name));
      report(v, at, headerValueError(value));
    }
  }
  for (const [i, name] of strList(ops, 'remove').entries()) {
    report(v, `${path}.remove[${i}]`, operationNameError(name));
  }
}

function report(v: Sink, path: string, err: string | undefined): void {
  if (err) v.error(path, err);
}

// ---- string matches ----

type MatchKind = 'exact' | 'prefix' | 'regex';

/** The oneof of a StringMatch: which of exact/prefix/regex is set, and its value. */
export function stringMatch(sm: Obj | undefined): { kind: MatchKind; value: string } | undefined {
  if (!sm) return undefined;
  for (const key of Object.keys(sm)) {
    if (
      (key === 'exact' || key === 'prefix' || key === 'regex') &&
      sm[key] !== null &&
      sm[key] !== undefined
    ) {
      return { kind: key, value: str(sm, key) };
    }
  }
  return undefined;
}

function checkStringMatchRegex(v: Sink, path: string, sm: Obj | undefined, where: string): void {
  const m = stringMatch(sm);
  if (m?.kind === 'regex') report(v, `${path}.regex`, regexMatchError(where, m.value));
}

// ---- match requests ----

/** validateHTTPRouteMatchRequest. Root and delegate routes skip the regex checks but check nulls. */
function validateMatchRequests(v: Sink, path: string, route: Obj, independent: boolean): void {
  for (const [j, raw] of list(route, 'match').entries()) {
    const match = asObj(raw);
    if (!match) continue;
    const mp = `${path}.match[${j}]`;
    for (const [name, header] of entries(match, 'headers')) {
      const hp = mapKeyPath(`${mp}.headers`, name);
      if (header === null) v.error(hp, `header match ${name} cannot be null`);
      const sm = asObj(header);
      const m = stringMatch(sm);
      if (m?.kind === 'prefix' && m.value === '') v.error(hp, `header prefix match ${name} may not be empty`);
      report(v, hp, headerNameError(name));
      if (independent) checkStringMatchRegex(v, hp, sm, 'headers');
    }
    if (independent) {
      for (const key of ['uri', 'scheme', 'method', 'authority']) {
        checkStringMatchRegex(v, `${mp}.${key}`, msg(match, key), key);
      }
      for (const [name, qp] of entries(match, 'queryParams')) {
        checkStringMatchRegex(v, mapKeyPath(`${mp}.queryParams`, name), asObj(qp), 'queryParams');
      }
    } else {
      for (const [name, qp] of entries(match, 'queryParams')) {
        if (qp === null)
          v.error(mapKeyPath(`${mp}.queryParams`, name), `query param match ${name} cannot be null`);
      }
      for (const [name, header] of entries(match, 'withoutHeaders')) {
        const hp = mapKeyPath(`${mp}.withoutHeaders`, name);
        if (header === null) v.error(hp, `withoutHeaders match ${name} cannot be null`);
        report(v, hp, headerNameError(name));
      }
    }
  }
  for (const [j, raw] of list(route, 'match').entries()) {
    const match = asObj(raw);
    if (!match) continue;
    const mp = `${path}.match[${j}]`;
    const port = num(match, 'port');
    if (port !== 0) reportPort(v, `${mp}.port`, port);
    checkLabels(v, `${mp}.sourceLabels`, field(match, 'sourceLabels'));
    // Istio appends these with appendErrors, which drops the legacy-name warnings.
    validateGatewayNames(errorsOnly(v), `${mp}.gateways`, strList(match, 'gateways'));
    const sourceNamespace = str(match, 'sourceNamespace');
    if (sourceNamespace !== '' && !isDns1123Label(sourceNamespace)) {
      v.error(`${mp}.sourceNamespace`, `sourceNamespace match ${sourceNamespace} is invalid`);
    }
  }
}

// ---- route conflicts ----

type RouteType = 'independent' | 'root' | 'delegate';

/** validateHTTPRouteConflict: which of route / redirect / directResponse / fault / rewrite may coexist. */
function validateConflicts(v: Sink, path: string, route: Obj, type: RouteType): void {
  const hasRoute = list(route, 'route').length > 0;
  const redirect = has(route, 'redirect');
  const direct = has(route, 'directResponse');
  const fault = has(route, 'fault');
  const rewrite = has(route, 'rewrite');
  if (type === 'root') {
    // A root route only delegates.
    const name = str(route, 'name');
    if (redirect) v.error(`${path}.redirect`, `root HTTP route ${name} must not specify redirect`);
    if (hasRoute) v.error(`${path}.route`, `root HTTP route ${name} must not specify route`);
    return;
  }
  if (type === 'delegate' && has(route, 'delegate')) {
    v.error(`${path}.delegate`, 'delegate HTTP route cannot contain delegate');
  }
  if (redirect) {
    if (hasRoute) v.error(`${path}.route`, 'HTTP route cannot contain both route and redirect');
    if (fault) v.error(`${path}.fault`, 'HTTP route cannot contain both fault and redirect');
    if (rewrite) v.error(`${path}.rewrite`, 'HTTP route rule cannot contain both rewrite and redirect');
    if (direct)
      v.error(`${path}.directResponse`, 'HTTP route rule cannot contain both direct_response and redirect');
  } else if (direct) {
    if (hasRoute) v.error(`${path}.route`, 'HTTP route cannot contain both route and direct_response');
    if (fault) v.error(`${path}.fault`, 'HTTP route cannot contain both fault and direct_response');
    if (rewrite)
      v.error(`${path}.rewrite`, 'HTTP route rule cannot contain both rewrite and direct_response');
  } else if (!hasRoute) {
    v.error(path, 'HTTP route, redirect or direct_response is required');
  }
}

// ---- CORS, fault injection, redirect, direct response, retries, rewrite ----

const HTTP_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
]);

function validateCORS(v: Sink, path: string, cors: Obj | undefined): void {
  if (!cors) return;
  for (const [i, raw] of list(cors, 'allowOrigins').entries()) {
    const origin = asObj(raw);
    const at = `${path}.allowOrigins[${i}]`;
    const m = stringMatch(origin);
    if (!m || m.value === '') {
      v.error(at, `'' is not a valid match type for CORS allow origins`);
      continue;
    }
    checkStringMatchRegex(v, at, origin, 'corsPolicy.allowOrigins');
  }
  for (const [i, method] of strList(cors, 'allowMethods').entries()) {
    if (!HTTP_METHODS.has(method))
      v.error(`${path}.allowMethods[${i}]`, `${goQuote(method)} is not a supported HTTP method`);
  }
  for (const key of ['allowHeaders', 'exposeHeaders']) {
    for (const [i, name] of strList(cors, key).entries())
      report(v, `${path}.${key}[${i}]`, headerNameError(name));
  }
  if (has(cors, 'maxAge')) {
    const ns = checkDuration(v, `${path}.maxAge`, field(cors, 'maxAge'));
    if (ns !== undefined && ns % 1_000_000_000n > 0n) {
      v.error(`${path}.maxAge`, 'max_age duration is accurate only to seconds precision');
    }
  }
}

/** validatePercentage for a fractional Percent: 0, or within [0.0001, 100]. */
function checkFractionalPercent(v: Sink, path: string, percent: Obj | undefined): void {
  if (!percent) return;
  const value = num(percent, 'value');
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001)) {
    v.error(`${path}.value`, `percentage ${goFloat(value)} is neither 0.0, nor in range [0.0001, 100.0]`);
  }
}

/** HTTP statuses Istio accepts for aborts and direct responses (200..600, as the code checks). */
function httpStatusError(status: number): string | undefined {
  return status < 200 || status > 600 ? `HTTP status ${status} is not in range 200-599` : undefined;
}

const GRPC_STATUSES = new Set([
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
]);

function validateFault(v: Sink, path: string, fault: Obj | undefined): void {
  if (!fault) return;
  const abort = msg(fault, 'abort');
  const delay = msg(fault, 'delay');
  if (!abort && !delay) v.error(path, 'HTTP fault injection must have an abort and/or a delay');
  if (abort) {
    const ap = `${path}.abort`;
    checkFractionalPercent(v, `${ap}.percentage`, msg(abort, 'percentage'));
    // The error type is a oneof; the first one present wins.
    const errorType = Object.keys(abort).find(
      (k) => ['grpcStatus', 'http2Error', 'httpStatus'].includes(k) && abort[k] !== null,
    );
    if (errorType === 'grpcStatus') {
      const status = str(abort, 'grpcStatus');
      if (!GRPC_STATUSES.has(status)) {
        v.error(
          `${ap}.grpcStatus`,
          `gRPC status ${goQuote(status)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        );
      }
    } else if (errorType === 'http2Error') {
      v.error(`${ap}.http2Error`, 'HTTP/2 abort fault injection not supported yet');
    } else if (errorType === 'httpStatus') {
      report(v, `${ap}.httpStatus`, httpStatusError(num(abort, 'httpStatus')));
    }
  }
  if (delay) {
    const dp = `${path}.delay`;
    checkFractionalPercent(v, `${dp}.percentage`, msg(delay, 'percentage'));
    const delayType = Object.keys(delay).find(
      (k) => ['fixedDelay', 'exponentialDelay'].includes(k) && delay[k] !== null,
    );
    if (delayType === 'fixedDelay') checkDuration(v, `${dp}.fixedDelay`, field(delay, 'fixedDelay'));
    else if (delayType === 'exponentialDelay') {
      checkDuration(v, `${dp}.exponentialDelay`, field(delay, 'exponentialDelay'));
      v.error(`${dp}.exponentialDelay`, 'exponentialDelay not supported yet');
    }
  }
}

/** validateHTTPRedirect: Istio returns only the first problem. */
function redirectError(redirect: Obj): [string, string] | undefined {
  const hasPort = has(redirect, 'port') || has(redirect, 'derivePort');
  if (
    str(redirect, 'uri') === '' &&
    str(redirect, 'authority') === '' &&
    !hasPort &&
    str(redirect, 'scheme') === ''
  ) {
    return ['', 'redirect must specify URI, authority, scheme, or port'];
  }
  const code = num(redirect, 'redirectCode');
  if (code !== 0 && (code < 300 || code > 399)) {
    return ['.redirectCode', `${code} is not a valid redirect code, must be 3xx`];
  }
  const scheme = str(redirect, 'scheme');
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') {
    return ['.scheme', 'invalid redirect scheme, must be "http" or "https"'];
  }
  const port = num(redirect, 'port');
  if (port > 0 && (port > 65535 || !Number.isInteger(port))) {
    return ['.port', `port number ${port} must be in the range 1..65535`];
  }
  return undefined;
}

const KB = 1024;
const MB = 1024 * KB;

function validateDirectResponse(v: Sink, path: string, direct: Obj | undefined): void {
  if (!direct) return;
  const body = msg(direct, 'body');
  if (body) {
    let size = 0;
    if (has(body, 'string')) size = byteLength(str(body, 'string'));
    else if (has(body, 'bytes')) size = Buffer.from(str(body, 'bytes'), 'base64').length;
    if (size > MB) {
      v.error(
        `${path}.body`,
        'large direct_responses may impact control plane performance, must be less than 1MB',
      );
    } else if (size > 100 * KB) {
      v.warn(`${path}.body`, 'large direct_responses may impact control plane performance');
    }
  }
  report(v, `${path}.status`, httpStatusError(num(direct, 'status')));
}

/** Envoy's retry_on policies (router filter x-envoy-retry-on and x-envoy-retry-grpc-on). */
const RETRY_ON_POLICIES = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** Status codes with a Go http.StatusText (Go 1.19/1.20). */
const HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

function validateRetries(v: Sink, path: string, retries: Obj | undefined): void {
  if (!retries) return;
  const attempts = num(retries, 'attempts');
  const retryOn = str(retries, 'retryOn');
  if (attempts < 0) v.error(`${path}.attempts`, 'attempts cannot be negative');
  if (
    attempts === 0 &&
    (has(retries, 'perTryTimeout') || retryOn !== '' || has(retries, 'retryRemoteLocalities'))
  ) {
    v.error(`${path}.attempts`, 'http retry policy configured when attempts are set to 0 (disabled)');
  }
  if (has(retries, 'perTryTimeout'))
    checkDuration(v, `${path}.perTryTimeout`, field(retries, 'perTryTimeout'));
  if (retryOn !== '') {
    // Split on commas without trimming, as Istio does: "5xx, reset" fails on " reset".
    for (const policy of retryOn.split(',')) {
      const code = goAtoi(policy) ?? 0;
      if (!HTTP_STATUS_CODES.has(code) && !RETRY_ON_POLICIES.has(policy)) {
        v.error(`${path}.retryOn`, `${goQuote(policy)} is not a valid retryOn policy`);
      }
    }
  }
}

/** validateAuthorityRewrite: the authority may be rewritten in one place only. */
function validateAuthorityRewrite(v: Sink, path: string, route: Obj): void {
  let current = str(msg(route, 'rewrite'), 'authority');
  const request = msg(msg(route, 'headers'), 'request');
  for (const kind of ['set', 'add']) {
    for (const [name, value] of stringEntries(request, kind)) {
      if (!isAuthorityHeader(name)) continue;
      if (current !== '') {
        v.error(
          `${path}.headers.request.${kind}`,
          `authority header cannot be set multiple times: have ${goQuote(current)}, attempting to set ${goQuote(value)}`,
        );
        return;
      }
      current = value;
    }
  }
}

/**
 * Istio's validateHTTPRouteDestinations and validateRouteDestinations, which differ only in the header
 * operations HTTP destinations carry: `eachDestination` runs for each one between the `destination is
 * required` check and the destination's own checks, keeping Istio's error order.
 */
function validateWeightedDestinations(
  v: Sink,
  path: string,
  destinations: unknown[],
  eachDestination?: (at: string, dest: Obj) => void,
): void {
  let total = 0;
  for (const [i, raw] of destinations.entries()) {
    const at = `${path}[${i}]`;
    const dest = asObj(raw);
    if (!dest) {
      v.error(at, 'weight may not be nil');
      continue;
    }
    if (!has(dest, 'destination')) v.error(`${at}.destination`, 'destination is required');
    eachDestination?.(at, dest);
    validateDestination(v, `${at}.destination`, msg(dest, 'destination'));
    const weight = num(dest, 'weight');
    if (weight < 0) v.error(`${at}.weight`, `weight ${weight} < 0`);
    total += weight;
  }
  if (destinations.length > 1 && total === 0) v.error(path, 'total destination weight = 0');
}

/** validateHTTPRouteDestinations: weighted destinations with their own header operations. */
function validateHTTPRouteDestinations(v: Sink, path: string, destinations: unknown[]): void {
  validateWeightedDestinations(v, path, destinations, (at, dest) =>
    validateHeaderOperations(v, `${at}.headers`, msg(dest, 'headers'), hostOperationNameError),
  );
}

/** validateRouteDestinations (TLS and TCP routes). */
export function validateRouteDestinations(v: Sink, path: string, destinations: unknown[]): void {
  validateWeightedDestinations(v, path, destinations);
}

/** validateHTTPRoute for one entry of `spec.http`; `inDelegate` is true inside a VirtualService without hosts. */
export function validateHTTPRoute(v: Sink, path: string, route: Obj, inDelegate: boolean): void {
  const type: RouteType = inDelegate ? 'delegate' : has(route, 'delegate') ? 'root' : 'independent';
  validateConflicts(v, path, route, type);
  validateMatchRequests(v, path, route, type === 'independent');
  validateHeaderOperations(v, `${path}.headers`, msg(route, 'headers'), authorityOperationNameError);
  validateCORS(v, `${path}.corsPolicy`, msg(route, 'corsPolicy'));
  validateFault(v, `${path}.fault`, msg(route, 'fault'));

  const mirrorPercent = wrapperNumber(route, 'mirrorPercent');
  if (mirrorPercent !== undefined) {
    if (mirrorPercent > 100) {
      v.error(
        `${path}.mirrorPercent`,
        `mirror_percent must have a max value of 100 (it has ${mirrorPercent})`,
      );
    }
    v.warn(
      `${path}.mirrorPercent`,
      'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead',
    );
  }
  const mirrorPercentage = msg(route, 'mirrorPercentage');
  if (mirrorPercentage) {
    const value = num(mirrorPercentage, 'value');
    if (value > 100) {
      v.error(
        `${path}.mirrorPercentage.value`,
        `mirror_percentage must have a max value of 100 (it has ${value.toFixed(6)})`,
      );
    }
    if (value < 0) {
      v.error(
        `${path}.mirrorPercentage.value`,
        `mirror_percentage must have a min value of 0 (it has ${value.toFixed(6)})`,
      );
    }
  }
  validateDestination(v, `${path}.mirror`, msg(route, 'mirror'));

  const redirect = msg(route, 'redirect');
  const redirectProblem = redirect ? redirectError(redirect) : undefined;
  if (redirectProblem) v.error(`${path}.redirect${redirectProblem[0]}`, redirectProblem[1]);
  validateDirectResponse(v, `${path}.directResponse`, msg(route, 'directResponse'));
  validateRetries(v, `${path}.retries`, msg(route, 'retries'));
  const rewrite = msg(route, 'rewrite');
  if (rewrite && str(rewrite, 'uri') === '' && str(rewrite, 'authority') === '') {
    v.error(`${path}.rewrite`, 'rewrite must specify URI, authority, or both');
  }
  validateAuthorityRewrite(v, path, route);
  validateHTTPRouteDestinations(v, `${path}.route`, list(route, 'route'));
  if (has(route, 'timeout')) checkDuration(v, `${path}.timeout`, field(route, 'timeout'));
}
