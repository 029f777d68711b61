/**
 * One AuthorizationPolicy rule as an Envoy RBAC `Policy`, the way Istio 1.17's authz model builds it
 * (pilot/pkg/security/authz/model: model.go, generator.go, permission.go, principal.go; matcher/*.go):
 *
 * - `from` sources and `when` conditions on the caller become principals, `to` operations and `when`
 *   conditions on the destination become permissions; each source/operation is one AND of its fields (list
 *   values ORed, `notX` as a NOT of the OR), one entry per source/operation, `any` when empty.
 * - Field order follows Istio's insertFront/appendLast: principals, requestPrincipals, namespaces,
 *   remoteIpBlocks, ipBlocks, then `when`; hosts, methods, paths, ports, then `when`.
 * - HTTP-only fields on a TCP chain are an error: an ALLOW rule is then dropped (a smaller allow), a
 *   DENY/AUDIT rule just loses that value (a wider deny).
 */
import { goNetipAddrError, goNetipPrefixError } from '../../api/index.js';
import type { Json } from './clusters.js';
import { isRecord, strings } from './listener-filters.js';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** The dynamic-metadata namespace RequestAuthentication results live in (security/model AuthnFilterName). */
export const AUTHN_FILTER_NAME = 'istio_authn';
const SPIFFE_PREFIX = 'spiffe://';
const PEER_PRINCIPAL_FILTER_STATE = 'io.istio.peer_principal';

const ATTR = {
  requestHeader: 'request.headers',
  srcIP: 'source.ip',
  remoteIP: 'remote.ip',
  srcNamespace: 'source.namespace',
  srcPrincipal: 'source.principal',
  requestPrincipal: 'request.auth.principal',
  requestAudiences: 'request.auth.audiences',
  requestPresenter: 'request.auth.presenter',
  requestClaims: 'request.auth.claims',
  destIP: 'destination.ip',
  destPort: 'destination.port',
  connSNI: 'connection.sni',
  envoyFilter: 'experimental.envoy.filters.',
} as const;

const METHOD_HEADER = ':method';
const HOST_HEADER = ':authority';
const PATH_KEY = 'path-matcher';

export class AuthzRuleError extends Error {}

export interface GenerateOptions {
  forTCP: boolean;
  /** Pre-1.17 proxies match peers with `authenticated`; newer ones read istio_authn's filter state. */
  useAuthenticated: boolean;
  action: RbacAction;
  /** The mesh trust domain followed by its aliases (trustdomain.Bundle). */
  trustDomains: string[];
}

type Generated = Json | undefined;

interface Generator {
  permission?(key: string, value: string, o: GenerateOptions): Generated;
  principal?(key: string, value: string, o: GenerateOptions): Generated;
}

interface ModelRule {
  key: string;
  values: string[];
  notValues: string[];
  g: Generator;
}

// ---- matchers (matcher/string.go, header.go, metadata.go) ----

function regexMatcher(regex: string): Json {
  return { safeRegex: { regex } };
}

/** StringMatcherWithPrefix: `*` → `.+`, `*x` → suffix, `x*` → prefix, else exact (prefix prepended). */
export function stringMatcher(v: string, prefix = ''): Json {
  if (v === '*') return regexMatcher('.+');
  if (v.startsWith('*')) {
    return prefix === '' ? { suffix: v.slice(1) } : regexMatcher(`${prefix}.*${v.slice(1)}`);
  }
  if (v.endsWith('*')) return { prefix: prefix + v.slice(0, -1) };
  return { exact: prefix + v };
}

function headerMatcher(name: string, v: string): Json {
  if (v === '*') return { name, presentMatch: true };
  if (v.startsWith('*')) return { name, suffixMatch: v.slice(1) };
  if (v.endsWith('*')) return { name, prefixMatch: v.slice(0, -1) };
  return { name, exactMatch: v };
}

/** HostMatcher: hosts compare case-insensitively. */
function hostMatcher(v: string): Json {
  if (v === '*') return { name: HOST_HEADER, presentMatch: true };
  if (v.startsWith('*')) return { name: HOST_HEADER, stringMatch: { suffix: v.slice(1), ignoreCase: true } };
  if (v.endsWith('*'))
    return { name: HOST_HEADER, stringMatch: { prefix: v.slice(0, -1), ignoreCase: true } };
  return { name: HOST_HEADER, stringMatch: { exact: v, ignoreCase: true } };
}

function metadataStringMatcher(filter: string, key: string, m: Json): Json {
  return { filter, path: [{ key }], value: { stringMatch: m } };
}

