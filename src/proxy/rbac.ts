/**
 * Envoy's role-based access control (envoy.config.rbac.v3, the `envoy.filters.http.rbac` and
 * `envoy.filters.network.rbac` filters) for skiff's data plane: a filter's typed config is compiled once
 * per config update into predicates, then evaluated per request (HTTP) or per connection (TCP).
 *
 * Semantics, as Envoy 1.25 has them:
 * - policies are tried in name order; the first whose permissions AND principals both match is the
 *   effective policy (any permission, any principal);
 * - ALLOW allows when a policy matched; DENY denies when one matched; LOG allows always and marks the
 *   request (`access_log_hint`) when one matched; no `rules` at all allows;
 * - shadow rules are evaluated the same way but only reported (dynamic metadata), never enforced;
 * - HTTP-only matchers (headers, url_path) never match on a TCP connection (no headers).
 *
 * A config Envoy would reject (a missing rule/identifier, a bad CIDR or regex, an unknown action, the
 * unsupported `matcher` / `condition` forms) throws ConfigError naming the field, so the proxy NACKs.
 */
import { ConfigError } from './errors.js';
import type { JsonObject } from './json.js';
import { isRecord, num, records, str, unwrap } from './json.js';
import type { HeaderBag, StringPredicate } from './matchers.js';
import { compileHeaderMatcher, compileStringMatcher } from './matchers.js';

export const TYPE_HTTP_RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const TYPE_NETWORK_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

/** What RBAC reads from a request or connection. */
export interface RbacAttributes {
  /** The downstream connection's peer (Envoy's direct remote address). */
  directRemoteAddress?: string;
  directRemotePort?: number;
  /** The client address after XFF / proxy protocol (Envoy's remote address); defaults to the direct one. */
  remoteAddress?: string;
  /** The local (destination) address and port the connection came in on. */
  destinationAddress?: string;
  destinationPort?: number;
  /** The TLS SNI the client sent ('' or undefined without one). */
  sni?: string;
  /** The peer certificate's URI SAN (the SPIFFE principal), when the connection is mTLS. */
  peerPrincipal?: string;
  /** More of the peer certificate, when known; `peerPrincipal` counts as a URI SAN. */
  peerCertificate?: { uriSans?: string[]; dnsSans?: string[]; subject?: string };
  /** Request headers, lower-case names, with `:authority`, `:method`, `:path`; absent for TCP. */
  headers?: HeaderBag;
  /** Dynamic metadata by filter name (`istio_authn` carries request principals and JWT claims). */
  dynamicMetadata?: Record<string, Record<string, unknown>>;
  /** Filter state strings; `io.istio.peer_principal` defaults to `peerPrincipal`. */
  filterState?: Record<string, string>;
}

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

type Predicate = (a: RbacAttributes) => boolean;

interface CompiledPolicy {
  name: string;
  matches: Predicate;
}

interface CompiledRules {
  action: RbacAction;
  policies: CompiledPolicy[];
}

export interface CompiledRbac {
  /** Absent: nothing enforced (only shadow rules, or an empty config). */
  rules?: CompiledRules;
  shadowRules?: CompiledRules;
  shadowRulesStatPrefix: string;
  /** The network filter's stat prefix (`tcp.` in Istio); '' for HTTP. */
  statPrefix: string;
}

export interface RbacDecision {
  allowed: boolean;
  /** The enforced rules' effective policy: the one that allowed (ALLOW), denied (DENY) or matched (LOG). */
  matchedPolicy?: string;
  /** The shadow rules' effective policy, when one matched. */
  shadowMatched?: string;
  /** The shadow engine's verdict, when there are shadow rules. */
  shadowResult?: 'allowed' | 'denied';
  /** LOG action: whether the request should be access-logged (Envoy's `access_log_hint`). */
  logHint?: boolean;
}

// ---- addresses ----

function ipv4Bytes(ip: string): number[] | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

