/**
 * Envoy's matchers (envoy.type.matcher.v3.StringMatcher, config.route.v3.HeaderMatcher and
 * QueryParameterMatcher) compiled once per config update into plain predicates, so no request compiles a
 * regex. Regexes use RE2 semantics (re2js) and must match the whole value, as Envoy's safe_regex does.
 */
import { RE2JS } from 're2js';
import { ConfigError } from './errors.js';
import type { JsonObject } from './json.js';
import { bool, isRecord, num, record, str } from './json.js';

export type StringPredicate = (value: string) => boolean;

/** Compiles an RE2 pattern; a pattern RE2 rejects makes the whole config invalid, as Envoy NACKs it. */
export function compileRegex(pattern: string, where: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new ConfigError(`${where}: invalid regex '${pattern}': ${(err as Error).message}`);
  }
}

function regexOf(v: unknown): string | undefined {
  return str(record(v)?.['regex']);
}

/** A StringMatcher; undefined when it names no supported match (callers then treat it as "any"). */
export function compileStringMatcher(m: JsonObject, where: string): StringPredicate | undefined {
  const ignoreCase = bool(m['ignoreCase']) === true;
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  const exact = str(m['exact']);
  if (exact !== undefined) {
    const want = norm(exact);
    return (v) => norm(v) === want;
  }
  const prefix = str(m['prefix']);
  if (prefix !== undefined) {
    const want = norm(prefix);
    return (v) => norm(v).startsWith(want);
  }
  const suffix = str(m['suffix']);
  if (suffix !== undefined) {
    const want = norm(suffix);
    return (v) => norm(v).endsWith(want);
  }
  const contains = str(m['contains']);
  if (contains !== undefined) {
    const want = norm(contains);
    return (v) => norm(v).includes(want);
  }
  const regex = regexOf(m['safeRegex']);
  if (regex !== undefined) {
    const re = compileRegex(regex, where);
    return (v) => re.matches(v);
  }
  return undefined;
}

/** Request headers as Node gives them: lower-case names, repeated values as arrays. */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** Every value of a header joined with `,`, as Envoy's getAllOfHeaderAsString does; undefined when absent. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** What route matching reads from a request. */
export interface MatchInput {
  headers: HeaderBag;
  method: string;
  /** The full `:path`, query included. */
  path: string;
  authority: string;
  scheme: string;
}

function pseudoOrHeader(input: MatchInput, name: string): string | undefined {
  if (name.startsWith(':')) {
    if (name === ':method') return input.method;
    if (name === ':path') return input.path;
    if (name === ':authority' || name === ':host') return input.authority;
    if (name === ':scheme') return input.scheme;
    return undefined;
  }
  return headerValue(input.headers, name);
}

export type HeaderPredicate = (input: MatchInput) => boolean;

/**
 * A route HeaderMatcher (Envoy 1.25 semantics): a missing header fails every match type except an
 * inverted present_match; present_match compares presence; the others compare the value, then invert.
 * Pseudo-headers `:authority`, `:method`, `:path`, `:scheme` are looked up in the bag under those names.
 */
export function compileHeaderMatcher(m: JsonObject, where: string): HeaderPredicate {
  const name = (str(m['name']) ?? '').toLowerCase();
  const invert = bool(m['invertMatch']) === true;
  const missingAsEmpty = bool(m['treatMissingHeaderAsEmpty']) === true;
  let valuePredicate: StringPredicate | undefined;
  let present: boolean | undefined;
  if (isRecord(m['stringMatch'])) valuePredicate = compileStringMatcher(m['stringMatch'], where);
  else if (typeof m['exactMatch'] === 'string')
    valuePredicate = compileStringMatcher({ exact: m['exactMatch'] }, where);
  else if (typeof m['prefixMatch'] === 'string')
    valuePredicate = compileStringMatcher({ prefix: m['prefixMatch'] }, where);
  else if (typeof m['suffixMatch'] === 'string')
    valuePredicate = compileStringMatcher({ suffix: m['suffixMatch'] }, where);
  else if (typeof m['containsMatch'] === 'string')
    valuePredicate = compileStringMatcher({ contains: m['containsMatch'] }, where);
  else if (isRecord(m['safeRegexMatch']))
    valuePredicate = compileStringMatcher({ safeRegex: m['safeRegexMatch'] }, where);
  else if (isRecord(m['rangeMatch'])) {
    const start = num(m['rangeMatch']['start']) ?? -Infinity;
    const end = num(m['rangeMatch']['end']) ?? Infinity;
    valuePredicate = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  } else if (typeof m['presentMatch'] === 'boolean') present = m['presentMatch'];
  else present = true; // no match specifier: the header must be present
  return (input) => {
    let value = pseudoOrHeader(input, name);
    if (value === undefined) {
      if (!missingAsEmpty) return invert && present !== undefined;
      value = '';
    }
    const matched = present !== undefined ? present : valuePredicate ? valuePredicate(value) : true;
    return matched !== invert;
  };
}

/** Query parameters by name, first value wins, values not percent-decoded (Envoy's parseQueryString). */
export type QueryParams = Map<string, string>;

export function parseQuery(query: string): QueryParams {
  const out: QueryParams = new Map();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

export type QueryPredicate = (query: QueryParams) => boolean;

/** A QueryParameterMatcher: compares the first value of the parameter; an absent parameter never matches. */
export function compileQueryMatcher(m: JsonObject, where: string): QueryPredicate {
  const name = str(m['name']) ?? '';
  const predicate = isRecord(m['stringMatch']) ? compileStringMatcher(m['stringMatch'], where) : undefined;
  return (query) => {
    const value = query.get(name);
    if (value === undefined) return false;
    if (m['presentMatch'] === true || !predicate) return true;
    return predicate(value);
  };
}