function metadataListMatcher(filter: string, keys: string[], m: Json): Json {
  return {
    filter,
    path: keys.map((key) => ({ key })),
    value: { listMatch: { oneOf: { stringMatch: m } } },
  };
}

// ---- value parsing (networking/util AddrStrToCidrRange, authz/model/util.go) ----

/** A canonical IP as Go's netip.Addr.String() prints it (IPv6 compressed, lower case). */
function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** AddrStrToCidrRange: an address or prefix as a CidrRange, the address kept unmasked. */
export function cidrRangeOf(addr: string): Json {
  if (addr === '') throw new AuthzRuleError('empty address');
  if (addr.includes('/')) {
    const err = goNetipPrefixError(addr);
    if (err) throw new AuthzRuleError(err);
    const slash = addr.indexOf('/');
    return { addressPrefix: canonicalIp(addr.slice(0, slash)), prefixLen: Number(addr.slice(slash + 1)) };
  }
  const err = goNetipAddrError(addr);
  if (err) throw new AuthzRuleError(err);
  return { addressPrefix: canonicalIp(addr), prefixLen: addr.includes(':') ? 128 : 32 };
}

function portOf(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new AuthzRuleError(`invalid port ${v}`);
  return Number(v);
}

function nameInBrackets(s: string): string {
  if (!s.startsWith('[') || !s.endsWith(']')) {
    throw new AuthzRuleError(`expecting format [<NAME>], but found ${s}`);
  }
  return s.slice(1, -1);
}

/** extractNameInNestedBrackets: `[a][b]` → [a, b]; anything else must be one `[name]`. */
function namesInNestedBrackets(s: string): string[] {
  const out: string[] = [];
  let begin = 0;
  while (begin < s.length) {
    let end = -1;
    if (s[begin] === '[') {
      for (let i = begin + 1; i < s.length; i++) {
        if (s[i] === '[') break;
        if (s[i] === ']') {
          end = i;
          break;
        }
      }
    }
    if (end === -1) return [nameInBrackets(s)];
    out.push(s.slice(begin + 1, end));
    begin = end + 1;
  }
  return out;
}

function httpOnly(key: string, o: GenerateOptions): void {
  if (o.forTCP) throw new AuthzRuleError(`"${key}" is HTTP only`);
}

function authenticated(m: Json, o: GenerateOptions): Json {
  if (o.useAuthenticated) return { authenticated: { principalName: m } };
  return { filterState: { key: PEER_PRINCIPAL_FILTER_STATE, stringMatch: m } };
}

// ---- generators (generator.go) ----

const destIP: Generator = { permission: (_k, v) => ({ destinationIp: cidrRangeOf(v) }) };
const destPort: Generator = { permission: (_k, v) => ({ destinationPort: portOf(v) }) };
const connSNI: Generator = { permission: (_k, v) => ({ requestedServerName: stringMatcher(v) }) };
const envoyFilter: Generator = {
  permission: (key, v) => {
    const trimmed = key.slice('experimental.'.length).replace(/\]$/, '');
    const at = trimmed.indexOf('[');
    if (at < 0) throw new AuthzRuleError(`invalid key: ${key}`);
    const filter = trimmed.slice(0, at);
    const rest = trimmed.slice(at + 1);
    if (v.startsWith('[') && v.endsWith(']')) {
      return {
        metadata: metadataListMatcher(filter, [rest], stringMatcher(v.replace(/^[[\]]+|[[\]]+$/g, ''))),
      };
    }
    return { metadata: metadataStringMatcher(filter, rest, stringMatcher(v)) };
  },
};
const srcIP: Generator = { principal: (_k, v) => ({ directRemoteIp: cidrRangeOf(v) }) };
const remoteIP: Generator = { principal: (_k, v) => ({ remoteIp: cidrRangeOf(v) }) };
const srcNamespace: Generator = {
  principal: (_k, v, o) => authenticated(regexMatcher(`.*/ns/${v.replaceAll('*', '.*')}/.*`), o),
};
const srcPrincipal: Generator = {
  principal: (_k, v, o) => authenticated(stringMatcher(v, SPIFFE_PREFIX), o),
};
const requestPrincipal: Generator = {
  principal: (key, v, o) => {
    httpOnly(key, o);
    return { metadata: metadataStringMatcher(AUTHN_FILTER_NAME, key, stringMatcher(v)) };
  },
};
const requestHeader: Generator = {
  principal: (key, v, o) => {
    httpOnly(key, o);
    return { header: headerMatcher(nameInBrackets(key.slice(ATTR.requestHeader.length)), v) };
  },
};
const requestClaim: Generator = {
  principal: (key, v, o) => {
    httpOnly(key, o);
    const claims = namesInNestedBrackets(key.slice(ATTR.requestClaims.length));
    return {
      metadata: metadataListMatcher(AUTHN_FILTER_NAME, [ATTR.requestClaims, ...claims], stringMatcher(v)),
    };
  },
};
const host: Generator = {
  permission: (key, v, o) => {
    httpOnly(key, o);
    return { header: hostMatcher(v) };
  },
};
const path: Generator = {
  permission: (key, v, o) => {
    httpOnly(key, o);
    return { urlPath: { path: stringMatcher(v) } };
  },
};
const method: Generator = {
  permission: (key, v, o) => {
    httpOnly(key, o);
    return { header: headerMatcher(METHOD_HEADER, v) };
  },
};