function ipv6Bytes(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      const n = parseInt(g, 16);
      out.push(n >> 8, n & 0xff);
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  let bytes: number[];
  if (halves.length === 2) {
    const fill = 16 - head.length - rest.length;
    if (fill < 0) return undefined;
    bytes = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else bytes = head;
  if (bytes.length !== 16) return undefined;
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** An IP's bytes; IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as IPv4, as Envoy does. */
export function ipBytes(ip: string | undefined): number[] | undefined {
  if (ip === undefined || ip === '') return undefined;
  const v4 = ipv4Bytes(ip);
  if (v4) return v4;
  const v6 = ipv6Bytes(ip.replace(/^\[|\]$/g, ''));
  if (v6 && v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return v6.slice(12);
  return v6;
}

/** A CidrRange as a predicate on an address string; throws ConfigError for a bad prefix. */
export function compileCidr(range: unknown, where: string): (ip: string | undefined) => boolean {
  if (!isRecord(range)) throw new ConfigError(`${where}: CidrRange must be an object`);
  const prefix = str(range['addressPrefix']) ?? '';
  const base = ipBytes(prefix);
  if (!base) throw new ConfigError(`${where}.addressPrefix: malformed IP address: ${prefix}`);
  const lenRaw = unwrap(range['prefixLen']);
  const len = lenRaw === undefined ? 0 : num(lenRaw);
  if (len === undefined || !Number.isInteger(len) || len < 0) {
    throw new ConfigError(`${where}.prefixLen: invalid prefix length`);
  }
  // Envoy clamps an over-long prefix length to the address width.
  const bits = Math.min(len, base.length * 8);
  return (ip) => {
    const b = ipBytes(ip);
    if (!b || b.length !== base.length) return false;
    for (let i = 0; i < bits; i++) {
      const byte = i >> 3;
      const mask = 0x80 >> (i & 7);
      if (((b[byte] ?? 0) & mask) !== ((base[byte] ?? 0) & mask)) return false;
    }
    return true;
  };
}

// ---- matchers ----

function stringMatcher(m: unknown, where: string): StringPredicate {
  if (!isRecord(m)) throw new ConfigError(`${where}: StringMatcher must be an object`);
  for (const k of ['prefix', 'suffix', 'contains'] as const) {
    if (m[k] === '') throw new ConfigError(`${where}.${k}: value length must be at least 1 characters`);
  }
  const p = compileStringMatcher(m, where);
  if (!p) throw new ConfigError(`${where}: StringMatcher has no match pattern`);
  return p;
}

/** The path without query and fragment (PathUtil::removeQueryAndFragment). */
function urlPathOf(a: RbacAttributes): string | undefined {
  const path = a.headers?.[':path'];
  const p = Array.isArray(path) ? path[0] : path;
  if (p === undefined) return undefined;
  const cut = p.search(/[?#]/);
  return cut < 0 ? p : p.slice(0, cut);
}

function compilePathMatcher(m: unknown, where: string): Predicate {
  if (!isRecord(m) || !isRecord(m['path'])) throw new ConfigError(`${where}.path: PathMatcher needs a path`);
  const match = stringMatcher(m['path'], `${where}.path`);
  return (a) => {
    const p = urlPathOf(a);
    return p !== undefined && match(p);
  };
}

function compileHeader(m: unknown, where: string): Predicate {
  if (!isRecord(m)) throw new ConfigError(`${where}: HeaderMatcher must be an object`);
  const name = str(m['name']) ?? '';
  if (name === '') throw new ConfigError(`${where}.name: value length must be at least 1 characters`);
  const match = compileHeaderMatcher(m, where);
  return (a) => {
    if (!a.headers) return false; // a TCP connection has no headers
    const h = a.headers;
    const authority = h[':authority'] ?? h['host'];
    return match({
      headers: h,
      method: String(h[':method'] ?? ''),
      path: String(h[':path'] ?? ''),
      authority: String(Array.isArray(authority) ? authority[0] : (authority ?? '')),
      scheme: String(h[':scheme'] ?? ''),
    });
  };
}

type ValuePredicate = (v: unknown) => boolean;

function compileValueMatcher(m: unknown, where: string): ValuePredicate {
  if (!isRecord(m)) throw new ConfigError(`${where}: ValueMatcher must be an object`);
  if (isRecord(m['stringMatch'])) {
    const s = stringMatcher(m['stringMatch'], `${where}.stringMatch`);
    return (v) => typeof v === 'string' && s(v);
  }
  if (isRecord(m['listMatch'])) {
    const one = m['listMatch']['oneOf'];
    if (!isRecord(one)) throw new ConfigError(`${where}.listMatch: oneOf is required`);
    const inner = compileValueMatcher(one, `${where}.listMatch.oneOf`);
    return (v) => Array.isArray(v) && v.some(inner);
  }
  if (m['presentMatch'] === true) return (v) => v !== undefined;
  if (typeof m['boolMatch'] === 'boolean') {
    const want = m['boolMatch'];
    return (v) => v === want;
  }
  if (isRecord(m['doubleMatch'])) {
    const d = m['doubleMatch'];
    const exact = num(d['exact']);
    if (exact !== undefined) return (v) => v === exact;
    if (isRecord(d['range'])) {
      const start = num(d['range']['start']) ?? -Infinity;
      const end = num(d['range']['end']) ?? Infinity;
      return (v) => typeof v === 'number' && v >= start && v < end;
    }
    throw new ConfigError(`${where}.doubleMatch: no match pattern`);
  }
  if (isRecord(m['nullMatch'])) return (v) => v === null;
  if (isRecord(m['orMatch'])) {
    const list = records(m['orMatch']['valueMatchers']).map((x, i) =>
      compileValueMatcher(x, `${where}.orMatch.valueMatchers[${i}]`),
    );
    return (v) => list.some((p) => p(v));
  }
  throw new ConfigError(`${where}: ValueMatcher has no match pattern`);
}

/** A MetadataMatcher over the request's dynamic metadata. */
function compileMetadata(m: unknown, where: string): Predicate {
  if (!isRecord(m)) throw new ConfigError(`${where}: MetadataMatcher must be an object`);
  const filter = str(m['filter']) ?? '';
  if (filter === '') throw new ConfigError(`${where}.filter: value length must be at least 1 characters`);
  const path = records(m['path']).map((seg, i) => {
    const key = str(seg['key']);
    if (key === undefined || key === '') throw new ConfigError(`${where}.path[${i}].key: must be set`);
    return key;
  });
  if (path.length === 0) throw new ConfigError(`${where}.path: value must contain at least 1 item(s)`);
  const value = compileValueMatcher(m['value'], `${where}.value`);
  const invert = m['invert'] === true;
  return (a) => {
    let cur: unknown = a.dynamicMetadata?.[filter];
    for (const key of path) cur = isRecord(cur) ? cur[key] : undefined;
    const matched = cur !== undefined && value(cur);
    return matched !== invert;
  };
}

function peerSans(a: RbacAttributes): { uri: string[]; dns: string[]; subject?: string } | undefined {
  if (a.peerPrincipal === undefined && a.peerCertificate === undefined) return undefined;
  const uri = [...(a.peerCertificate?.uriSans ?? [])];
  if (a.peerPrincipal !== undefined && !uri.includes(a.peerPrincipal)) uri.unshift(a.peerPrincipal);
  const subject = a.peerCertificate?.subject;
  return { uri, dns: a.peerCertificate?.dnsSans ?? [], ...(subject !== undefined ? { subject } : {}) };
}

/** Principal.Authenticated: URI SANs, then DNS SANs, then the subject (AuthenticatedMatcher). */
function compileAuthenticated(m: unknown, where: string): Predicate {
  const name = isRecord(m) ? m['principalName'] : undefined;
  const match = isRecord(name) ? stringMatcher(name, `${where}.principalName`) : undefined;
  return (a) => {
    const peer = peerSans(a);
    if (!peer) return false; // not an authenticated (mTLS) connection
    if (!match) return true;
    if (peer.uri.length > 0) return peer.uri.some(match);
    if (peer.dns.length > 0) return peer.dns.some(match);
    return match(peer.subject ?? '');
  };
}

function compileFilterState(m: unknown, where: string): Predicate {
  if (!isRecord(m)) throw new ConfigError(`${where}: FilterStateMatcher must be an object`);
  const key = str(m['key']) ?? '';
  if (key === '') throw new ConfigError(`${where}.key: value length must be at least 1 characters`);
  if (!isRecord(m['stringMatch'])) throw new ConfigError(`${where}: FilterStateMatcher needs stringMatch`);
  const match = stringMatcher(m['stringMatch'], `${where}.stringMatch`);
  return (a) => {
    const v = a.filterState?.[key] ?? (key === 'io.istio.peer_principal' ? peerPrincipalOf(a) : undefined);
    return v !== undefined && match(v);
  };
}

function peerPrincipalOf(a: RbacAttributes): string | undefined {
  return a.peerPrincipal ?? a.peerCertificate?.uriSans?.[0];
}

// ---- permissions and principals ----

function compileSet(
  list: unknown,
  where: string,
  compileItem: (m: unknown, where: string) => Predicate,
): Predicate[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(`${where}: value must contain at least 1 item(s)`);
  }
  return list.map((x, i) => compileItem(x, `${where}[${i}]`));
}

function compilePermission(p: unknown, where: string): Predicate {
  if (!isRecord(p)) throw new ConfigError(`${where}: Permission must be an object`);
  if (isRecord(p['andRules'])) {
    const list = compileSet(p['andRules']['rules'], `${where}.andRules.rules`, compilePermission);
    return (a) => list.every((f) => f(a));
  }
  if (isRecord(p['orRules'])) {
    const list = compileSet(p['orRules']['rules'], `${where}.orRules.rules`, compilePermission);
    return (a) => list.some((f) => f(a));
  }
  if (p['any'] === true) return () => true;
  if (p['any'] === false) throw new ConfigError(`${where}.any: value must equal true`);
  if (isRecord(p['header'])) return compileHeader(p['header'], `${where}.header`);
  if (isRecord(p['urlPath'])) return compilePathMatcher(p['urlPath'], `${where}.urlPath`);
  if (isRecord(p['destinationIp'])) {
    const cidr = compileCidr(p['destinationIp'], `${where}.destinationIp`);
    return (a) => cidr(a.destinationAddress);
  }
  if (p['destinationPort'] !== undefined) {
    const port = num(p['destinationPort']);
    if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`${where}.destinationPort: value must be less than or equal to 65535`);
    }
    return (a) => a.destinationPort === port;
  }
  if (isRecord(p['destinationPortRange'])) {
    const start = num(p['destinationPortRange']['start']) ?? 0;
    const end = num(p['destinationPortRange']['end']) ?? 0;
    return (a) => a.destinationPort !== undefined && a.destinationPort >= start && a.destinationPort < end;
  }
  if (isRecord(p['metadata'])) return compileMetadata(p['metadata'], `${where}.metadata`);
  if (isRecord(p['notRule'])) {
    const inner = compilePermission(p['notRule'], `${where}.notRule`);
    return (a) => !inner(a);
  }
  if (isRecord(p['requestedServerName'])) {
    const match = stringMatcher(p['requestedServerName'], `${where}.requestedServerName`);
    return (a) => match(a.sni ?? '');
  }
  if (p['matcher'] !== undefined || p['uriTemplate'] !== undefined) {
    throw new ConfigError(`${where}: extension permission matchers are not supported`);
  }
  throw new ConfigError(`${where}: Permission has no rule set`);
}

function compilePrincipal(p: unknown, where: string): Predicate {
  if (!isRecord(p)) throw new ConfigError(`${where}: Principal must be an object`);
  if (isRecord(p['andIds'])) {
    const list = compileSet(p['andIds']['ids'], `${where}.andIds.ids`, compilePrincipal);
    return (a) => list.every((f) => f(a));
  }
  if (isRecord(p['orIds'])) {
    const list = compileSet(p['orIds']['ids'], `${where}.orIds.ids`, compilePrincipal);
    return (a) => list.some((f) => f(a));
  }
  if (p['any'] === true) return () => true;
  if (p['any'] === false) throw new ConfigError(`${where}.any: value must equal true`);
  if (p['authenticated'] !== undefined)
    return compileAuthenticated(p['authenticated'], `${where}.authenticated`);
  if (isRecord(p['sourceIp']) || isRecord(p['directRemoteIp'])) {
    const field = isRecord(p['sourceIp']) ? 'sourceIp' : 'directRemoteIp';
    const cidr = compileCidr(p[field], `${where}.${field}`);
    return (a) => cidr(a.directRemoteAddress);
  }
  if (isRecord(p['remoteIp'])) {
    const cidr = compileCidr(p['remoteIp'], `${where}.remoteIp`);
    return (a) => cidr(a.remoteAddress ?? a.directRemoteAddress);
  }
  if (isRecord(p['header'])) return compileHeader(p['header'], `${where}.header`);
  if (isRecord(p['urlPath'])) return compilePathMatcher(p['urlPath'], `${where}.urlPath`);
  if (isRecord(p['metadata'])) return compileMetadata(p['metadata'], `${where}.metadata`);
  if (isRecord(p['filterState'])) return compileFilterState(p['filterState'], `${where}.filterState`);
  if (isRecord(p['notId'])) {
    const inner = compilePrincipal(p['notId'], `${where}.notId`);
    return (a) => !inner(a);
  }
  throw new ConfigError(`${where}: Principal has no identifier set`);
}

function compilePolicy(name: string, p: unknown, where: string): CompiledPolicy {
  if (!isRecord(p)) throw new ConfigError(`${where}: Policy must be an object`);
  if (p['condition'] !== undefined || p['checkedCondition'] !== undefined) {
    throw new ConfigError(`${where}: CEL conditions are not supported`);
  }
  const permissions = compileSet(p['permissions'], `${where}.permissions`, compilePermission);
  const principals = compileSet(p['principals'], `${where}.principals`, compilePrincipal);
  return {
    name,
    matches: (a) => permissions.some((f) => f(a)) && principals.some((f) => f(a)),
  };
}

function compileRules(r: unknown, where: string): CompiledRules {
  if (!isRecord(r)) throw new ConfigError(`${where}: RBAC must be an object`);
  const actionRaw = r['action'] ?? 'ALLOW';
  const action: RbacAction | undefined =
    actionRaw === 'ALLOW' || actionRaw === 0
      ? 'ALLOW'
      : actionRaw === 'DENY' || actionRaw === 1
        ? 'DENY'
        : actionRaw === 'LOG' || actionRaw === 2
          ? 'LOG'
          : undefined;
  if (!action) throw new ConfigError(`${where}.action: invalid value ${JSON.stringify(actionRaw)}`);
  const policiesRaw = r['policies'] ?? {};
  if (!isRecord(policiesRaw)) throw new ConfigError(`${where}.policies: must be a map`);
  // Envoy keeps policies in a std::map: the first match in name order is the effective policy.
  const names = Object.keys(policiesRaw).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const policies = names.map((name) =>
    compilePolicy(name, policiesRaw[name], `${where}.policies[${JSON.stringify(name)}]`),
  );
  return { action, policies };
}

/**
 * Compiles an `envoy.filters.http.rbac` or `envoy.filters.network.rbac` typed config (proto3 JSON, with or
 * without `@type`). Throws ConfigError naming the field on config Envoy would reject.
 */
export function compileRbacFilter(typedConfig: unknown): CompiledRbac {
  if (!isRecord(typedConfig)) throw new ConfigError('rbac: typed config must be an object');
  const c: JsonObject = typedConfig;
  const type = c['@type'];
  if (type !== undefined && type !== TYPE_HTTP_RBAC && type !== TYPE_NETWORK_RBAC) {
    throw new ConfigError(`rbac: unexpected type ${String(type)}`);
  }
  if (c['matcher'] !== undefined || c['shadowMatcher'] !== undefined) {
    throw new ConfigError('rbac: the matcher API (matcher, shadowMatcher) is not supported');
  }
  const out: CompiledRbac = {
    shadowRulesStatPrefix: str(c['shadowRulesStatPrefix']) ?? '',
    statPrefix: str(c['statPrefix']) ?? '',
  };
  if (c['rules'] !== undefined) out.rules = compileRules(c['rules'], 'rules');
  if (c['shadowRules'] !== undefined) out.shadowRules = compileRules(c['shadowRules'], 'shadowRules');
  if (type === TYPE_NETWORK_RBAC && out.statPrefix === '') {
    throw new ConfigError('statPrefix: value length must be at least 1 characters');
  }
  return out;
}

/** RoleBasedAccessControlEngineImpl::handleAction: (allowed, effective policy). */
function runEngine(rules: CompiledRules, a: RbacAttributes): { allowed: boolean; policy?: string } {
  const hit = rules.policies.find((p) => p.matches(a));
  const policy = hit?.name;
  const withPolicy = policy !== undefined ? { policy } : {};
  if (rules.action === 'ALLOW') return { allowed: hit !== undefined, ...withPolicy };
  if (rules.action === 'DENY') return { allowed: hit === undefined, ...withPolicy };
  return { allowed: true, ...withPolicy };
}

/** One request (or connection) through the filter. */
export function evaluateRbac(compiled: CompiledRbac, attrs: RbacAttributes): RbacDecision {
  const decision: RbacDecision = { allowed: true };
  if (compiled.shadowRules) {
    const shadow = runEngine(compiled.shadowRules, attrs);
    decision.shadowResult = shadow.allowed ? 'allowed' : 'denied';
    if (shadow.policy !== undefined) decision.shadowMatched = shadow.policy;
  }
  if (compiled.rules) {
    const result = runEngine(compiled.rules, attrs);
    decision.allowed = result.allowed;
    if (result.policy !== undefined) decision.matchedPolicy = result.policy;
    if (compiled.rules.action === 'LOG') decision.logHint = result.policy !== undefined;
  }
  return decision;
}

// ---- what the engine reports ----

/** The body of Envoy's RBAC 403. */
export const RBAC_DENIED_BODY = 'RBAC: access denied';
/** The HTTP status of a denied request, and Envoy's response flag for it (`RBAC`, long name). */
export const RBAC_DENIED_STATUS = 403;
export const RBAC_RESPONSE_FLAG = 'RBAC';
export const RBAC_RESPONSE_FLAG_LONG = 'RbacAccessDenied';
/** The network filter's close reason (connection termination details). */
export const RBAC_TCP_TERMINATION_DETAILS = 'rbac_access_denied_matched_policy';

/** `rbac_access_denied_matched_policy[<name>]`, or `[none]` when no policy matched (an ALLOW miss). */
export function rbacResponseCodeDetails(decision: RbacDecision): string {
  return `rbac_access_denied_matched_policy[${decision.matchedPolicy ?? 'none'}]`;
}

/**
 * The dynamic metadata Envoy's RBAC filter writes under `envoy.filters.http.rbac` (or
 * `envoy.filters.network.rbac`): shadow results with the shadow stat prefix, the enforced effective policy
 * for DENY/ALLOW, and `access_log_hint` for LOG.
 */
export function rbacDynamicMetadata(compiled: CompiledRbac, decision: RbacDecision): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = compiled.shadowRulesStatPrefix;
  if (decision.shadowMatched !== undefined)
    out[`${prefix}shadow_effective_policy_id`] = decision.shadowMatched;
  if (decision.shadowResult !== undefined) out[`${prefix}shadow_engine_result`] = decision.shadowResult;
  if (decision.logHint !== undefined) out['access_log_hint'] = decision.logHint;
  return out;
}