// ---- trust domain aliases (security/trustdomain) ----

function tdPatternMatch(a: string, list: string[]): boolean {
  const prefix = (s: string, p: string): boolean => p.endsWith('*') && s.startsWith(p.slice(0, -1));
  const suffix = (s: string, p: string): boolean => p.startsWith('*') && s.endsWith(p.slice(1));
  return list.some(
    (s) => a === s || s === '*' || prefix(a, s) || prefix(s, a) || suffix(a, s) || suffix(s, a),
  );
}

/** Bundle.ReplaceTrustDomainAliases: a `<td>/ns/<ns>/sa/<sa>` principal once per trust domain and alias. */
export function withTrustDomainAliases(principals: string[], trustDomains: string[]): string[] {
  const out: string[] = [];
  for (const p of principals) {
    const parts = p.split('/');
    if (parts.length !== 5 || parts[0] === '*') {
      out.push(p);
      continue;
    }
    const td = parts[0] ?? '';
    if (!(tdPatternMatch(td, trustDomains) || td === 'cluster.local')) {
      out.push(p);
      continue;
    }
    const expanded: string[] = [];
    for (const domain of trustDomains) {
      const next =
        td.startsWith('*') && domain.endsWith(td.slice(1)) ? p : [domain, ...parts.slice(1)].join('/');
      if (!expanded.includes(next)) expanded.push(next);
    }
    out.push(...expanded);
  }
  return out;
}

// ---- the model (model.go) ----

function ruleOf(g: Generator, key: string, values: unknown, notValues: unknown): ModelRule | undefined {
  const v = strings(values);
  const nv = strings(notValues);
  if (v.length === 0 && nv.length === 0) return undefined;
  return { key, values: v, notValues: nv, g };
}

function principalGeneratorFor(key: string): Generator | undefined {
  if (key === ATTR.srcIP) return srcIP;
  if (key === ATTR.remoteIP) return remoteIP;
  if (key === ATTR.srcNamespace) return srcNamespace;
  if (key === ATTR.srcPrincipal) return srcPrincipal;
  if (key === ATTR.requestPrincipal || key === ATTR.requestAudiences || key === ATTR.requestPresenter) {
    return requestPrincipal;
  }
  if (key.startsWith(ATTR.requestHeader)) return requestHeader;
  if (key.startsWith(ATTR.requestClaims)) return requestClaim;
  return undefined;
}

function permissionGeneratorFor(key: string): Generator | undefined {
  if (key === ATTR.destIP) return destIP;
  if (key === ATTR.destPort) return destPort;
  if (key === ATTR.connSNI) return connSNI;
  if (key.startsWith(ATTR.envoyFilter)) return envoyFilter;
  return undefined;
}

interface Model {
  permissions: ModelRule[][];
  principals: ModelRule[][];
}

/** model.New: throws AuthzRuleError for an unknown `when` key (the rule is then skipped). */
export function buildModel(rule: Record<string, unknown>): Model {
  const basePermission: ModelRule[] = [];
  const basePrincipal: ModelRule[] = [];
  for (const when of Array.isArray(rule['when']) ? rule['when'] : []) {
    if (!isRecord(when)) continue;
    const key = typeof when['key'] === 'string' ? when['key'] : '';
    const pg = permissionGeneratorFor(key);
    const sg = pg ? undefined : principalGeneratorFor(key);
    if (!pg && !sg) throw new AuthzRuleError(`unknown attribute ${key}`);
    const r = ruleOf((pg ?? sg) as Generator, key, when['values'], when['notValues']);
    if (r) (pg ? basePermission : basePrincipal).push(r);
  }
  const model: Model = { permissions: [], principals: [] };
  const from = Array.isArray(rule['from']) ? rule['from'] : [];
  for (const f of from) {
    const merged = [...basePrincipal];
    const s = isRecord(f) && isRecord(f['source']) ? f['source'] : undefined;
    if (s) {
      const front = [
        ruleOf(srcPrincipal, ATTR.srcPrincipal, s['principals'], s['notPrincipals']),
        ruleOf(requestPrincipal, ATTR.requestPrincipal, s['requestPrincipals'], s['notRequestPrincipals']),
        ruleOf(srcNamespace, ATTR.srcNamespace, s['namespaces'], s['notNamespaces']),
        ruleOf(remoteIP, ATTR.remoteIP, s['remoteIpBlocks'], s['notRemoteIpBlocks']),
        ruleOf(srcIP, ATTR.srcIP, s['ipBlocks'], s['notIpBlocks']),
      ].filter((r): r is ModelRule => r !== undefined);
      merged.unshift(...front);
    }
    model.principals.push(merged);
  }
  if (from.length === 0) model.principals.push(basePrincipal);
  const to = Array.isArray(rule['to']) ? rule['to'] : [];
  for (const t of to) {
    const merged = [...basePermission];
    const op = isRecord(t) && isRecord(t['operation']) ? t['operation'] : undefined;
    if (op) {
      const front = [
        ruleOf(host, HOST_HEADER, op['hosts'], op['notHosts']),
        ruleOf(method, METHOD_HEADER, op['methods'], op['notMethods']),
        ruleOf(path, PATH_KEY, op['paths'], op['notPaths']),
        ruleOf(destPort, ATTR.destPort, op['ports'], op['notPorts']),
      ].filter((r): r is ModelRule => r !== undefined);
      merged.unshift(...front);
    }
    model.permissions.push(merged);
  }
  if (to.length === 0) model.permissions.push(basePermission);
  return model;
}

/** One value through a generator; errors drop the rule for ALLOW and the value for DENY/AUDIT (checkError). */
function generateOne(
  r: ModelRule,
  value: string,
  kind: 'permission' | 'principal',
  o: GenerateOptions,
): Generated {
  try {
    const fn = r.g[kind];
    if (!fn) throw new AuthzRuleError('unimplemented');
    return fn(r.key, value, o);
  } catch (err) {
    if (o.action === 'ALLOW') throw err;
    return undefined;
  }
}

function generateRule(r: ModelRule, kind: 'permission' | 'principal', o: GenerateOptions): Json[] {
  const orKey = kind === 'permission' ? 'orRules' : 'orIds';
  const setKey = kind === 'permission' ? 'rules' : 'ids';
  const notKey = kind === 'permission' ? 'notRule' : 'notId';
  let values = r.values;
  let notValues = r.notValues;
  if (kind === 'principal' && r.key === ATTR.srcPrincipal) {
    values = withTrustDomainAliases(values, o.trustDomains);
    notValues = withTrustDomainAliases(notValues, o.trustDomains);
  }
  const out: Json[] = [];
  const or = values.map((v) => generateOne(r, v, kind, o)).filter((p): p is Json => p !== undefined);
  if (or.length > 0) out.push({ [orKey]: { [setKey]: or } });
  const notOr = notValues.map((v) => generateOne(r, v, kind, o)).filter((p): p is Json => p !== undefined);
  if (notOr.length > 0) out.push({ [notKey]: { [orKey]: { [setKey]: notOr } } });
  return out;
}

function generateList(rules: ModelRule[], kind: 'permission' | 'principal', o: GenerateOptions): Json {
  const and = rules.flatMap((r) => generateRule(r, kind, o));
  if (and.length === 0) and.push({ any: true });
  return kind === 'permission' ? { andRules: { rules: and } } : { andIds: { ids: and } };
}

/** Model.Generate: the RBAC Policy, or an AuthzRuleError when an ALLOW rule cannot be generated. */
export function generatePolicy(model: Model, o: GenerateOptions): Json {
  const permissions = model.permissions.map((rl) => generateList(rl, 'permission', o));
  if (permissions.length === 0) throw new AuthzRuleError('must have at least 1 permission');
  const principals = model.principals.map((rl) => generateList(rl, 'principal', o));
  if (principals.length === 0) throw new AuthzRuleError('must have at least 1 principal');
  return { permissions, principals };
}

/** builder.rbacPolicyMatchNever: what a policy without rules becomes. */
export function policyMatchNever(): Json {
  return {
    permissions: [{ notRule: { any: true } }],
    principals: [{ notId: { any: true } }],
  };
}
